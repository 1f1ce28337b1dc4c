"""Reports, their identifiers, evidence and history: the conversation's Store over SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlite_utils

from db import feedback, fetch_jobs
from handlers.store import EvidenceItem, NewReport, ReportStatus

# Evidence that is not a file to download (a location, a link, a text) needs no fetch.
NO_FETCH = "not applicable"
PENDING = "pending"


def identifiers_text(identifiers: Iterable[tuple[str, str, str]]) -> str | None:
    """The export's "kind:value; kind:value" of (kind, value, raw) triples; None for none.

    What group_concat over report_identifiers gives: one entry per (kind, value) (the
    table's key), in key order (code point order is UTF-8 byte order, SQLite's BINARY).
    """
    keys = sorted({(kind, value) for kind, value, _ in identifiers})
    return "; ".join(f"{kind}:{value}" for kind, value in keys) or None


class SqlStore:
    """The conversation's storage, inside the transaction of the message being handled."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def receipt_taken(self, receipt: str) -> bool:
        """Whether a receipt is already in use."""
        found = self.db.conn.execute("SELECT 1 FROM reports WHERE receipt = ?", (receipt,))
        return found.fetchone() is not None

    def add_evidence(self, reporter: str, draft_id: str, item: EvidenceItem) -> None:
        """Keep a piece of evidence for a draft; media wait in the fetch queue."""
        details = dict(item.details)
        status = str(details.pop("fetch_status", "")) if item.media_id else NO_FETCH
        status = status or PENDING
        cursor = self.db.conn.execute(
            "INSERT INTO evidence (draft_id, reporter, kind, media_id, details, fetch_status, "
            "received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (draft_id, reporter, item.kind, item.media_id or None,
             json.dumps(details, ensure_ascii=False), status, item.received_at),
        )
        if status == PENDING:
            # Same transaction as the message: the media cannot be recorded yet not queued.
            fetch_jobs.enqueue(self.db, cursor.lastrowid or 0, item.received_at)

    def discard_draft(self, draft_id: str) -> int:
        """Forget the evidence of a draft that will not be filed."""
        return int(self.db.conn.execute(
            "DELETE FROM evidence WHERE draft_id = ? AND report_id IS NULL", (draft_id,)
        ).rowcount)

    def file_report(self, report: NewReport) -> None:
        """File a report with its identifiers, its draft's evidence and a history entry."""
        cursor = self.db.conn.execute(
            "INSERT INTO reports (receipt, reporter, channel, target_type, who, description, "
            "lang, received_at, updated_at, identifiers_text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (report.receipt, report.reporter, report.channel, report.target_type, report.who,
             report.description, report.lang, report.filed_at, report.filed_at,
             identifiers_text(report.identifiers)),
        )
        report_id = cursor.lastrowid
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO report_identifiers (report_id, kind, value, raw) "
            "VALUES (?, ?, ?, ?)",
            [(report_id, kind, value, raw) for kind, value, raw in report.identifiers],
        )
        # The evidence_count_update trigger counts the draft's evidence onto the report.
        self.db.conn.execute(
            "UPDATE evidence SET report_id = ?, draft_id = NULL WHERE draft_id = ?",
            (report_id, report.draft_id),
        )
        self.db.conn.execute(
            "INSERT INTO report_history (report_id, at, actor, action, detail) "
            "VALUES (?, ?, ?, 'filed', ?)",
            (report_id, report.filed_at, f"reporter:{report.reporter[:12]}", report.channel),
        )

    def filed_since(self, reporter: str, since: int) -> int:
        """How many reports the reporter filed since a time."""
        row = self.db.conn.execute(
            "SELECT count(*) FROM reports WHERE reporter = ? AND received_at >= ?",
            (reporter, since),
        ).fetchone()
        return int(row[0])

    def status_of(self, reporter: str, receipt: str) -> ReportStatus | None:
        """One of the reporter's own reports (None for anyone else's)."""
        row = self.db.conn.execute(
            "SELECT receipt, status, received_at, updated_at FROM reports "
            "WHERE receipt = ? AND reporter = ?", (receipt, reporter),
        ).fetchone()
        return None if row is None else ReportStatus(*row)

    def recent(self, reporter: str, limit: int) -> list[ReportStatus]:
        """The reporter's most recent reports, newest first."""
        rows = self.db.conn.execute(
            "SELECT receipt, status, received_at, updated_at FROM reports "
            "WHERE reporter = ? ORDER BY received_at DESC, id DESC LIMIT ?", (reporter, limit),
        ).fetchall()
        return [ReportStatus(*row) for row in rows]

    def pending_question(self, reporter: str) -> str | None:
        """The receipt of the reporter's report whose question awaits an answer, if any."""
        return feedback.pending_question(self.db, reporter)

    def add_reply(self, reporter: str, receipt: str, item: EvidenceItem | None,
                  now: int) -> bool:
        """Append a follow-up to the reporter's own report: history entry and evidence."""
        row = self.db.conn.execute("SELECT id FROM reports WHERE receipt = ? AND reporter = ?",
                                   (receipt, reporter)).fetchone()
        if row is None:
            return False
        report_id = row[0]
        detail = ""
        if item is not None:
            draft = f"reply-{report_id}-{now}"
            self.add_evidence(reporter, draft, item)
            # Straight onto the report (the evidence_count trigger counts it there).
            self.db.conn.execute("UPDATE evidence SET report_id = ?, draft_id = NULL "
                                 "WHERE draft_id = ?", (report_id, draft))
            detail = item.kind if item.kind != "text" else str(item.details.get("text", ""))
        self.db.conn.execute(
            "INSERT INTO report_history (report_id, at, actor, action, detail) "
            "VALUES (?, ?, ?, 'reporter_reply', ?)",
            (report_id, now, f"reporter:{reporter[:12]}", detail[:2000]))
        # Triage and the reporter's 查询 see the report as updated.
        self.db.conn.execute("UPDATE reports SET updated_at = ? WHERE id = ?", (now, report_id))
        return True

    def finish_reply(self, reporter: str, receipt: str, now: int) -> None:
        """The reporter is done answering: the report's questions are answered."""
        row = self.db.conn.execute("SELECT id FROM reports WHERE receipt = ? AND reporter = ?",
                                   (receipt, reporter)).fetchone()
        if row is not None:
            feedback.answered(self.db, row[0], now)

    def stop_pushes(self, reporter: str, now: int) -> None:
        """退订: no more pushes to the reporter; their sealed contact goes."""
        feedback.stop(self.db, reporter, now)

    def record_consent(self, reporter: str, accepted: bool, now: int) -> None:
        """The reporter accepted (or refused) subscribe messages in WeChat's popup."""
        feedback.consent(self.db, reporter, accepted, now)
