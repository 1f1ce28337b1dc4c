"""What the console lists: an entity's reports, what appears with it, search, assigned cases.

Lists are pages in keyset order (report id descending, `before` the last id shown), never
OFFSET; counts stop at COUNT_CAP where counting exactly would read a big entity whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from db.watchlist import watchlist_match
from triage.vocabulary import KINDS

PAGE = 50
COUNT_CAP = 10_000
APPEARS_WITH = 20  # other identifiers shown beside an entity
# Reports an entity's "appears with" is computed over: its newest, a sample for a big one.
APPEARS_SAMPLE = 500


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One report in a list."""

    id: int
    receipt: str
    status: str
    target_type: str
    received_at: int
    assignee: str | None
    who: str


@dataclass(frozen=True, slots=True)
class EntityPage:
    """An entity, a page of the reports naming it, and what appears with it."""

    kind: str
    value: str
    reports: int  # capped at COUNT_CAP
    capped: bool
    reporters: int
    watchlist: str | None
    lines: list[ReportLine]
    next_before: int | None  # the `before` of the next page, None on the last
    appears_with: list[tuple[str, str, int]]  # (kind, value, reports among the sample)


_LINE = ("r.id, r.receipt, r.status, r.target_type, r.received_at, r.assignee, "
         "substr(r.who, 1, 120)")
# Reports naming (:kind, :value): those triage has indexed, and those filed since (above
# indexed_to: a few thousand rows at most between two triage runs). report_identifiers
# has no index by value: a query by value goes through entity_reports, or scans it all.
NAMING = """
    SELECT report_id FROM entity_reports WHERE kind = :kind AND value = :value
    UNION
    SELECT i.report_id FROM report_identifiers AS i, entity_index AS x
    WHERE i.kind = :kind AND i.value = :value AND i.report_id > x.indexed_to
"""


def entity_page(db: sqlite_utils.Database, kind: str, value: str, before: int | None
                ) -> EntityPage:
    """One page of an entity's reports, newest first."""
    params = {"kind": kind, "value": value, "before": before or (1 << 62), "page": PAGE + 1,
              "cap": COUNT_CAP + 1}
    rows = db.execute(
        f"SELECT {_LINE} FROM reports AS r WHERE r.id IN ({NAMING}) AND r.id < :before "
        "ORDER BY r.id DESC LIMIT :page", params).fetchall()
    lines = [ReportLine(*row) for row in rows[:PAGE]]
    (count,) = db.execute(f"SELECT count(*) FROM ({NAMING} LIMIT :cap)", params).fetchone()
    (reporters,) = db.execute(
        f"SELECT count(DISTINCT reporter) FROM (SELECT r.reporter FROM reports AS r "
        f"WHERE r.id IN ({NAMING}) LIMIT :cap)", params).fetchone()
    appears = db.execute(
        "SELECT i.kind, i.value, count(*) AS n FROM report_identifiers AS i "
        f"WHERE i.report_id IN (SELECT report_id FROM ({NAMING}) "
        "ORDER BY report_id DESC LIMIT :sample) AND NOT (i.kind = :kind AND i.value = :value) "
        "GROUP BY i.kind, i.value ORDER BY n DESC, i.kind, i.value LIMIT :top",
        {**params, "sample": APPEARS_SAMPLE, "top": APPEARS_WITH}).fetchall()
    return EntityPage(kind, value, min(count, COUNT_CAP), count > COUNT_CAP, reporters,
                      watchlist_match(db, kind, value), lines,
                      lines[-1].id if len(rows) > PAGE else None,
                      [(k, v, n) for k, v, n in appears])


def find_identifiers(db: sqlite_utils.Database, values: list[tuple[str, str]], typed: str
                     ) -> list[tuple[str, str, int]]:
    """Entities matching a search: the identifiers found in it, and its text as any kind."""
    candidates = list(dict.fromkeys([*values, *((kind, typed) for kind in KINDS),
                                     *((kind, typed.lower()) for kind in KINDS)]))
    found = []
    for kind, value in candidates:
        (count,) = db.execute(f"SELECT count(*) FROM ({NAMING} LIMIT :cap)",
                              {"kind": kind, "value": value, "cap": COUNT_CAP}).fetchone()
        if count:
            found.append((kind, value, int(count)))
    return found


def receipt_exists(db: sqlite_utils.Database, receipt: str) -> bool:
    """Whether a report has this receipt (stored form)."""
    return db.execute("SELECT 1 FROM reports WHERE receipt = ?", (receipt,)).fetchone() is not None


def assigned_to(db: sqlite_utils.Database, name: str, before: int | None
                ) -> tuple[list[ReportLine], int | None]:
    """A page of the reports assigned to someone, newest first, and the next page's `before`."""
    rows = db.execute(
        f"SELECT {_LINE} FROM reports AS r WHERE r.assignee = ? AND r.id < ? "
        "ORDER BY r.id DESC LIMIT ?", (name, before or (1 << 62), PAGE + 1)).fetchall()
    lines = [ReportLine(*row) for row in rows[:PAGE]]
    return lines, (lines[-1].id if len(rows) > PAGE else None)


def evidence_known(db: sqlite_utils.Database, sha256: str) -> str | None:
    """The stored type of an evidence file still held by a report or draft, or None."""
    row = db.execute("SELECT mime FROM evidence WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone()
    return None if row is None else str(row[0] or "")
