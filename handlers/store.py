"""What the conversation may ask of storage: a small interface the database implements.

Handlers see only this (never SQLite); every call runs inside the transaction of the
message being handled, so what a handler files commits with its reply, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Where a reporter's state keeps the open draft, and the mark a draft swept while its
# reporter was away leaves (so they hear of it when they come back). The store reads
# both: housekeeping and purge sweep abandoned drafts (db/conversations.py).
DRAFT_KEY = "draft"
DRAFT_SWEPT_KEY = "draft_swept"
REPLY_TO_KEY = "reply_to"  # the receipt a reporter's follow-up messages are added to


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One piece of evidence as it arrived: a photo's media id, a location, a link…"""

    kind: str  # image, voice, video, shortvideo, file, location, link, text
    received_at: int
    media_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # label, url, recognition…


@dataclass(frozen=True, slots=True)
class NewReport:
    """A report as the reporter confirmed it."""

    receipt: str
    reporter: str
    draft_id: str
    target_type: str
    who: str
    description: str
    identifiers: tuple[tuple[str, str, str], ...]  # (kind, value, raw)
    lang: str
    filed_at: int
    channel: str = "wechat"


@dataclass(frozen=True, slots=True)
class ReportStatus:
    """What a reporter may learn about one of their reports."""

    receipt: str
    status: str
    filed_at: int
    updated_at: int


class Store(Protocol):
    """Storage as the conversation sees it."""

    def receipt_taken(self, receipt: str) -> bool:
        """Whether a receipt is already in use."""
        ...

    def add_evidence(self, reporter: str, draft_id: str, item: EvidenceItem) -> None:
        """Keep a piece of evidence for a draft (media is queued for download at once)."""
        ...

    def discard_draft(self, draft_id: str) -> int:
        """Forget the evidence of a draft that will not be filed; return how many items."""
        ...

    def file_report(self, report: NewReport) -> None:
        """File a confirmed report with its identifiers and its draft's evidence."""
        ...

    def filed_since(self, reporter: str, since: int) -> int:
        """How many reports the reporter filed since a time."""
        ...

    def status_of(self, reporter: str, receipt: str) -> ReportStatus | None:
        """One of the reporter's own reports, or None (also for anyone else's)."""
        ...

    def recent(self, reporter: str, limit: int) -> list[ReportStatus]:
        """The reporter's most recent reports, newest first."""
        ...

    def pending_question(self, reporter: str) -> str | None:
        """The receipt of the reporter's report whose question awaits an answer, if any."""
        ...

    def add_reply(self, reporter: str, receipt: str, item: EvidenceItem | None,
                  now: int) -> bool:
        """Append a reporter's follow-up (history `reporter_reply`, evidence); False: not theirs."""
        ...

    def finish_reply(self, reporter: str, receipt: str, now: int) -> None:
        """The reporter is done answering: the report's questions are answered."""
        ...

    def stop_pushes(self, reporter: str, now: int) -> None:
        """退订: no more pushes to the reporter; their sealed contact goes."""
        ...

    def record_consent(self, reporter: str, accepted: bool, now: int) -> None:
        """The reporter accepted (or refused) subscribe messages in WeChat's popup."""
        ...
