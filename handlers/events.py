"""Answers to WeChat events: subscribing, unsubscribing, the help button."""

from __future__ import annotations

from handlers.context import Context
from handlers.messages import CONSENT_EVENT, NO_REPLY, Reply
from handlers.router import Router

router = Router("events")


@router.event("subscribe")
def welcome(ctx: Context) -> Reply:
    """Welcomes a new follower: what to report, confidentiality, and no-money warning."""
    return ctx.say("welcome")


@router.click("HELP")
def help_click(ctx: Context) -> Reply:
    """Answers the HELP menu button."""
    return ctx.say("help")


@router.event("unsubscribe")
def goodbye(ctx: Context) -> Reply:
    """Says nothing (WeChat shows an unfollower nothing); an open draft goes, with its evidence.

    Someone who unfollows will not finish it, and its photos and exact location are theirs.
    """
    if ctx.draft is not None:
        ctx.store.discard_draft(ctx.draft.id)
        ctx.draft = None
    return NO_REPLY


@router.event(CONSENT_EVENT)
def consent(ctx: Context) -> Reply:
    """Records a reporter's answer to the subscribe-message popup: any refusal stops pushes."""
    answers = [item.rpartition("=")[2] for item in ctx.inbound.event_key.split(";") if item]
    if answers:
        ctx.store.record_consent(ctx.inbound.sender, "reject" not in answers, ctx.now)
    return NO_REPLY
