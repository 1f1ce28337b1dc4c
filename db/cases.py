"""One case in the database: read a report in full, and apply an investigator's update."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from db import feedback, reads
from db.browse import NAMING
from db.connection import write_transaction
from db.watchlist import watchlist_match
from triage.case import (
    OTHERS_LISTED,
    Case,
    Change,
    Evidence,
    HistoryEntry,
    Identifier,
    Notification,
    ReadItem,
    Update,
    plan,
    read_status,
)
from triage.vocabulary import KINDS

# How many reports name identifier i: those triage has indexed (entity_reports, keyed by
# kind and value) and those it has not yet (above indexed_to, unless a sweep under way has
# passed their entity; or pending a re-index: a pending report's old rows may still be in
# entity_reports, so they are left out there). The not-yet-indexed part is read in full,
# once per identifier: what was filed since triage (or an import) last indexed, normally
# a few thousand rows at most.
_REPORTS_NAMING = """(
    (SELECT count(*) FROM entity_reports AS e WHERE e.kind = i.kind AND e.value = i.value
        AND e.report_id NOT IN (SELECT report_id FROM entity_pending))
    + (SELECT count(*) FROM entity_index AS x CROSS JOIN report_identifiers AS o
        WHERE o.report_id > CASE WHEN (i.kind, i.value) <= (x.swept_kind, x.swept_value)
            THEN max(x.indexed_to, coalesce(x.sweep_to, 0)) ELSE x.indexed_to END
        AND o.kind = i.kind AND o.value = i.value
        AND o.report_id NOT IN (SELECT report_id FROM entity_pending))
    + (SELECT count(*) FROM entity_pending AS p CROSS JOIN report_identifiers AS o
        ON o.report_id = p.report_id AND o.kind = i.kind AND o.value = i.value)
)"""


def load_case(db: sqlite_utils.Database, receipt: str) -> Case | None:
    """Return the report with this receipt (normalised form) in full, or None."""
    row = db.execute(
        "SELECT id, receipt, status, assignee, target_type, channel, reporter, lang, who, "
        "description, received_at, updated_at FROM reports WHERE receipt = ?", (receipt,),
    ).fetchone()
    if row is None:
        return None
    report_id, *fields = row
    (filed,) = db.execute(
        "SELECT count(*) FROM reports WHERE reporter = ?", (fields[5],)
    ).fetchone()
    identifiers = [
        Identifier(kind, value, raw, watchlist_match(db, kind, value), int(reports or 0),
                   evidence_id, *_others(db, kind, value, report_id, int(reports or 0)))
        for kind, value, raw, reports, evidence_id in db.execute(
            f"SELECT i.kind, i.value, i.raw, {_REPORTS_NAMING}, i.evidence_id "
            "FROM report_identifiers AS i "
            "WHERE i.report_id = ?", (report_id,),
        )
    ]
    identifiers.sort(key=lambda i: (KINDS.index(i.kind) if i.kind in KINDS else len(KINDS),
                                    i.value))
    evidence = _evidence(db, report_id)
    history = [
        HistoryEntry(*entry) for entry in db.execute(
            "SELECT at, actor, action, detail FROM report_history WHERE report_id = ? "
            "ORDER BY at, id", (report_id,),
        )
    ]
    (receipt_, status, assignee, target_type, channel, reporter, lang, who, description,
     received_at, updated_at) = fields
    notifications = [Notification(*row) for row in feedback.deliveries(db, report_id)]
    return Case(receipt_, status, assignee, target_type, channel, reporter, int(filed), lang,
                who, description, received_at, updated_at, identifiers, evidence, history,
                notifications)


def _others(db: sqlite_utils.Database, kind: str, value: str, report_id: int, naming: int
            ) -> tuple[tuple[str, ...], int]:
    """The newest other reports naming an identifier (OTHERS_LISTED), and how many in all.

    `naming` is the exact count of reports naming it, this one included: no second pass
    over a big entity's reports to count the others.
    """
    # Newest filed first (ids grow with filing): one pass down the reports' primary key
    # over the entity's set, however many reports name it.
    listed = tuple(str(receipt) for (receipt,) in db.execute(
        f"SELECT r.receipt FROM reports AS r WHERE r.id IN ({NAMING}) AND r.id != :report "
        "ORDER BY r.id DESC LIMIT :listed",
        {"kind": kind, "value": value, "report": report_id, "listed": OTHERS_LISTED}))
    if len(listed) < OTHERS_LISTED:
        return listed, len(listed)
    return listed, max(len(listed), naming - 1)


def _evidence(db: sqlite_utils.Database, report_id: int) -> list[Evidence]:
    """A report's evidence, each image with what was read from it."""
    rows = db.execute(
        "SELECT e.id, e.kind, e.received_at, e.fetch_status, e.sha256, e.size, e.mime, "
        "e.fetched_at, e.details, j.attempts, j.last_error, e.read_status, e.read_text, "
        "e.phash FROM evidence AS e LEFT JOIN fetch_jobs AS j ON j.evidence_id = e.id "
        "WHERE e.report_id = ? ORDER BY e.received_at, e.id", (report_id,),
    ).fetchall()
    found = reads.found_in(db, (row[0] for row in rows))
    evidence = []
    for (id_, kind, received_at, fetch_status, sha256, size, mime, fetched_at, details,
         attempts, last_error, stored_status, text, phash) in rows:
        evidence.append(Evidence(
            id_, kind, received_at, fetch_status, sha256, size, mime, fetched_at,
            _details(details), attempts, last_error,
            read_status(kind, mime, fetch_status, stored_status),
            [ReadItem(*item) for item in found[id_]], text,
            reads.looks_like(db, phash, report_id) if phash is not None else []))
    return evidence


def _details(text: str) -> dict[str, Any]:
    """Decode an evidence item's details (a JSON object), tolerating a damaged one."""
    try:
        details = json.loads(text)
    except ValueError:
        return {"unreadable": text}
    return details if isinstance(details, dict) else {"value": details}


def update_case(db: sqlite_utils.Database, receipt: str, update: Update, actor: str, now: int
                ) -> list[Change] | None:
    """Apply an update in one transaction and log it; return the changes (None: no report)."""
    # BEGIN IMMEDIATE: the server may be writing; the read below must see what we change.
    with write_transaction(db):
        row = db.execute(
            "SELECT id, status, assignee FROM reports WHERE receipt = ?", (receipt,)
        ).fetchone()
        if row is None:
            return None  # nothing was written: the empty transaction just ends
        report_id, status, assignee = row
        after = plan(update, status, assignee)
        if after.changes:
            # updated_at is what the reporter's 查询 shows as the last update.
            db.execute(
                "UPDATE reports SET status = ?, assignee = ?, updated_at = ? WHERE id = ?",
                (after.status, after.assignee, now, report_id),
            )
            db.conn.executemany(
                "INSERT INTO report_history (report_id, at, actor, action, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                [(report_id, now, actor, c.action, c.detail) for c in after.changes],
            )
    return after.changes
