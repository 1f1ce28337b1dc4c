"""Opening the SQLite database: WAL, durable commits, a busy timeout well inside WeChat's 5 s."""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
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


class Unopenable(Exception):
    """The database cannot be opened as asked; the message says why, in one line."""


def writable(path: Path) -> bool:
    """Whether the database file and its folder (where -wal and -shm live) can be written."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def read_only_copy(path: Path) -> bool:
    """Whether `path` is a database nobody may write (a copy on read-only media): read as is."""
    return path.is_file() and not writable(path)


def connect(path: str | Path, *, readonly: bool = False,
            busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite_utils.Database:
    """Open (creating its folder) the database at `path` with Tipline's pragmas."""
    path = Path(path)
    if path.is_dir():
        raise Unopenable(f"{path} is a folder, not a database file (point TIPLINE_DB at a "
                         f"file, e.g. {path / 'tipline.db'})")
    if not readonly and path.exists() and not writable(path):
        raise Unopenable(f"{path} is read-only (the file or its folder cannot be written), "
                         "and this command writes to it")
    try:
        if readonly:
            conn = sqlite3.connect(_read_only_uri(path), uri=True, isolation_level=None,
                                   check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the first
            # statement of every transaction takes the write lock (no read-then-upgrade
            # deadlocks).
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit is on disk (WAL fsynced) before a reply says "filed".
            conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # not a database?
    except sqlite3.Error as error:
        hint = ""
        if readonly and _wal(path).exists() and not Path(f"{path}-shm").exists():
            hint = (f"; the copy has {_wal(path).name} but no {path.name}-shm: copy that "
                    "too, or make a one-file copy with `tipline backup`")
        raise Unopenable(f"cannot open the database {path}: {error}{hint}") from None
    except OSError as error:
        raise Unopenable(f"cannot create {path.parent}: {error.strerror or error}") from None
    return sqlite_utils.Database(conn)


def _wal(path: Path) -> Path:
    return Path(f"{path}-wal")


def _read_only_uri(path: Path) -> str:
    """A read-only URI: immutable on media nobody can write unless a WAL holds commits.

    A WAL-mode database opened `mode=ro` needs its -shm; on read-only media with no -wal
    there is nothing outside the main file, so `immutable=1` reads it exactly. A live
    database (writable by someone) is never opened immutable: it may change underneath.
    """
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro"
    wal = _wal(path)
    if not writable(path) and not (wal.exists() and wal.stat().st_size > 0):
        uri += "&immutable=1"
    return uri


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
