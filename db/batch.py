"""Group commit: run a batch of jobs in one durable transaction, each in its own savepoint.

A batch is one `BEGIN IMMEDIATE … COMMIT` under synchronous=FULL: durability costs one
fsync per batch rather than one per message, and nothing a job did is reported before
the commit returned. A job that raises undoes only itself.
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
        conn.execute("BEGIN IMMEDIATE")  # the lock first: no read-then-upgrade races
        for job in jobs:
            conn.execute("SAVEPOINT job")
            try:
                outcomes.append((True, job(db)))
            except Exception as error:
                conn.execute("ROLLBACK TO job")
                outcomes.append((False, error))
            conn.execute("RELEASE job")
        conn.execute("COMMIT")
    except Exception as error:
        log.exception("a batch of %d database writes failed", len(jobs))
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return [(False, error)] * len(jobs)
    return outcomes
