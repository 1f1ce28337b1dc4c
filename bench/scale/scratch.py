"""A throwaway copy of a big database for the scale scripts to write into."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path


def scratch_copy(source: Path, folder: Path) -> Path:
    """Copy `source` (with whatever its log holds) into `folder`; return the copy's path.

    SQLite's backup API from a read-only connection: the source is never written, and
    the copy is consistent even while a server writes to it.
    """
    if not source.is_file():
        raise SystemExit(f"no database at {source}")
    copy = folder / source.name
    with (contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
          contextlib.closing(sqlite3.connect(copy)) as target):
        src.backup(target)
    return copy
