"""Group commit: a batch of jobs in one transaction, each in its own savepoint.

A batch is one `BEGIN IMMEDIATE … COMMIT`: the write lock from its first statement (no
read-then-upgrade races) and one commit for all its jobs. A job that raises undoes only
itself. The engine runs its tickets in a transaction of its own making (bot/engine.py)
and ends it with `commit` or `rollback` from here.
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


def run_batch(db: sqlite_utils.Database, jobs: Sequence[Job]) -> list[Outcome]:
    """Run `jobs` in one transaction; every outcome is final once this returns."""
    conn = db.conn
    outcomes: list[Outcome] = []
    try:
        conn.execute("BEGIN IMMEDIATE")
        for job in jobs:
            conn.execute("SAVEPOINT job")
            try:
                outcomes.append((True, job(db)))
            except Exception as error:
                conn.execute("ROLLBACK TO job")
                outcomes.append((False, error))
            conn.execute("RELEASE job")
        commit(db)
    except Exception as error:
        rollback(db)
        log.exception("a batch of %d database writes failed", len(jobs))
        return [(False, error)] * len(jobs)
    except BaseException:  # KeyboardInterrupt, SystemExit: leave no transaction open
        rollback(db)
        raise
    return outcomes


def commit(db: sqlite_utils.Database) -> None:
    """Commit the open transaction; roll back if that fails."""
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        rollback(db)
        raise


def rollback(db: sqlite_utils.Database) -> None:
    """Undo the open transaction, if any."""
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")
