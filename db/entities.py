"""Triage's entity tables, brought up to date in bulk rather than by a trigger per identifier.

entity_reports (one row per identifier and report) and entity_stats (one row per entity)
are what `tipline triage` ranks from (db/summary.py). Filing a report no longer writes
them: the chat's engine and the import would pay for it on every tip. Instead the reports
above entity_index.indexed_to, and those in entity_pending, are indexed here:
  - by `tipline triage` before it reads (`catch_up`, a few thousand reports per
    transaction, so the server's writes interleave);
  - by `tipline import` in each batch's own transaction (`index_new`).
Deletions and status changes still follow by trigger (migration 6), so rows never go stale.
"""

from __future__ import annotations

import sqlite_utils

from db.connection import write_transaction
from db.migrations import type_bit_sql

# Reports indexed per transaction by `catch_up`: about a tenth of a second of writing.
CATCH_UP_REPORTS = 5000

_FRESH = "temp.entity_fresh"
_COLUMNS = "kind, value, reporter, received_at, report_id, status, target_type"
_CANDIDATES = (
    f"INSERT OR IGNORE INTO {_FRESH} SELECT i.kind, i.value, r.reporter, r.received_at, r.id, "
    "r.status, r.target_type FROM report_identifiers AS i JOIN reports AS r "
    "ON r.id = i.report_id WHERE "
)
# One row per entity of the fresh rows, added onto its stats. A reporter counts as new to
# the entity if no row of theirs is in entity_reports yet (checked before the fresh rows
# go in); `types` is a bitwise OR of distinct bits, i.e. their sum.
_ADD_STATS = f"""
    INSERT INTO entity_stats (kind, value, reports, reporters, first_seen, last_seen, types)
    SELECT f.kind, f.value, count(*),
        count(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM entity_reports AS e
            WHERE e.kind = f.kind AND e.value = f.value AND e.reporter = f.reporter)
            THEN f.reporter END),
        min(f.received_at), max(f.received_at), sum(DISTINCT {type_bit_sql("f.target_type")})
    FROM {_FRESH} AS f WHERE true GROUP BY f.kind, f.value
    ON CONFLICT (kind, value) DO UPDATE SET
        reports = reports + excluded.reports,
        reporters = reporters + excluded.reporters,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        types = types | excluded.types
"""


def index_new(db: sqlite_utils.Database, limit: int | None = None) -> int:
    """Index up to `limit` new reports (all if None) and every pending one; return how many.

    Runs inside the caller's write transaction.
    """
    conn = db.conn
    (indexed_to,) = conn.execute("SELECT indexed_to FROM entity_index").fetchone()
    if limit is None:
        (upto,) = conn.execute("SELECT max(id) FROM reports").fetchone()
    else:
        (upto,) = conn.execute(
            "SELECT max(id) FROM (SELECT id FROM reports WHERE id > ? ORDER BY id LIMIT ?)",
            (indexed_to, limit)).fetchone()
    pending = [r for (r,) in conn.execute("SELECT report_id FROM entity_pending")]
    if (upto is None or upto <= indexed_to) and not pending:
        return 0
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS entity_fresh ({_COLUMNS}, "
                 "PRIMARY KEY (kind, value, reporter, received_at, report_id)) WITHOUT ROWID")
    conn.execute(f"DELETE FROM {_FRESH}")
    fresh = 0
    if upto is not None and upto > indexed_to:
        (fresh,) = conn.execute("SELECT count(*) FROM reports WHERE id > ? AND id <= ?",
                                (indexed_to, upto)).fetchone()
        conn.execute(_CANDIDATES + "i.report_id > ? AND i.report_id <= ?", (indexed_to, upto))
        conn.execute("UPDATE entity_index SET indexed_to = ?", (upto,))
    if pending:
        conn.execute(_CANDIDATES + "i.report_id IN (SELECT report_id FROM entity_pending)")
        # A pending report may keep some rows (an identifier was added to it): not twice.
        conn.execute(
            f"DELETE FROM {_FRESH} AS f WHERE f.report_id IN "
            "(SELECT report_id FROM entity_pending) AND EXISTS (SELECT 1 FROM entity_reports "
            "AS e WHERE e.kind = f.kind AND e.value = f.value AND e.reporter = f.reporter "
            "AND e.received_at = f.received_at AND e.report_id = f.report_id)")
        conn.execute("DELETE FROM entity_pending")
    conn.execute(_ADD_STATS)
    conn.execute(f"INSERT INTO entity_reports SELECT {_COLUMNS} FROM {_FRESH}")
    conn.execute(f"DELETE FROM {_FRESH}")
    return fresh + len(pending)


def catch_up(db: sqlite_utils.Database, chunk: int = CATCH_UP_REPORTS) -> int:
    """Index everything not yet indexed, `chunk` reports per transaction; return how many."""
    total = 0
    while True:
        with write_transaction(db):
            done = index_new(db, chunk)
        total += done
        if done == 0:
            return total
