"""Triage's entity tables, brought up to date in bulk rather than by a trigger per identifier.

entity_reports (one row per identifier and report) and entity_stats (one row per entity)
are what `tipline triage` ranks from (db/summary.py). Filing a report does not write
them: the chat's engine and the import would pay for it on every tip. Instead the reports
above entity_index.indexed_to, and those in entity_pending, are indexed here (`catch_up`):
  - by `tipline triage` before it reads;
  - by `tipline import` once its reports are filed, in as few transactions as its
    bounded hold of the write lock allows: both tables are keyed by (kind, value), so
    each identifier lands on a page at random, and the more of them one transaction
    sorts in, the fewer pages each writes.
Deletions and status changes still follow by trigger (migration 6), so rows never go stale.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from db.connection import write_transaction
from db.migrations import type_bit_sql
from db.pace import Pace

# How long one catch-up transaction holds the write lock, about (db.pace). Indexing a
# report costs ~20 us into small tables and ~140 us into a million reports' (a page read
# and written at random per identifier; bench/scale/README.md).
CATCH_UP_SECONDS = 0.5
FIRST_CHUNK = 2000
MIN_CHUNK, MAX_CHUNK = 200, 500_000

_COLUMNS = "kind, value, reporter, received_at, report_id, status, target_type"
# The rows to add: those of the new reports (an id range) and of the pending ones.
_FRESH = """
    WITH fresh AS (
        SELECT i.kind, i.value, r.reporter, r.received_at, r.id AS report_id, r.status,
            r.target_type
        FROM report_identifiers AS i JOIN reports AS r ON r.id = i.report_id
        WHERE i.report_id > :low AND i.report_id <= :high
        UNION ALL
        SELECT i.kind, i.value, r.reporter, r.received_at, r.id, r.status, r.target_type
        FROM entity_pending AS p CROSS JOIN report_identifiers AS i ON i.report_id = p.report_id
        CROSS JOIN reports AS r ON r.id = p.report_id
    )
"""
# CROSS JOIN keeps entity_pending (a few rows) the outer loop: left to choose, SQLite
# scanned report_identifiers or reports in full for it, in every transaction.
# A pending report may still have rows (an identifier was added to it): out first, so
# that everything is added back below, with the stats following by trigger.
_DROP_PENDING = """
    DELETE FROM entity_reports WHERE (kind, value, reporter, received_at, report_id) IN (
        SELECT i.kind, i.value, r.reporter, r.received_at, r.id
        FROM entity_pending AS p CROSS JOIN report_identifiers AS i ON i.report_id = p.report_id
        CROSS JOIN reports AS r ON r.id = p.report_id)
"""
# One row per entity of the fresh rows, added onto its stats. A reporter counts as new to
# the entity if no row of theirs is in entity_reports yet (checked before the fresh rows
# go in); `types` is a bitwise OR of distinct bits, i.e. their sum.
_ADD_STATS = _FRESH + f"""
    INSERT INTO entity_stats (kind, value, reports, reporters, first_seen, last_seen, types)
    SELECT f.kind, f.value, count(*),
        count(DISTINCT CASE WHEN NOT EXISTS (SELECT 1 FROM entity_reports AS e
            WHERE e.kind = f.kind AND e.value = f.value AND e.reporter = f.reporter)
            THEN f.reporter END),
        min(f.received_at), max(f.received_at), sum(DISTINCT {type_bit_sql("f.target_type")})
    FROM fresh AS f WHERE true GROUP BY f.kind, f.value
    ON CONFLICT (kind, value) DO UPDATE SET
        reports = reports + excluded.reports,
        reporters = reporters + excluded.reporters,
        first_seen = min(first_seen, excluded.first_seen),
        last_seen = max(last_seen, excluded.last_seen),
        types = types | excluded.types
"""
# In key order, so each page of entity_reports is written once.
_ADD_ROWS = _FRESH + f"""
    INSERT INTO entity_reports ({_COLUMNS})
    SELECT {_COLUMNS} FROM fresh ORDER BY kind, value, reporter, received_at, report_id
"""


def index_new(db: sqlite_utils.Database, limit: int | None = None) -> int:
    """Index up to `limit` new reports (all if None) and every pending one; return how many.

    Runs inside the caller's write transaction.
    """
    conn = db.conn
    (indexed_to,) = conn.execute("SELECT indexed_to FROM entity_index").fetchone()
    new, upto = conn.execute(  # LIMIT -1: no limit
        "SELECT count(*), coalesce(max(id), ?) FROM "
        "(SELECT id FROM reports WHERE id > ? ORDER BY id LIMIT ?)",
        (indexed_to, indexed_to, -1 if limit is None else limit)).fetchone()
    (pending,) = conn.execute("SELECT count(*) FROM entity_pending").fetchone()
    if not new and not pending:
        return 0
    if pending:
        conn.execute(_DROP_PENDING)
    span = {"low": indexed_to, "high": upto}
    conn.execute(_ADD_STATS, span)
    conn.execute(_ADD_ROWS, span)
    conn.execute("DELETE FROM entity_pending")
    conn.execute("UPDATE entity_index SET indexed_to = ?", (upto,))
    return int(new + pending)


def backlog(db: sqlite_utils.Database) -> int:
    """How many reports `catch_up` would index now."""
    (count,) = db.execute(
        "SELECT (SELECT count(*) FROM reports WHERE id > (SELECT indexed_to FROM entity_index))"
        " + (SELECT count(*) FROM entity_pending)").fetchone()
    return int(count)


def catch_up(db: sqlite_utils.Database, seconds: float = CATCH_UP_SECONDS,
             progress: Callable[[int], None] | None = None) -> int:
    """Index everything not yet indexed, ~`seconds` of write lock at a time; return how many.

    `progress(done)` is called after each transaction.
    """
    total = 0
    pace = Pace(FIRST_CHUNK, seconds, MIN_CHUNK, MAX_CHUNK)
    while True:
        started = pace.start()
        with write_transaction(db):
            done = index_new(db, pace.size)
        pace.done(started, done)
        total += done
        if done == 0:
            return total
        if progress is not None:
            progress(total)
