"""The nonce cache: a request nonce is good for one body inside the timestamp window."""

from __future__ import annotations

import sqlite_utils


def admit_nonce(
    db: sqlite_utils.Database, timestamp: int, nonce: str, body_sha256: bytes
) -> bool:
    """Record a request's nonce; False if it was seen before with a different body."""
    inserted = db.conn.execute(
        "INSERT INTO nonces (timestamp, nonce, body_sha256) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (timestamp, nonce, body_sha256),
    ).rowcount
    if inserted:
        return True
    row = db.conn.execute(
        "SELECT body_sha256 FROM nonces WHERE timestamp = ? AND nonce = ?", (timestamp, nonce)
    ).fetchone()
    # The identical request again is WeChat's own retry: it is answered, not refused.
    return bytes(row[0]) == body_sha256


def prune_nonces(db: sqlite_utils.Database, older_than: int) -> int:
    """Forget nonces whose timestamp is before `older_than`; return how many."""
    return db.conn.execute("DELETE FROM nonces WHERE timestamp < ?", (older_than,)).rowcount
