"""The WeChat access token every process shares, kept in SQLite."""

from __future__ import annotations

import sqlite_utils

from db.connection import write_transaction


def load(db: sqlite_utils.Database, app_id: str) -> tuple[str, int] | None:
    """The stored token for an AppID and when it expires, or None."""
    row = db.execute(
        "SELECT token, expires_at FROM api_tokens WHERE app_id = ?", (app_id,)
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def save(db: sqlite_utils.Database, app_id: str, token: str, expires_at: int, now: int) -> None:
    """Store a freshly issued token for every process to use."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO api_tokens (app_id, token, expires_at, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (app_id) DO UPDATE SET token = excluded.token, "
            "expires_at = excluded.expires_at, fetched_at = excluded.fetched_at",
            (app_id, token, expires_at, now),
        )
