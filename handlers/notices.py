"""What a reporter is told of their report: one short line, the same however it is delivered.

A status push says the receipt, a fixed phrase for the status and the date: never a
note, a name or anything else from the case. A question says the receipt and the
question, and how to answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from handlers.texts import name, text
from triage.vocabulary import display_receipt

BEIJING = timezone(timedelta(hours=8))


def notice_text(kind: str, body: str, receipt: str, lang: str, at: int) -> str:
    """The line that tells a reporter of a status change ("status") or a question."""
    shown = display_receipt(receipt)
    if kind == "question":
        return text(lang, "push_question", receipt=shown, question=body)
    date = datetime.fromtimestamp(at, UTC).astimezone(BEIJING).strftime("%Y-%m-%d")
    return text(lang, "push_status", receipt=shown, status=name(lang, body), date=date)
