"""Group commit: a batch of jobs in one transaction, each in its own savepoint.

A batch is one `BEGIN IMMEDIATE … COMMIT`: the write lock from its first statement (no
read-then-upgrade races) and one commit for all its jobs. A job that raises undoes only
itself. The engine (bot/server/engine.py) runs its tickets in a transaction it opens with
`begin`, guards a message with `savepoint` when it must, and ends with `commit` or
`rollback`: every transaction statement of the service is here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)

Job = Callable[[sqlite_utils.Database], Any]
# (True, result) or (False, the exception the job raised)
Outcome = tuple[bool, Any]


def run_batch(db: sqlite_utils.Database, jobs: Sequence[Job]) -> list[Outcome]:
    """Run `jobs` in one transaction; every outcome is final once this returns."""
    outcomes: list[Outcome] = []
    try:
        begin(db)
        for job in jobs:
            try:
                with savepoint(db):
                    outcomes.append((True, job(db)))
            except Exception as error:
                outcomes.append((False, error))
        commit(db)
    except Exception as error:
        rollback(db)
        log.exception("a batch of %d database writes failed", len(jobs))
        return [(False, error)] * len(jobs)
    except BaseException:  # KeyboardInterrupt, SystemExit: leave no transaction open
        rollback(db)
        raise
    return outcomes


def begin(db: sqlite_utils.Database) -> None:
    """Open a transaction holding the write lock from its first statement."""
    db.conn.execute("BEGIN IMMEDIATE")


def in_transaction(db: sqlite_utils.Database) -> bool:
    """Whether a transaction is open on this connection."""
    return db.conn.in_transaction


@contextmanager
def savepoint(db: sqlite_utils.Database, name: str = "job") -> Iterator[None]:
    """Run the block in a savepoint: if it raises, only its own effects are undone."""
    conn = db.conn
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        conn.execute(f"ROLLBACK TO {name}")
        conn.execute(f"RELEASE {name}")
        raise
    conn.execute(f"RELEASE {name}")


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
