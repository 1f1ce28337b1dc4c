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
    notice = _expire_draft(ctx)
    found = root.resolve(ctx)
    if found is None:
        # Events nobody handles (VIEW, LOCATION reports) get WeChat's "no reply".
        reply = NO_REPLY if inbound.kind == "event" else ctx.say("fallback")
    else:
        handle, lang = found
        if lang:
            state["lang"] = lang
        reply = handle(ctx)
    if ctx.draft is None:
        state.pop(DRAFT_KEY, None)
    else:
        ctx.draft.updated_at = now
        state[DRAFT_KEY] = ctx.draft.to_state()
    if notice:
        return Reply(f"{notice}\n{reply.text}" if reply.text else notice)
    return reply


def _flooding(ctx: Context) -> bool:
    """Count the reporter's messages per minute; True once over the limit."""
    start, count = (int(n) for n in ctx.state.get("rate", (ctx.now, 0)))
    if ctx.now - start >= 60:
        start, count = ctx.now, 0
    ctx.state["rate"] = [start, count + 1]
    return count + 1 > ctx.policy.messages_per_minute


def _expire_draft(ctx: Context) -> str:
    """Drop a draft left longer than the TTL; return the notice to prepend, if any.

    Housekeeping may have swept it already while the reporter was away: its mark says so.
    """
    draft = ctx.draft
    swept = ctx.state.pop(DRAFT_SWEPT_KEY, False)
    if draft is not None and ctx.now - draft.updated_at > ctx.policy.draft_ttl:
        ctx.store.discard_draft(draft.id)
        ctx.draft = None
    elif not swept or draft is not None:  # a draft begun since the sweep is news enough
        return ""
    return ctx.t("draft_expired", hours=max(1, ctx.policy.draft_ttl // 3600))
