"""Durable commits without waiting on the disk inside the transaction: fsync the WAL after.

Under synchronous=FULL, SQLite fsyncs the write-ahead log inside COMMIT, while it holds
the write lock, so the next batch cannot start until the disk answers (a few ms, during
which the engine sat idle). Under synchronous=NORMAL the COMMIT only writes the log, and
an fsync of that file afterwards makes everything committed before it durable: the same
guarantee, because no reply leaves until that fsync returned (bot/server/engine.py), while the
next batch already runs. NORMAL in WAL mode never corrupts the database on power loss
(SQLite's own guarantee: checkpoints still sync); it only may lose the last commits,
which is exactly what the fsync covers.
"""

from __future__ import annotations

import os
from pathlib import Path

ENGINE_SYNCHRONOUS = "NORMAL"


class WalFile:
    """A database's `-wal` file, kept open so that it can be fsynced."""

    def __init__(self, db_path: str | Path) -> None:
        self.path = Path(f"{db_path}-wal")
        self._fd = -1
        self._inode = -1
        self._open()

    def sync(self) -> None:
        """Put everything committed so far on disk (raises OSError if the disk fails)."""
        # SQLite keeps the file while a connection is open, but should it ever be
        # replaced (the last connection closed elsewhere), sync the one now in use.
        if os.stat(self.path).st_ino != self._inode:
            os.close(self._fd)
            self._open()
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_RDONLY)
        self._inode = os.fstat(self._fd).st_ino
        # A new file's name must be durable too, or the log could vanish with the power.
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
