"""Command words that work at any point of a conversation."""

from __future__ import annotations

from handlers.messages import Reply
from handlers.router import Context, Router

router = Router("commands")


@router.word("帮助", "help")
def help_(ctx: Context) -> Reply:
    """Explains what the tip line does and which words work."""
    return ctx.say("help")
