"""The inbound table: each message accepted once, with the reply it got.

The engine runs these for every message: straight on the connection (sqlite_utils's
`execute` adds its own checks per call), which opens no transaction of its own.
"""

from __future__ import annotations

import sqlite_utils

# WeChat retries within seconds; two days covers any retry and a slow investigation of it.
CLAIM_RETENTION_SECONDS = 2 * 86400


def stored_reply(db: sqlite_utils.Database, sender: str, dedup_key: str) -> str | None:
    """The reply a message already got, or None if it is new."""
    row = db.conn.execute(
        "SELECT reply FROM inbound WHERE sender = ? AND dedup_key = ?", (sender, dedup_key)
    ).fetchone()
    return None if row is None else str(row[0])


def record(
    db: sqlite_utils.Database, sender: str, dedup_key: str, kind: str, now: int, reply: str
) -> None:
    """Record a message as handled, with its reply; a second record of it fails."""
    db.conn.execute(
        "INSERT INTO inbound (sender, dedup_key, kind, received_at, reply) "
        "VALUES (?, ?, ?, ?, ?)",
        (sender, dedup_key, kind, now, reply),
    )


def prune_claims(db: sqlite_utils.Database, now: int) -> int:
    """Forget messages older than the retention period; return how many."""
    cutoff = now - CLAIM_RETENTION_SECONDS
    return db.conn.execute("DELETE FROM inbound WHERE received_at < ?", (cutoff,)).rowcount
