"""The inbound table: claiming each message once and remembering the reply it got."""

from __future__ import annotations

import sqlite_utils

# WeChat retries within seconds; two days covers any retry and a slow investigation of it.
CLAIM_RETENTION_SECONDS = 2 * 86400


def claim(
    db: sqlite_utils.Database, sender: str, dedup_key: str, kind: str, now: int
) -> str | None:
    """Claim a message for processing; return None if it is new, else the reply it got."""
    inserted = db.execute(
        "INSERT INTO inbound (sender, dedup_key, kind, received_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (sender, dedup_key, kind, now),
    ).rowcount
    if inserted:
        return None
    row = db.execute(
        "SELECT reply FROM inbound WHERE sender = ? AND dedup_key = ?", (sender, dedup_key)
    ).fetchone()
    return str(row[0] or "")


def remember_reply(db: sqlite_utils.Database, sender: str, dedup_key: str, reply: str) -> None:
    """Store the reply a claimed message got, for WeChat's retries of it."""
    db.execute(
        "UPDATE inbound SET reply = ? WHERE sender = ? AND dedup_key = ?",
        (reply, sender, dedup_key),
    )


def prune_claims(db: sqlite_utils.Database, now: int) -> int:
    """Forget claims older than the retention period; return how many."""
    cutoff = now - CLAIM_RETENTION_SECONDS
    return db.execute("DELETE FROM inbound WHERE received_at < ?", (cutoff,)).rowcount
