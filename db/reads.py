"""The image read queue and what was read: a job per fetched image, claimed under a lease.

A job is queued in the transaction that records the image as fetched (db/fetch_jobs.py),
so no image is stored unread; it is claimed by one reader for a lease, and settled once
(read, or failed with a reason) in the transaction that stores what was read. A reader
that dies leaves its lease to run out, and the job is claimed again, its attempt counted.

Read status of an evidence item (`read_status`): NULL until it is an image on disk;
`pending` while queued; `done`; `failed: <reason>`. What was read is kept per evidence
item (`evidence_identifiers`, with `qr` or `ocr` as source) and, for an evidence item of
a filed report, joins the report's identifiers with its `evidence_id` (the
evidence_identifiers_filed trigger does it for evidence filed later).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlite_utils

from db.connection import write_transaction
from triage.pictures.phash import NEAR, distance

PENDING, DONE = "pending", "done"


def readable(mime: str | None) -> bool:
    """Whether a fetched file is a picture the reader reads (photos, image files; not video)."""
    return bool(mime) and str(mime).lower().startswith("image/")


@dataclass(frozen=True, slots=True)
class ReadJob:
    """An image to read, as a reader claimed it."""

    evidence_id: int
    sha256: str
    attempts: int  # including this one


@dataclass(frozen=True, slots=True)
class ReadResult:
    """What a reader read from one image, to store."""

    found: Sequence[tuple[str, str, str, str]]  # (kind, value, raw, source)
    text: str
    phash: int


def enqueue(db: sqlite_utils.Database, evidence_id: int, now: int) -> None:
    """Queue an image for reading (inside the transaction that records it as fetched)."""
    db.execute("INSERT OR IGNORE INTO read_jobs (evidence_id, due_at) VALUES (?, ?)",
               (evidence_id, now))
    db.execute("UPDATE evidence SET read_status = ? WHERE id = ?", (PENDING, evidence_id))


def enqueue_stored(db: sqlite_utils.Database, now: int, *, since: int | None = None,
                   again: bool = False) -> int:
    """Queue stored images for (re)reading: those never read, or with `again` all of them."""
    where = ["sha256 IS NOT NULL", "lower(mime) LIKE 'image/%'",
             "id NOT IN (SELECT evidence_id FROM read_jobs)"]
    params: list[object] = []
    if not again:
        where.append("(read_status IS NULL OR read_status = 'pending')")
    if since is not None:
        where.append("received_at >= ?")
        params.append(since)
    with write_transaction(db):
        ids = [row[0] for row in db.execute(
            f"SELECT id FROM evidence WHERE {' AND '.join(where)} ORDER BY id", params)]
        for evidence_id in ids:
            enqueue(db, evidence_id, now)
    return len(ids)


def claim(db: sqlite_utils.Database, worker: str, now: int, lease: int) -> ReadJob | None:
    """Take the oldest due job no one else holds, for `lease` seconds (one UPDATE … RETURNING)."""
    with write_transaction(db):
        row = db.execute(
            "UPDATE read_jobs SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 "
            "WHERE evidence_id = (SELECT evidence_id FROM read_jobs "
            "  WHERE due_at <= ? AND claimed_until <= ? ORDER BY due_at, evidence_id LIMIT 1) "
            "RETURNING evidence_id, attempts", (worker, now + lease, now, now)).fetchone()
        if row is None:
            return None
        found = db.execute("SELECT sha256 FROM evidence WHERE id = ?", (row[0],)).fetchone()
        if found is None or found[0] is None:  # the evidence went (a purge): nothing to read
            db.execute("DELETE FROM read_jobs WHERE evidence_id = ?", (row[0],))
            return None
    return ReadJob(row[0], found[0], row[1])


def done(db: sqlite_utils.Database, job: ReadJob, worker: str, result: ReadResult,
         now: int) -> bool:
    """Store what was read and close the job; False if the job was no longer ours."""
    with write_transaction(db):
        if not _close(db, job, worker):
            return False
        db.execute("UPDATE evidence SET read_status = ?, read_text = ?, phash = ?, read_at = ? "
                   "WHERE id = ?", (DONE, result.text, result.phash, now, job.evidence_id))
        _replace_found(db, job.evidence_id, result.found)
    return True


def failed(db: sqlite_utils.Database, job: ReadJob, worker: str, reason: str, now: int
           ) -> bool:
    """Record that an image cannot be read, and why; False if the job was no longer ours."""
    with write_transaction(db):
        if not _close(db, job, worker):
            return False
        db.execute("UPDATE evidence SET read_status = ?, read_at = ? WHERE id = ?",
                   (f"failed: {reason}", now, job.evidence_id))
    return True


def retry_later(db: sqlite_utils.Database, job: ReadJob, worker: str, due_at: int,
                error: str) -> None:
    """Give a job back to the queue, due again at `due_at` (its attempt stays counted)."""
    with write_transaction(db):
        db.execute("UPDATE read_jobs SET due_at = ?, claimed_by = NULL, claimed_until = 0, "
                   "last_error = ? WHERE evidence_id = ? AND claimed_by = ?",
                   (due_at, error, job.evidence_id, worker))


def release(db: sqlite_utils.Database, worker: str | None = None) -> int:
    """Give back the jobs `worker` holds (all when None): a stop, or a fresh start."""
    where, params = ("WHERE claimed_by = ?", (worker,)) if worker else ("", ())
    with write_transaction(db):
        return len(db.execute("UPDATE read_jobs SET claimed_by = NULL, claimed_until = 0 "
                              f"{where} RETURNING evidence_id", params).fetchall())


def pending(db: sqlite_utils.Database) -> int:
    """How many images are waiting to be read."""
    return int(db.execute("SELECT count(*) FROM read_jobs").fetchone()[0])


def retry_due(db: sqlite_utils.Database, now: int) -> int:
    """How many jobs nobody holds are waiting to be tried again (not yet due)."""
    return int(db.execute("SELECT count(*) FROM read_jobs WHERE due_at > ? "
                          "AND claimed_until <= ?", (now, now)).fetchone()[0])


def found_in(db: sqlite_utils.Database, evidence_ids: Iterable[int]
             ) -> dict[int, list[tuple[str, str, str, str]]]:
    """What was read from each evidence item: (kind, value, raw, source), by evidence id."""
    ids = list(evidence_ids)
    out: dict[int, list[tuple[str, str, str, str]]] = {i: [] for i in ids}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    for evidence_id, kind, value, raw, source in db.execute(
            f"SELECT evidence_id, kind, value, raw, source FROM evidence_identifiers "
            f"WHERE evidence_id IN ({marks}) ORDER BY evidence_id, source DESC, kind, value", ids):
        out[evidence_id].append((kind, value, raw, source))
    return out


def looks_like(db: sqlite_utils.Database, phash: int, report_id: int | None) -> list[str]:
    """Receipts of other reports holding a near-identical image (oldest first)."""
    db.conn.create_function("tipline_phash_distance", 2, distance, deterministic=True)
    rows = db.execute(
        "SELECT DISTINCT r.receipt, r.id FROM evidence AS e "
        "JOIN reports AS r ON r.id = e.report_id "
        "WHERE e.phash IS NOT NULL AND e.report_id IS NOT ? "
        "AND tipline_phash_distance(e.phash, ?) <= ? ORDER BY r.id",
        (report_id, phash, NEAR)).fetchall()
    return [receipt for receipt, _ in rows]


def _close(db: sqlite_utils.Database, job: ReadJob, worker: str) -> bool:
    return bool(db.execute("DELETE FROM read_jobs WHERE evidence_id = ? AND claimed_by = ?",
                           (job.evidence_id, worker)).rowcount)


def _replace_found(db: sqlite_utils.Database, evidence_id: int,
                   found: Sequence[tuple[str, str, str, str]]) -> None:
    """Replace what an image is known to name, in its own rows and its report's."""
    db.execute("DELETE FROM evidence_identifiers WHERE evidence_id = ?", (evidence_id,))
    db.conn.executemany(
        "INSERT OR IGNORE INTO evidence_identifiers (evidence_id, kind, value, raw, source) "
        "VALUES (?, ?, ?, ?, ?)", [(evidence_id, *item) for item in found])
    report = db.execute("SELECT report_id FROM evidence WHERE id = ?",
                        (evidence_id,)).fetchone()
    if report is None or report[0] is None:
        return  # a draft's evidence: it joins the report when filed (trigger)
    # A re-read (a better model) may no longer find what it found before.
    db.execute("DELETE FROM report_identifiers WHERE report_id = ? AND evidence_id = ? "
               "AND (kind, value) NOT IN (SELECT kind, value FROM evidence_identifiers "
               "WHERE evidence_id = ?)", (report[0], evidence_id, evidence_id))
    db.execute(
        "INSERT OR IGNORE INTO report_identifiers (report_id, kind, value, raw, evidence_id) "
        "SELECT ?, kind, value, raw, evidence_id FROM evidence_identifiers "
        "WHERE evidence_id = ?", (report[0], evidence_id))
