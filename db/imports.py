"""Filing imported tips in bulk: one transaction per batch, prepared executemany, no per-row query.

A batch takes the write lock (BEGIN IMMEDIATE), so the ids it assigns (max(id) + 1…)
cannot race another writer, and the server's own writes interleave between batches.
Triage's entity tables are left to `db.entities.catch_up`, which the import runs once
its batches are filed: sorted into them many batches at a time, each page of those
tables is written once for many tips rather than once for every few.
Duplicates are skipped, never filed twice:
  - a row whose receipt is already filed (re-importing an export), or repeated earlier
    in the same import;
  - a row without a receipt that matches a filed report on (received_at, channel, who,
    description): the same hotline file imported twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import sqlite_utils

from db.checkpoint import Checkpointer
from db.connection import write_transaction
from db.wal import WalFile

# Log pages the import's connection lets through before checkpointing itself (~400 MB):
# the Checkpointer's thread normally keeps the log far shorter.
BULK_AUTOCHECKPOINT = 100_000
# Reports deleted per transaction when a failed import is taken back.
UNFILE_ROWS = 2_000
# SQLite allows 32,766 host parameters since 3.32; stay far below for older builds.
_CHUNK = 900


class Filing(NamedTuple):
    """One tip ready to file (pickled between the import's worker processes)."""

    receipt: str | None  # None: a fresh receipt is drawn
    reporter: str | None  # a pseudonym; None: unknown (a pseudonym of the receipt)
    channel: str
    status: str
    target_type: str
    who: str
    description: str
    lang: str
    received_at: int | None  # None: the time of the import
    assignee: str | None
    identifiers: tuple[tuple[str, str, str], ...]
    identifiers_text: str | None  # db.reports.identifiers_text of them
    line: int = 0  # of the file it came from: the receipt drawn is printed against it


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one batch did: its reports have the ids first_id … first_id + filed - 1.

    `assigned` holds (line, receipt) of each report it filed, in filing order.
    """

    filed: int
    skipped: int
    first_id: int = 0
    assigned: tuple[tuple[int, str], ...] = ()


def _chunks(values: Sequence[object]) -> Iterable[Sequence[object]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _taken(db: sqlite_utils.Database, receipts: Sequence[str]) -> set[str]:
    """Which of these receipts are filed already."""
    taken: set[str] = set()
    for chunk in _chunks(receipts):
        marks = ",".join("?" * len(chunk))
        taken.update(r for (r,) in db.execute(
            f"SELECT receipt FROM reports WHERE receipt IN ({marks})", tuple(chunk)))
    return taken


def _filed_contents(db: sqlite_utils.Database, times: Sequence[int]
                    ) -> set[tuple[int, str, str, str]]:
    """(received_at, channel, who, description) of filed reports received at these times."""
    found: set[tuple[int, str, str, str]] = set()
    for chunk in _chunks(sorted(set(times))):
        marks = ",".join("?" * len(chunk))
        found.update(db.execute(
            "SELECT received_at, channel, who, description FROM reports "
            f"WHERE received_at IN ({marks})", tuple(chunk)))
    return found


def file_batch(
    db: sqlite_utils.Database,
    filings: Sequence[Filing],
    *,
    now: int,
    actor: str,
    new_receipt: Callable[[], str],
    anonymous: Callable[[str], str],
) -> BatchResult:
    """File a batch of tips in one transaction, skipping duplicates; say how many of each.

    `anonymous(receipt)` is the reporter pseudonym of a tip whose reporter is unknown:
    one per report, so unknown reporters never look like one prolific reporter.
    """
    conn = db.conn
    with write_transaction(db):
        given = [f.receipt for f in filings if f.receipt is not None]
        seen = _taken(db, given)
        contents = _filed_contents(
            db, [f.received_at for f in filings if f.receipt is None and f.received_at])
        keep: list[tuple[str | None, Filing]] = []
        for filing in filings:
            if filing.receipt is not None:
                if filing.receipt in seen:
                    continue
                seen.add(filing.receipt)
                keep.append((filing.receipt, filing))
                continue
            if filing.received_at is not None:
                content = (filing.received_at, filing.channel, filing.who, filing.description)
                if content in contents:
                    continue
                contents.add(content)
            keep.append((None, filing))
        receipts = _draw_receipts(db, [r for r, _ in keep], seen, new_receipt)
        next_id = int(conn.execute("SELECT coalesce(max(id), 0) FROM reports").fetchone()[0])
        first_id = next_id + 1
        reports: list[tuple[object, ...]] = []
        identifiers: list[tuple[int, str, str, str]] = []
        history: list[tuple[int, int, str, str]] = []
        for (_, filing), receipt in zip(keep, receipts, strict=True):
            next_id += 1
            received_at = filing.received_at if filing.received_at is not None else now
            reports.append((
                next_id, receipt, filing.reporter or anonymous(receipt), filing.channel,
                filing.status, filing.target_type, filing.who, filing.description,
                filing.lang, received_at, now, filing.assignee,
                filing.identifiers_text,
            ))
            identifiers.extend((next_id, k, v, r) for k, v, r in filing.identifiers)
            history.append((next_id, now, actor, filing.channel))
        conn.executemany(
            "INSERT INTO reports (id, receipt, reporter, channel, status, target_type, who, "
            "description, lang, received_at, updated_at, assignee, identifiers_text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", reports)
        conn.executemany(
            "INSERT OR IGNORE INTO report_identifiers (report_id, kind, value, raw) "
            "VALUES (?, ?, ?, ?)", identifiers)
        conn.executemany(
            "INSERT INTO report_history (report_id, at, actor, action, detail) "
            "VALUES (?, ?, ?, 'imported', ?)", history)
    assigned = tuple((filing.line, receipt)
                     for (_, filing), receipt in zip(keep, receipts, strict=True))
    return BatchResult(len(reports), len(filings) - len(reports), first_id, assigned)


def unfile(db: sqlite_utils.Database, batches: Sequence[BatchResult]) -> int:
    """Delete the reports these batches filed (an import that failed); return how many.

    UNFILE_ROWS reports per transaction, newest first, so that the server's writes
    interleave (a deletion runs more triggers than the insertion did). Their identifiers
    and history go with them (ON DELETE CASCADE), triage's rows by trigger.
    """
    deleted = 0
    for batch in reversed(batches):
        last = batch.first_id + batch.filed - 1
        while last >= batch.first_id:
            first = max(batch.first_id, last - UNFILE_ROWS + 1)
            with write_transaction(db):
                deleted += db.execute("DELETE FROM reports WHERE id BETWEEN ? AND ?",
                                      (first, last)).rowcount
            last = first - 1
    return deleted


def tune_for_bulk(db: sqlite_utils.Database, path: Path) -> Checkpointer:
    """Set this connection up for a long run of big batches; return a started Checkpointer.

    A larger page cache keeps a batch's index pages from being spilled mid-transaction.
    The log is copied back into the database by a thread of its own (db.checkpoint), so
    the commits, which hold the write lock, do not: at a million reports that copy (and
    its fsync) was a third of each COMMIT. The connection's own checkpoint stays as a
    safety net should the log outgrow ~400 MB. Commits do not wait for the disk
    (synchronous=NORMAL): `make_durable` fsyncs the log once at the end, before the import
    reports what it filed. Stop the Checkpointer before closing the connection.
    """
    db.execute("PRAGMA cache_size = -65536")  # KiB: 64 MiB
    db.execute(f"PRAGMA wal_autocheckpoint = {BULK_AUTOCHECKPOINT}")
    db.execute("PRAGMA synchronous = NORMAL")
    checkpointer = Checkpointer(path)
    checkpointer.start()
    return checkpointer


def make_durable(db_path: str | Path) -> None:
    """Put every commit so far on disk (what synchronous=FULL would have done per batch)."""
    wal = WalFile(db_path)
    try:
        wal.sync()
    finally:
        wal.close()


def _draw_receipts(db: sqlite_utils.Database, given: list[str | None], used: set[str],
                   new_receipt: Callable[[], str]) -> list[str]:
    """Fill in a fresh receipt for every None, unique in the batch and in the database."""
    receipts = list(given)
    missing = [i for i, r in enumerate(receipts) if r is None]
    while missing:
        drawn = {i: new_receipt() for i in missing}
        clash = _taken(db, list(drawn.values()))
        missing = []
        for i, receipt in drawn.items():
            if receipt in clash or receipt in used:
                missing.append(i)  # 50 random bits: a second draw is already rare
            else:
                used.add(receipt)
                receipts[i] = receipt
    return [r for r in receipts if r is not None]
