"""The nonce cache: a replay key (the nonce; in safe mode msg_signature) is good for one body
inside the timestamp window."""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils


def admit_nonces(
    db: sqlite_utils.Database, stamps: Sequence[tuple[int, str, bytes]]
) -> list[bool]:
    """Record requests' (timestamp, nonce, body digest); False where seen with another body.

    One statement for the whole batch: when every nonce is new, as nearly always, that is
    all. Otherwise each is compared with what is stored, which is also right for two
    requests of one batch sharing a nonce (the first one's body is the one stored).
    """
    inserted = db.conn.executemany(
        "INSERT INTO nonces (timestamp, nonce, body_sha256) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        stamps,
    ).rowcount
    if inserted == len(stamps):
        return [True] * len(stamps)
    stored = db.conn.execute
    # The identical request again is WeChat's own retry: it is answered, not refused.
    return [
        bytes(stored("SELECT body_sha256 FROM nonces WHERE timestamp = ? AND nonce = ?",
                     (timestamp, nonce)).fetchone()[0]) == digest
        for timestamp, nonce, digest in stamps
    ]


def prune_nonces(db: sqlite_utils.Database, older_than: int) -> int:
    """Forget nonces whose timestamp is before `older_than`; return how many."""
    return db.conn.execute("DELETE FROM nonces WHERE timestamp < ?", (older_than,)).rowcount
