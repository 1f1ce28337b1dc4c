"""查询/status: a reporter's own reports, and one of them by receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from handlers import words
from handlers.context import Context
from handlers.messages import Reply
from handlers.router import Router
from handlers.store import ReportStatus
from triage.vocabulary import display_receipt as display
from triage.vocabulary import normalise_receipt as normalise
from triage.vocabulary import shown_receipt

router = Router("status")

RECENT = 5
# Reporters are in mainland China: dates are Beijing dates.
BEIJING = timezone(timedelta(hours=8))


@router.word(words.STATUS, argument=True)
def status(ctx: Context) -> Reply:
    """Shows one report by receipt, or the reporter's recent reports."""
    if not ctx.argument:
        return recent(ctx)
    receipt = normalise(ctx.argument)
    if receipt is None:
        return ctx.say("status_bad_receipt")
    return _one(ctx, receipt)


def _bare_receipt(ctx: Context) -> bool:
    # Inside a draft it is an answer: wx888-66666 is a WeChat ID of the receipt's shape.
    return (ctx.draft is None and ctx.inbound.kind == "text"
            and shown_receipt(ctx.inbound.text) is not None)


@router.when(_bare_receipt)
def status_of_bare_receipt(ctx: Context) -> Reply:
    """Shows one report when the message is just its receipt, written as it was shown."""
    return _one(ctx, shown_receipt(ctx.inbound.text) or "")


def _one(ctx: Context, receipt: str) -> Reply:
    found = ctx.store.status_of(ctx.inbound.sender, receipt)
    if found is None:
        # The same answer for a mistyped receipt and for someone else's: nothing leaks.
        return ctx.say("status_unknown")
    return Reply(ctx.t("status_one", receipt=display(found.receipt),
                       status=ctx.name(found.status), date=_date(found.updated_at)))


@router.click("MY_REPORTS")
def recent(ctx: Context) -> Reply:
    """Lists the reporter's most recent reports (the 我的举报 menu button too)."""
    reports = ctx.store.recent(ctx.inbound.sender, RECENT)
    if not reports:
        return ctx.say("status_empty")
    return Reply(ctx.t("status_list", lines="\n".join(_line(ctx, r) for r in reports)))


def _line(ctx: Context, report: ReportStatus) -> str:
    return f"{display(report.receipt)} {ctx.name(report.status)} {_date(report.updated_at)}"


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")
