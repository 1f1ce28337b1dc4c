"""Triage's entity tables, brought up to date in bulk rather than by a trigger per identifier.

entity_reports (one row per identifier and report) and entity_stats (one row per entity)
are what `tipline triage` ranks from (db/summary.py). Filing a report does not write
them: the chat's engine and the import would pay for it on every tip. Instead the reports
above entity_index.indexed_to, and those in entity_pending, are indexed here (`catch_up`),
by `tipline triage` before it reads and by `tipline import` once its reports are filed,
each transaction holding the write lock ~0.5 s (db.pace). Two ways:
  - report by report (`index_new`), for the few filed since the last run;
  - in key order (`sweep`), for a big backlog such as an import's. Both tables are keyed
    by (kind, value): report by report, each identifier writes a page at random (~140 us
    a report into a million reports' tables); swept, each transaction takes in whole
    entities in key order, so each page is written about once (~19 us a report).
Deletions and status changes still follow by trigger (migrations 6 and 10), so rows never
go stale, a sweep's included.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import NamedTuple

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
# New reports from which a catch-up sweeps them in key order (staging them sorted costs a
# few us a row; taking them in then writes each page about once, where report by report
# a million reports' tables cost ~140 us each), and the sweep's transactions in rows.
SWEEP_MIN = 20_000
FIRST_SWEEP_ROWS = 20_000
MIN_SWEEP_ROWS, MAX_SWEEP_ROWS = 2_000, 2_000_000
SORT_THREADS, SORT_CACHE_KIB = 4, -8192

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
_STATS = f"""
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
_ROWS = f"""
    INSERT INTO entity_reports ({_COLUMNS})
    SELECT {_COLUMNS} FROM fresh ORDER BY kind, value, reporter, received_at, report_id
"""
_ADD_STATS, _ADD_ROWS = _FRESH + _STATS, _FRESH + _ROWS

# The sweep: what it stages, in key order, of the reports in (low, high] for the entities
# after (kind, value) (all, at first: no kind is empty).
_STAGED = "temp.entity_sweep"
_STAGE = f"""
    INSERT INTO {_STAGED} SELECT i.kind, i.value, r.reporter, r.received_at, r.id, r.status,
        r.target_type
    FROM report_identifiers AS i JOIN reports AS r ON r.id = i.report_id
    WHERE i.report_id > :low AND i.report_id <= :high AND (i.kind, i.value) > (:kind, :value)
    ORDER BY 1, 2, 3, 4, 5
"""
# One transaction's part: the staged rows of whole entities after the cursor up to `end`,
# less those of reports gone from the sweep's range or changed since they were staged
# (entity_pending: the re-index after the sweep takes them in as they are now).
_SWEPT = f"""
    WITH fresh AS (
        SELECT {_COLUMNS} FROM {_STAGED}
        WHERE (kind, value) > (:kind, :value) AND (kind, value) <= (:end_kind, :end_value)
            AND report_id > :low AND report_id <= :high
            AND report_id NOT IN (SELECT report_id FROM entity_pending)
    )
"""
_SWEEP_STATS, _SWEEP_ROWS = _SWEPT + _STATS, _SWEPT + _ROWS


class _Index(NamedTuple):
    """entity_index's one row: what is indexed, and the sweep under way (sweep_to None: none)."""

    indexed_to: int
    sweep_to: int | None
    sweep_serial: int
    swept_kind: str
    swept_value: str


def _index(conn: sqlite3.Connection) -> _Index:
    return _Index(*conn.execute(
        "SELECT indexed_to, sweep_to, sweep_serial, swept_kind, swept_value "
        "FROM entity_index").fetchone())


def index_new(db: sqlite_utils.Database, limit: int | None = None) -> int | None:
    """Index up to `limit` new reports (all if None) and every pending one; return how many.

    Runs inside the caller's write transaction. None: a sweep is under way, which must
    end before anything else is indexed (it skips pending reports, and owns its range).
    """
    conn = db.conn
    indexed_to, sweep_to, *_ = _index(conn)
    if sweep_to is not None:
        return None
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

    A backlog of SWEEP_MIN new reports or more is swept in key order first (or a sweep
    another process left unfinished is finished). `progress(done)` is called after each
    transaction.
    """
    total = 0
    pace = Pace(FIRST_CHUNK, seconds, MIN_CHUNK, MAX_CHUNK)

    def report(done: int) -> None:
        if progress is not None:
            progress(total + done)

    while True:
        if _sweep_due(db):
            total += sweep(db, seconds, report)
            continue
        started = pace.start()
        with write_transaction(db):
            done = index_new(db, pace.size)
        if done is None:  # another process began a sweep meanwhile: take part in it
            continue
        pace.done(started, done)
        total += done
        if done == 0:
            return total
        report(0)


def _sweep_due(db: sqlite_utils.Database) -> bool:
    """Whether a sweep is under way, or the new reports are many enough for one."""
    indexed_to, sweep_to, *_ = _index(db.conn)
    if sweep_to is not None:
        return True
    (newer,) = db.execute(  # stops counting at SWEEP_MIN
        "SELECT count(*) FROM (SELECT 1 FROM reports WHERE id > ? LIMIT ?)",
        (indexed_to, SWEEP_MIN)).fetchone()
    return bool(newer >= SWEEP_MIN)


def sweep(db: sqlite_utils.Database, seconds: float = CATCH_UP_SECONDS,
          progress: Callable[[int], None] | None = None) -> int:
    """Index every new report in key order, or finish the sweep under way; return how many.

    The reports' rows are staged sorted in a temporary table (a read, no lock held), then
    taken in whole entities at a time, ~`seconds` of write lock per transaction. Each
    transaction moves the sweep's cursor on, so a sweep cut short (Ctrl-C, a crash) is
    finished by the next catch-up, from there; two processes sweeping share the work.
    `progress(reports_done)` is called after each transaction.
    """
    conn = db.conn
    with write_transaction(db):
        conn.execute("UPDATE entity_index SET sweep_to = (SELECT coalesce(max(id), 0) "
                     "FROM reports), sweep_serial = sweep_serial + 1, swept_kind = '', "
                     "swept_value = '' WHERE sweep_to IS NULL")
        low, high, serial, kind, value = _index(conn)
    assert high is not None  # just begun, by this process or another
    (reports,) = conn.execute(
        "SELECT count(*) FROM reports WHERE id > ? AND id <= ?", (low, high)).fetchone()
    try:
        staged = _stage(db, low, high, kind, value)
        pace = Pace(FIRST_SWEEP_ROWS, seconds, MIN_SWEEP_ROWS, MAX_SWEEP_ROWS)
        done = 0
        while True:
            started = pace.start()
            with write_transaction(db):
                rows = _sweep_part(db, serial, pace.size)
            if rows is None:
                return int(reports)
            pace.done(started, rows, full=True)
            done += rows
            if progress is not None:
                progress(reports * min(done, staged) // max(staged, 1))
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {_STAGED}")


def _stage(db: sqlite_utils.Database, low: int, high: int, kind: str, value: str) -> int:
    """Stage the rows of the reports in (low, high] after (kind, value); return how many."""
    conn = db.conn
    conn.execute(f"DROP TABLE IF EXISTS {_STAGED}")
    conn.execute(f"""CREATE TABLE {_STAGED} (
        kind TEXT NOT NULL, value TEXT NOT NULL, reporter TEXT NOT NULL,
        received_at INTEGER NOT NULL, report_id INTEGER NOT NULL, status TEXT NOT NULL,
        target_type TEXT NOT NULL,
        PRIMARY KEY (kind, value, reporter, received_at, report_id)) WITHOUT ROWID""")
    # The sort on helper threads, each sorting runs the size of the page cache: small
    # runs sort faster and keep the memory down (2.3 million rows: 10.2 s in one thread
    # with a 64 MiB cache, 5.5 s in four with 8 MiB).
    (threads,), (cache,) = (conn.execute(f"PRAGMA {name}").fetchone()
                            for name in ("threads", "cache_size"))
    conn.execute(f"PRAGMA threads = {SORT_THREADS}")
    conn.execute(f"PRAGMA cache_size = {SORT_CACHE_KIB}")
    try:
        cursor = conn.execute(_STAGE, {"low": low, "high": high, "kind": kind, "value": value})
    finally:
        conn.execute(f"PRAGMA threads = {threads}")
        conn.execute(f"PRAGMA cache_size = {cache}")
    return int(cursor.rowcount)


def _sweep_part(db: sqlite_utils.Database, serial: int, rows: int) -> int | None:
    """Take in about `rows` staged rows, whole entities; return how many, None when done.

    Runs inside the caller's write transaction, from the cursor as it stands now: another
    process may have moved it on, or ended the sweep (and maybe begun another, which
    these staged rows are not for). The rows counted are those staged, taken in or
    skipped: what the transaction's time follows.
    """
    conn = db.conn
    low, high, now_serial, kind, value = _index(conn)
    if high is None or now_serial != serial:
        return None
    after = {"kind": kind, "value": value}
    # The entity of the rows-th staged row after the cursor ends this part (all of its
    # rows are in it); if there is none, the last entity staged.
    end = conn.execute(
        f"SELECT kind, value FROM {_STAGED} WHERE (kind, value) > (:kind, :value) "
        "ORDER BY kind, value LIMIT 1 OFFSET :skip", {**after, "skip": rows - 1}).fetchone()
    if end is None:
        end = conn.execute(f"SELECT kind, value FROM {_STAGED} WHERE (kind, value) > "
                           "(:kind, :value) ORDER BY kind DESC, value DESC LIMIT 1",
                           after).fetchone()
    taken = 0
    if end is not None:
        span = {**after, "end_kind": end[0], "end_value": end[1], "low": low, "high": high}
        (taken,) = conn.execute(
            f"SELECT count(*) FROM {_STAGED} WHERE (kind, value) > (:kind, :value) "
            "AND (kind, value) <= (:end_kind, :end_value)", span).fetchone()
        conn.execute(_SWEEP_STATS, span)
        conn.execute(_SWEEP_ROWS, span)
        kind, value = end
        if conn.execute(f"SELECT 1 FROM {_STAGED} WHERE (kind, value) > (?, ?) LIMIT 1",
                        (kind, value)).fetchone() is not None:
            conn.execute("UPDATE entity_index SET swept_kind = ?, swept_value = ?",
                         (kind, value))
            return int(taken)
    # All staged: the range is indexed (its changed reports wait in entity_pending).
    conn.execute("UPDATE entity_index SET indexed_to = max(indexed_to, sweep_to), "
                 "sweep_to = NULL, swept_kind = '', swept_value = ''")
    return int(taken)
