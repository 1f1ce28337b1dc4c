"""Answers to WeChat events: subscribing and menu clicks."""

from __future__ import annotations

from handlers.messages import NO_REPLY, Reply
from handlers.router import Context, Router

router = Router("events")


@router.event("subscribe")
def welcome(ctx: Context) -> Reply:
    """Welcomes a new follower: what to report, confidentiality, and no-money warning."""
    return ctx.say("welcome")


@router.event("click", key="HELP")
def help_click(ctx: Context) -> Reply:
    """Answers the HELP menu button."""
    return ctx.say("help")


@router.event("unsubscribe")
def goodbye(ctx: Context) -> Reply:
    """Forgets the conversation of someone who unfollowed (WeChat shows them nothing)."""
    ctx.state.clear()
    return NO_REPLY
