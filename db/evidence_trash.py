"""Evidence files no row uses any more, waiting to be removed from the disk.

Rows are queued by the trigger evidence_file_unused (migration 14) in the transaction
that deletes the last evidence row using a file; the file goes only after that commits.
"""

from __future__ import annotations

import sqlite_utils

# A file is removed no sooner than this after its last row went: longer than any download
# (120 s), so a fetch of the same bytes already under way has committed its own row.
GRACE_SECONDS = 600


def take(db: sqlite_utils.Database, queued_by: int | None = None, limit: int = -1
         ) -> list[tuple[str, int]]:
    """Take (sha256, queued_at) of files queued by `queued_by` (None: all) no row uses again.

    Run inside the caller's transaction: the rows go with it, and come back if it fails.
    """
    due = db.conn.execute(
        "SELECT sha256, queued_at FROM evidence_trash WHERE queued_at <= ? LIMIT ?",
        (2**62 if queued_by is None else queued_by, limit)).fetchall()
    db.conn.executemany("DELETE FROM evidence_trash WHERE sha256 = ?", [(s,) for s, _ in due])
    used = db.conn.execute
    return [(sha, int(queued)) for sha, queued in due
            if used("SELECT 1 FROM evidence WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()
            is None]
