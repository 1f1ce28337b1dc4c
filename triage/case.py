"""Case handling: statuses, what an investigator's update changes, and one report in full.

Pure: db/cases.py reads and writes, this module decides and describes. Every change is
an entry in the report's append-only history (who, when, what): `status` ("new →
reviewing"), `assign` ("nobody → alice") and `note` (the text). Reporters appear only as
their pseudonyms; notes never reach the reporter (查询 shows status and date only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage.times import iso
from triage.vocabulary import STATUSES
from triage.vocabulary import display_receipt as display

NOBODY = "nobody"
OTHERS_LISTED = 20  # receipts of other reports listed per identifier; `reports` counts all
MAX_NOTE = 4000  # characters; a note is a finding, not a document
MAX_QUESTION = 300  # characters: with the receipt and the how-to, under WeChat's 2 KB


class CaseError(ValueError):
    """An update that cannot be made; the message is one line for the investigator."""


def parse_status(text: str) -> str:
    """Return a valid status from what was typed, or raise CaseError naming the choices."""
    status = text.strip().lower()
    if status not in STATUSES:
        raise CaseError(f"unknown status {text!r}: use {', '.join(STATUSES[:-1])} or "
                        f"{STATUSES[-1]}")
    return status


@dataclass(frozen=True, slots=True)
class Update:
    """What an investigator asked to change; None leaves a field as it is."""

    status: str | None = None
    assignee: str | None = None  # "" unassigns
    note: str | None = None
    question: str | None = None  # asked of the reporter in WeChat

    def __post_init__(self) -> None:
        if self.status is not None:
            parse_status(self.status)
        if self.note is not None and not self.note.strip():
            raise CaseError("the note is empty")
        if self.note is not None and len(self.note) > MAX_NOTE:
            raise CaseError(f"the note is longer than {MAX_NOTE} characters")
        if self.question is not None and not self.question.strip():
            raise CaseError("the question is empty")
        if self.question is not None and len(self.question) > MAX_QUESTION:
            raise CaseError(f"the question is longer than {MAX_QUESTION} characters "
                            "(it must fit a phone screen)")

    @property
    def empty(self) -> bool:
        """Whether nothing was asked."""
        return (self.status is None and self.assignee is None and self.note is None
                and self.question is None)


@dataclass(frozen=True, slots=True)
class Change:
    """One history entry to write: an action and what changed."""

    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What an update does to a case: the history entries, and the status and assignee after."""

    changes: list[Change]
    status: str
    assignee: str | None


def plan(update: Update, status: str, assignee: str | None) -> Plan:
    """Return what an update does to a case in this state (no changes: nothing to do)."""
    changes: list[Change] = []
    if update.status is not None and (new_status := parse_status(update.status)) != status:
        changes.append(Change("status", f"{status} → {new_status}"))
        status = new_status
    if update.assignee is not None and (new := update.assignee.strip() or None) != assignee:
        changes.append(Change("assign", f"{assignee or NOBODY} → {new or NOBODY}"))
        assignee = new
    if update.note is not None:
        changes.append(Change("note", update.note.strip()))
    if update.question is not None:  # the outbox_question trigger queues it for WeChat
        changes.append(Change("question", update.question.strip()))
    return Plan(changes, status, assignee)


@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier of the report, with its watchlist match and how many reports name it."""

    kind: str
    value: str
    raw: str
    watchlist: str | None
    reports: int
    evidence_id: int | None = None  # read from this evidence item (None: from the text)
    others: tuple[str, ...] = ()  # receipts of the other reports naming it, newest first
    other_reports: int = 0  # how many other reports name it (`others` lists the newest)


@dataclass(frozen=True, slots=True)
class ReadItem:
    """An identifier read from an image, and whether from a QR code or the text in it."""

    kind: str
    value: str
    raw: str
    source: str  # "qr" or "ocr"


# What an evidence item's reading says when nothing more is known of it.
NOT_APPLICABLE, PENDING = "not applicable", "pending"


def read_status(kind: str, mime: str | None, fetch_status: str, stored: str | None) -> str:
    """An evidence item's read status: pending, done, failed: <reason> or not applicable."""
    if stored:
        return stored
    image = kind == "image" or (mime or "").lower().startswith("image/")
    if not image:
        return NOT_APPLICABLE
    if fetch_status.startswith(("failed", "not fetched")):
        return f"failed: the image was not downloaded ({fetch_status})"
    return PENDING


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence and the state of its download."""

    id: int
    kind: str
    received_at: int
    fetch_status: str
    sha256: str | None
    size: int | None
    mime: str | None
    fetched_at: int | None
    details: dict[str, Any]
    attempts: int | None = None  # still queued: downloads tried so far
    last_error: str | None = None
    read_status: str = NOT_APPLICABLE
    read: list[ReadItem] = field(default_factory=list)
    text: str | None = None  # the recognised text, lines joined by newlines
    looks_like: list[str] = field(default_factory=list)  # receipts of near-identical images


@dataclass(frozen=True, slots=True)
class Notification:
    """Something the reporter was (or is to be) told, and how its delivery went."""

    kind: str  # "status" or "question"
    body: str  # the status, or the question
    created_at: int
    state: str  # pending, sent, delivered in reply, superseded, failed: …
    via: str | None  # custom, template or reply
    attempts: int
    settled_at: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of the audit log."""

    at: int
    actor: str
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class Case:
    """One report in full, as `tipline show` prints it."""

    receipt: str
    status: str
    assignee: str | None
    target_type: str
    channel: str
    reporter: str  # the pseudonym
    reporter_reports: int  # reports this pseudonym filed in all
    lang: str
    who: str
    description: str
    received_at: int
    updated_at: int
    identifiers: list[Identifier] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def notes(self) -> list[HistoryEntry]:
        """The investigators' notes, oldest first."""
        return [entry for entry in self.history if entry.action == "note"]


def _history(entry: HistoryEntry) -> dict[str, Any]:
    return {"at": iso(entry.at), "actor": entry.actor, "action": entry.action,
            "detail": entry.detail}


def case_json(case: Case) -> dict[str, Any]:
    """Return the `tipline show --json` object (DESIGN.md's fields and more)."""
    return {
        "receipt": display(case.receipt),
        "status": case.status,
        "assignee": case.assignee,
        "target_type": case.target_type,
        "channel": case.channel,
        "reporter": case.reporter,
        "reporter_reports": case.reporter_reports,
        "lang": case.lang,
        "received_at": iso(case.received_at),
        "updated_at": iso(case.updated_at),
        "who": case.who,
        "description": case.description,
        "identifiers": [
            {"kind": i.kind, "value": i.value, "raw": i.raw, "watchlist": i.watchlist,
             "reports": i.reports, "evidence_id": i.evidence_id,
             "other_receipts": [display(r) for r in i.others],
             "other_reports": i.other_reports}
            for i in case.identifiers
        ],
        "evidence": [
            {"id": e.id, "kind": e.kind, "received_at": iso(e.received_at),
             "fetch_status": e.fetch_status, "sha256": e.sha256, "size": e.size,
             "mime": e.mime, "fetched_at": iso(e.fetched_at) if e.fetched_at else None,
             "details": e.details, "attempts": e.attempts, "last_error": e.last_error,
             "read_status": e.read_status,
             "read": [{"kind": r.kind, "value": r.value, "raw": r.raw, "source": r.source}
                      for r in e.read],
             "text": e.text,
             "looks_like": [display(receipt) for receipt in e.looks_like]}
            for e in case.evidence
        ],
        "notes": [{"at": iso(n.at), "by": n.actor, "text": n.detail} for n in case.notes],
        "history": [_history(entry) for entry in case.history],
        "notifications": [
            {"kind": n.kind, "body": n.body, "created_at": iso(n.created_at),
             "state": n.state, "via": n.via, "attempts": n.attempts,
             "settled_at": iso(n.settled_at) if n.settled_at else None,
             "last_error": n.last_error}
            for n in case.notifications
        ],
    }
