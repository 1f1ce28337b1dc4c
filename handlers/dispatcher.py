"""The conversation's entry point: limits, draft expiry, then the routes in order.

Escape words come first (help, cancel and the other words work at any step), then
events, then the answer to the open draft's question, then a quick report (those two are
the report router's fallbacks, tried after every router's own routes), then a hint. The
draft is read from the state into a `Draft` before the routes and written back after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import commands, events, followup, report, status
from handlers.context import Context, Policy
from handlers.draft import Draft
from handlers.messages import NO_REPLY, Inbound, Reply
from handlers.router import Router
from handlers.store import DRAFT_KEY, DRAFT_SWEPT_KEY, Store
from handlers.texts import duration
from handlers.words import script_language
from triage.vocabulary import new_receipt

root = Router("root")
root.include(commands.router)
# Before the report: a follow-up's messages are not a new quick report.
root.include(followup.router)
root.include(report.router)
root.include(status.router)
root.include(events.router)


def dispatch(
    inbound: Inbound,
    state: dict[str, Any],
    now: int,
    store: Store,
    policy: Policy | None = None,
    default_lang: str = "zh",
    receipts: Callable[[], str] = new_receipt,
) -> Reply:
    """Answer one inbound message, updating the reporter's `state` in place."""
    ctx = Context(inbound, state, now, store, policy or Policy(), default_lang, receipts,
                  draft=Draft.from_state(state[DRAFT_KEY]) if DRAFT_KEY in state else None)
    if inbound.kind != "event" and _flooding(ctx):
        return ctx.say("flood")
    expired = _expire_draft(ctx)
    found = root.resolve(ctx)
    lang = found[1] if found else ""
    if not lang and ctx.draft is None and (found is None or found[0].fallback):
        # No word decided, and no report is under way: the message's own script does
        # (hello gets English, 你好 Chinese); inside a report an answer such as a
        # Latin name or a URL does not switch its language.
        lang = language_of(inbound)
    if lang:
        state["lang"] = lang
    if found is None:
        # Events nobody handles (VIEW, LOCATION reports) get WeChat's "no reply".
        reply = NO_REPLY if inbound.kind == "event" else ctx.say("fallback")
    else:
        reply = found[0].handle(ctx)
    if ctx.draft is None:
        state.pop(DRAFT_KEY, None)
    else:
        ctx.draft.updated_at = now
        state[DRAFT_KEY] = ctx.draft.to_state()
    if expired:  # said in the language just decided
        notice = ctx.t("draft_expired", duration=duration(ctx.lang, ctx.policy.draft_ttl))
        return Reply(f"{notice}\n{reply.text}" if reply.text else notice)
    return reply


def language_of(inbound: Inbound) -> str:
    """The language a text's script says ("" if it says none), identifiers left out."""
    if inbound.kind != "text":
        return ""
    return script_language(inbound.text, lambda: (
        i.raw for i in report.found_in(inbound) if i.kind != "name"))


def _flooding(ctx: Context) -> bool:
    """Count the reporter's messages per minute; True once over the limit."""
    start, count = (int(n) for n in ctx.state.get("rate", (ctx.now, 0)))
    if ctx.now - start >= 60:
        start, count = ctx.now, 0
    ctx.state["rate"] = [start, count + 1]
    return count + 1 > ctx.policy.messages_per_minute


def _expire_draft(ctx: Context) -> bool:
    """Drop a draft left longer than the TTL; True if the reporter is to be told.

    Housekeeping may have swept it already while the reporter was away: its mark says so.
    """
    draft = ctx.draft
    swept = ctx.state.pop(DRAFT_SWEPT_KEY, False)
    if draft is not None and ctx.now - draft.updated_at > ctx.policy.draft_ttl:
        ctx.store.discard_draft(draft.id)
        ctx.draft = None
    elif not swept or draft is not None:  # a draft begun since the sweep is news enough
        return False
    return True
