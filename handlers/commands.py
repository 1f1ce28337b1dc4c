"""Command words that work at any point of a conversation."""

from __future__ import annotations

from handlers import words
from handlers.context import Context
from handlers.messages import Reply
from handlers.report import question
from handlers.router import Router

router = Router("commands")


@router.word(words.HELP)
def help_(ctx: Context) -> Reply:
    """Explains what the tip line does and which words work, then repeats the question."""
    if ctx.draft is None:
        return ctx.say("help")
    return Reply(ctx.t("help") + "\n\n" + question(ctx, ctx.draft))
