"""The media fetch queue: a job per media item, claimed under a lease, settled once."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from db import reads
from db.connection import write_transaction

# WeChat deletes temporary media 3 days after it was sent.
MEDIA_LIFETIME = 3 * 86400


@dataclass(frozen=True, slots=True)
class FetchJob:
    """A media item to download, as a fetcher claimed it."""

    evidence_id: int
    kind: str
    media_id: str
    attempts: int  # including this one
    expires_at: int


def enqueue(db: sqlite_utils.Database, evidence_id: int, received_at: int) -> None:
    """Queue a media item for download (inside the transaction that records it)."""
    db.execute(
        "INSERT INTO fetch_jobs (evidence_id, due_at, expires_at) VALUES (?, ?, ?)",
        (evidence_id, received_at, received_at + MEDIA_LIFETIME),
    )


def claim(db: sqlite_utils.Database, worker: str, now: int, lease: int, limit: int
          ) -> list[FetchJob]:
    """Take up to `limit` due jobs no one else holds, for `lease` seconds.

    One UPDATE … RETURNING under the write lock: two fetchers can never take the same job.
    """
    rows = _write(db, (
        "UPDATE fetch_jobs SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 "
        "WHERE evidence_id IN (SELECT evidence_id FROM fetch_jobs "
        "  WHERE due_at <= ? AND claimed_until <= ? ORDER BY due_at LIMIT ?) "
        "RETURNING evidence_id, attempts, expires_at"
    ), (worker, now + lease, now, now, limit))
    if not rows:
        return []
    marks = ",".join("?" * len(rows))
    media: dict[int, tuple[str, str]] = {
        row[0]: (row[1], row[2]) for row in db.execute(
            f"SELECT id, kind, media_id FROM evidence WHERE id IN ({marks})",
            [row[0] for row in rows],
        )
    }
    return [FetchJob(evidence_id, media[evidence_id][0], media[evidence_id][1], attempts,
                     expires_at)
            for evidence_id, attempts, expires_at in rows if evidence_id in media]


def fetched(db: sqlite_utils.Database, job: FetchJob, worker: str, sha256: str, size: int,
            mime: str, now: int) -> bool:
    """Record a downloaded file and close the job; False if the job was no longer ours.

    A picture is queued for reading in the same transaction: none is stored unread.
    """
    with write_transaction(db):
        if not _close(db, job, worker):
            return False
        db.execute("UPDATE evidence SET fetch_status = 'fetched', sha256 = ?, size = ?, "
                   "mime = ?, fetched_at = ? WHERE id = ?",
                   (sha256, size, mime, now, job.evidence_id))
        if reads.readable(mime):
            reads.enqueue(db, job.evidence_id, now)
    return True


def failed(db: sqlite_utils.Database, job: FetchJob, worker: str, reason: str) -> bool:
    """Record that a media item cannot be fetched, and why; the report keeps its row."""
    return _settle(db, job, worker, "UPDATE evidence SET fetch_status = ? WHERE id = ?",
                   (f"failed: {reason}", job.evidence_id))


def retry_later(db: sqlite_utils.Database, job: FetchJob, worker: str, due_at: int,
                error: str) -> None:
    """Give a job back to the queue, due again at `due_at`."""
    _write(db, (
        "UPDATE fetch_jobs SET due_at = ?, claimed_by = NULL, claimed_until = 0, "
        "last_error = ? WHERE evidence_id = ? AND claimed_by = ?"
    ), (due_at, error, job.evidence_id, worker))


def release(db: sqlite_utils.Database, worker: str | None = None) -> int:
    """Give back the jobs `worker` holds (all jobs when None): a stop, or a fresh start."""
    where, params = ("WHERE claimed_by = ?", (worker,)) if worker else ("", ())
    return len(_write(db, "UPDATE fetch_jobs SET claimed_by = NULL, claimed_until = 0 "
                          f"{where} RETURNING evidence_id", params))


def pending(db: sqlite_utils.Database) -> int:
    """How many media items are still waiting to be fetched."""
    return int(db.execute("SELECT count(*) FROM fetch_jobs").fetchone()[0])


def _settle(db: sqlite_utils.Database, job: FetchJob, worker: str, sql: str,
            params: tuple[object, ...]) -> bool:
    with write_transaction(db):
        gone = _close(db, job, worker)
        if gone:
            db.execute(sql, params)
    return gone


def _close(db: sqlite_utils.Database, job: FetchJob, worker: str) -> bool:
    return bool(db.execute("DELETE FROM fetch_jobs WHERE evidence_id = ? AND claimed_by = ?",
                           (job.evidence_id, worker)).rowcount)


def _write(db: sqlite_utils.Database, sql: str, params: tuple[object, ...]
           ) -> list[tuple[int, ...]]:
    with write_transaction(db):
        rows: list[tuple[int, ...]] = db.execute(sql, params).fetchall()
    return rows
