"""Opening the SQLite database: WAL, durable commits, a busy timeout well inside WeChat's 5 s."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

# WeChat gives up after 5 s; a writer waiting longer than this for another process's
# lock has already lost the race, so it fails fast and the retry finds the stored reply.
BUSY_TIMEOUT_MS = 2000
# A person at a terminal can wait for the server's transactions longer than WeChat can.
CLI_BUSY_TIMEOUT_MS = 10_000

# The database handle every module outside db/ is given (so that only db/ names sqlite_utils).
Database = sqlite_utils.Database


def connect(path: str | Path, *, readonly: bool = False,
            busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite_utils.Database:
    """Open (creating its folder) the database at `path` with Tipline's pragmas."""
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the first statement
        # of every transaction takes the write lock (no read-then-upgrade deadlocks).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk (WAL fsynced) before a reply says "filed".
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


@contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One transaction holding the write lock from its first statement: commit, or undo all.

    BEGIN IMMEDIATE, so a read inside it cannot be overtaken by another process's write
    (no read-then-upgrade deadlocks).
    """
    nested = db.conn.in_transaction  # BEGIN refuses it; the caller's transaction is theirs
    try:
        # Inside the try: a Ctrl-C while BEGIN waited for the lock is raised just after it
        # returns, and must not leave the transaction open.
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction and not nested:
            db.execute("ROLLBACK")
        raise
