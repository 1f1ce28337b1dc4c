"""Group commit: a batch of jobs in one durable transaction, each in its own savepoint.

A batch is one `BEGIN IMMEDIATE … COMMIT` under synchronous=FULL: durability costs one
fsync per batch rather than one per message. `run_jobs` leaves the transaction open so
the caller can commit it elsewhere (the engine commits on a thread while it reads the
next batch); nothing a job did may be reported before `commit` returned. A job that
raises undoes only itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)

Job = Callable[[sqlite_utils.Database], Any]
# (True, result) or (False, the exception the job raised)
Outcome = tuple[bool, Any]


def run_jobs(
    db: sqlite_utils.Database, jobs: Sequence[Job], *, savepoints: bool = True
) -> list[Outcome]:
    """Take the write lock and run `jobs`, leaving the transaction open for `commit`.

    Without `savepoints`, each job must keep itself atomic (one statement, or its own
    savepoint): the two statements a savepoint costs add up over a batch.
    """
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")  # the lock first: no read-then-upgrade races
    outcomes: list[Outcome] = []
    try:
        for job in jobs:
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                outcomes.append((True, job(db)))
            except Exception as error:
                if savepoints:
                    conn.execute("ROLLBACK TO job")
                outcomes.append((False, error))
            if savepoints:
                conn.execute("RELEASE job")
    except BaseException:
        rollback(db)
        raise
    return outcomes


def commit(db: sqlite_utils.Database) -> None:
    """Commit the open transaction (durably: synchronous=FULL); roll back if that fails."""
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise


def rollback(db: sqlite_utils.Database) -> None:
    """Undo the open transaction, if any."""
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def run_batch(db: sqlite_utils.Database, jobs: Sequence[Job]) -> list[Outcome]:
    """Run `jobs` in one transaction; every outcome is final once this returns."""
    try:
        outcomes = run_jobs(db, jobs)
        commit(db)
    except Exception as error:
        log.exception("a batch of %d database writes failed", len(jobs))
        return [(False, error)] * len(jobs)
    return outcomes
