"""Numbered schema migrations, applied at start-up under the write lock."""

from __future__ import annotations

import sqlite_utils

# Append only: migration N is MIGRATIONS[N - 1]; PRAGMA user_version records the last applied.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        # Every message or event accepted, keyed the way WeChat's retries repeat it,
        # with the reply it got (so a retry is answered again, not processed again).
        """CREATE TABLE inbound (
            sender TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            reply TEXT,
            PRIMARY KEY (sender, dedup_key)
        ) WITHOUT ROWID""",
        "CREATE INDEX inbound_received_at ON inbound (received_at)",
        # Request nonces seen inside the timestamp window, with a digest of the body
        # they came with: the same nonce with another body is a replay.
        """CREATE TABLE nonces (
            timestamp INTEGER NOT NULL,
            nonce TEXT NOT NULL,
            body_sha256 BLOB NOT NULL,
            PRIMARY KEY (timestamp, nonce)
        ) WITHOUT ROWID""",
        # One row per reporter (pseudonym): the conversation state as JSON.
        """CREATE TABLE conversations (
            reporter TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID""",
    ),
)


def schema_version(db: sqlite_utils.Database) -> int:
    """Return the number of the last migration applied."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite_utils.Database) -> int:
    """Apply pending migrations in one transaction; return how many were applied."""
    if schema_version(db) >= len(MIGRATIONS):
        return 0
    db.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the lock: another worker process may have migrated meanwhile.
        current = schema_version(db)
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema {current} is newer than this Tipline ({len(MIGRATIONS)})"
            )
        for number in range(current + 1, len(MIGRATIONS) + 1):
            for statement in MIGRATIONS[number - 1]:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return len(MIGRATIONS) - current
