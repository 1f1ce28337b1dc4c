"""Admin operations on the database: the admin log, online backup and retention purge."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from db import evidence_trash
from db.connection import write_transaction
from db.conversations import count_drafts, sweep_drafts, sweep_stray_evidence

PURGE_BATCH = 5_000  # reports per transaction: the server's writes get the lock in between


def log_action(db: sqlite_utils.Database, at: int, actor: str, action: str,
               detail: dict[str, Any]) -> None:
    """Append one entry to admin_log (its own transaction)."""
    db.execute(
        "INSERT INTO admin_log (at, actor, action, detail) VALUES (?, ?, ?, ?)",
        (at, actor, action, json.dumps(detail, ensure_ascii=False, sort_keys=True)),
    )


def admin_log(db: sqlite_utils.Database) -> list[tuple[int, str, str, dict[str, Any]]]:
    """Every admin_log entry, oldest first: (at, actor, action, detail)."""
    return [(at, actor, action, json.loads(detail or "{}")) for at, actor, action, detail
            in db.execute("SELECT at, actor, action, detail FROM admin_log ORDER BY id")]


# --- backup -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BackupResult:
    """A finished backup: where, how big, how many reports it holds."""

    path: Path
    size: int
    reports: int


class BackupError(Exception):
    """The backup could not be made or did not verify; the message says why."""


def backup(source: Path, dest: Path) -> BackupResult:
    """Copy the live database to `dest` with SQLite's online backup API, then verify the copy.

    One backup step copies every page under one read transaction: a consistent snapshot,
    while the server goes on writing (WAL readers do not block writers). Stepping in
    chunks would restart whenever another connection writes, possibly forever. The copy
    is written beside `dest` and renamed into place only once it checks out.
    """
    partial = dest.with_name(f".{dest.name}.partial")
    src = sqlite3.connect(source)
    try:
        src.execute("PRAGMA busy_timeout = 5000")
        partial.unlink(missing_ok=True)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            # integrity_check, not quick_check: SQLite 3.40's quick_check reports NULLs that
            # are not there in WITHOUT ROWID tables whose key order differs from their
            # column order (watchlist_terms), and would refuse every good backup.
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
            reports = _count_reports(dst)
        finally:
            dst.close()
        with open(partial, "rb+") as copy:
            os.fsync(copy.fileno())
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    return BackupResult(dest, dest.stat().st_size, reports)


def _count_reports(conn: sqlite3.Connection) -> int:
    try:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])
    except sqlite3.OperationalError:  # a database from before the reports table
        return 0


# --- purge ------------------------------------------------------------------------------


@dataclass(slots=True)
class PurgeCounts:
    """What a purge removes (or, in a dry run, would remove)."""

    reports: int = 0
    evidence: int = 0  # evidence rows of those reports
    by_status: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # SHA-256s no remaining report uses
    drafts: int = 0  # abandoned drafts (with their evidence), when no status is chosen


def _where(cutoff: int, statuses: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
    sql = "received_at < ?"
    params: tuple[Any, ...] = (cutoff,)
    if statuses:
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        params += tuple(statuses)
    return sql, params


def purge_plan(db: sqlite_utils.Database, cutoff: int, statuses: Sequence[str] = ()
               ) -> PurgeCounts:
    """Count what `purge` would remove, without removing anything."""
    where, params = _where(cutoff, statuses)
    counts = PurgeCounts()
    db.execute("BEGIN")
    try:
        counts.by_status = {s: n for s, n in db.execute(
            f"SELECT status, count(*) FROM reports WHERE {where} GROUP BY status ORDER BY status",
            params)}
        counts.reports = sum(counts.by_status.values())
        counts.evidence = int(db.execute(
            f"SELECT count(*) FROM evidence WHERE report_id IN (SELECT id FROM reports "
            f"WHERE {where})", params).fetchone()[0])
        shas = [s for (s,) in db.execute(
            f"SELECT DISTINCT sha256 FROM evidence WHERE sha256 IS NOT NULL AND report_id IN "
            f"(SELECT id FROM reports WHERE {where})", params)]
        kept = _still_used(db, shas, exclude=(where, params))
        counts.files = sorted(set(shas) - kept)
        if not statuses:
            counts.drafts = count_drafts(db, cutoff)
    finally:
        db.execute("COMMIT")
    return counts


def purge(db: sqlite_utils.Database, cutoff: int, statuses: Sequence[str] = ()) -> PurgeCounts:
    """Delete reports received before `cutoff` (with identifiers, evidence rows and history).

    Returns what went, with the SHA-256s of evidence files no remaining report uses:
    the caller deletes those files after this returns (rows first, so a crash leaves at
    worst an unreferenced file, never a report whose evidence is gone).
    """
    where, params = _where(cutoff, statuses)
    counts = PurgeCounts()
    shas: set[str] = set()
    conn = db.conn
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                f"SELECT id, status FROM reports WHERE {where} ORDER BY id LIMIT ?",
                (*params, PURGE_BATCH)).fetchall()
            if not rows:
                conn.execute("COMMIT")
                break
            ids = [i for i, _ in rows]
            marks = ",".join("?" * len(ids))
            for _, status in rows:
                counts.by_status[status] = counts.by_status.get(status, 0) + 1
            counts.evidence += int(conn.execute(
                f"SELECT count(*) FROM evidence WHERE report_id IN ({marks})", ids).fetchone()[0])
            shas.update(s for (s,) in conn.execute(
                f"SELECT DISTINCT sha256 FROM evidence WHERE report_id IN ({marks}) "
                "AND sha256 IS NOT NULL", ids))
            reporters = [r for (r,) in conn.execute(
                f"SELECT DISTINCT reporter FROM reports WHERE id IN ({marks})", ids)]
            # ON DELETE CASCADE (foreign_keys is on): identifiers, evidence, fetch jobs,
            # history, the outbox and questions.
            conn.execute(f"DELETE FROM reports WHERE id IN ({marks})", ids)
            # A reporter with no report left has no contact kept either (sealed OpenID).
            conn.executemany("DELETE FROM contacts WHERE reporter = ? AND NOT EXISTS "
                             "(SELECT 1 FROM reports WHERE reporter = ?)",
                             [(r, r) for r in reporters])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        counts.reports += len(ids)
    unused = shas - _still_used(db, sorted(shas))
    if not statuses:
        # Drafts untouched as long, with their evidence: a draft is no report, but its
        # photos and exact location are as much the reporter's.
        with write_transaction(db):
            counts.drafts = sweep_drafts(db, cutoff)
            sweep_stray_evidence(db, cutoff)
            unused.update(sha for sha, _ in evidence_trash.take(db))
    counts.files = sorted(unused)
    return counts


def _still_used(db: sqlite_utils.Database, shas: Sequence[str],
                exclude: tuple[str, tuple[Any, ...]] | None = None) -> set[str]:
    """Which of these SHA-256s some evidence row (of a report not excluded) still uses."""
    if not shas:
        return set()
    # One pass over evidence against a temporary table, rather than a scan per file
    # (evidence has no index on sha256, and needs none elsewhere).
    db.execute("CREATE TEMP TABLE IF NOT EXISTS purge_shas (sha256 TEXT PRIMARY KEY)")
    db.execute("DELETE FROM temp.purge_shas")
    db.conn.executemany("INSERT OR IGNORE INTO temp.purge_shas VALUES (?)",
                        [(s,) for s in shas])
    sql = ("SELECT DISTINCT e.sha256 FROM evidence AS e "
           "WHERE e.sha256 IN (SELECT sha256 FROM temp.purge_shas)")
    params: tuple[Any, ...] = ()
    if exclude is not None:
        # A dry run: the reports to purge are still there; their evidence does not count.
        sql += (" AND (e.report_id IS NULL OR e.report_id NOT IN "
                f"(SELECT id FROM reports WHERE {exclude[0]}))")
        params = exclude[1]
    used = {s for (s,) in db.execute(sql, params)}
    db.execute("DELETE FROM temp.purge_shas")
    return used
