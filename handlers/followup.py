"""After a report is filed: answering an investigator's question, 补充 RECEIPT, and 退订.

A reporter with a question pending (or who sent 补充 RECEIPT) has their next messages
(text, photos, links, voice, locations) appended to that report until 完成/done: a
history entry `reporter_reply` and evidence, fetched and read like any other. 退订/stop
ends pushes; 查询 keeps working.
"""

from __future__ import annotations

from handlers import words
from handlers.context import Context
from handlers.messages import Reply
from handlers.report import evidence_item
from handlers.router import Router
from handlers.store import REPLY_TO_KEY
from handlers.words import Typed
from triage.vocabulary import display_receipt, normalise_receipt

router = Router("followup")


@router.word(words.ADD, argument=True)
def start_reply(ctx: Context) -> Reply:
    """Starts adding messages to one of the reporter's own reports."""
    receipt = normalise_receipt(ctx.argument) if ctx.argument else ctx.store.pending_question(
        ctx.inbound.sender)
    if receipt is None:
        return ctx.say("status_bad_receipt")
    if ctx.store.status_of(ctx.inbound.sender, receipt) is None:
        return ctx.say("status_unknown")  # the same answer as for anyone else's receipt
    ctx.state[REPLY_TO_KEY] = receipt
    return Reply(ctx.t("reply_started", receipt=display_receipt(receipt)))


@router.word(words.STOP)
def stop(ctx: Context) -> Reply:
    """Stops status pushes to this reporter (their sealed contact is deleted)."""
    ctx.store.stop_pushes(ctx.inbound.sender, ctx.now)
    return ctx.say("stopped")


def _finishing(ctx: Context) -> bool:
    inbound = ctx.inbound
    return (ctx.draft is None and REPLY_TO_KEY in ctx.state and inbound.kind == "text"
            and Typed.of(inbound.text).match(words.DONE, argument=False) is not None)


@router.when(_finishing)
def finish_reply(ctx: Context) -> Reply:
    """Ends the follow-up: the report's questions count as answered."""
    receipt = ctx.state.pop(REPLY_TO_KEY)
    ctx.store.finish_reply(ctx.inbound.sender, receipt, ctx.now)
    return Reply(ctx.t("reply_done", receipt=display_receipt(receipt)))


def _replying(ctx: Context) -> bool:
    if ctx.draft is not None or ctx.inbound.kind == "event":
        return False
    if REPLY_TO_KEY not in ctx.state:
        pending = ctx.store.pending_question(ctx.inbound.sender)
        if pending is None:
            return False
        ctx.state[REPLY_TO_KEY] = pending
    return True


@router.fallback(_replying)
def add_reply(ctx: Context) -> Reply:
    """Appends the message to the report being answered."""
    receipt = ctx.state[REPLY_TO_KEY]
    item = evidence_item(ctx.inbound, ctx.now, ctx.policy.media_status)
    if not ctx.store.add_reply(ctx.inbound.sender, receipt, item, ctx.now):
        del ctx.state[REPLY_TO_KEY]  # the report is gone (purged)
        return ctx.say("status_unknown")
    return Reply(ctx.t("reply_added", receipt=display_receipt(receipt)))
