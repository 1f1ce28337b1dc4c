"""The conversation's entry point: escape words first, then events, then the fallback."""

from __future__ import annotations

from typing import Any

from handlers import commands, events
from handlers.messages import NO_REPLY, Inbound, Reply
from handlers.router import Context, Router

root = Router("root")
root.include(commands.router)  # escape words are matched before any flow step
root.include(events.router)


def dispatch(
    inbound: Inbound, state: dict[str, Any], now: int, default_lang: str = "zh"
) -> Reply:
    """Answer one inbound message, updating the reporter's `state` in place."""
    ctx = Context(inbound, state, now, default_lang)
    found = root.resolve(inbound)
    if found is None:
        # Events nobody handles (VIEW, LOCATION reports) get WeChat's "no reply".
        return NO_REPLY if inbound.kind == "event" else ctx.say("fallback")
    handle, lang = found
    if lang:
        state["lang"] = lang
    return handle(ctx)
