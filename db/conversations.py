"""The conversations table: each reporter's conversation state, as JSON."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


def load_state(db: sqlite_utils.Database, reporter: str) -> dict[str, Any]:
    """Return the reporter's saved state, or an empty one."""
    row = db.execute(
        "SELECT state FROM conversations WHERE reporter = ?", (reporter,)
    ).fetchone()
    if row is None:
        return {}
    state = json.loads(row[0])
    return state if isinstance(state, dict) else {}


def save_state(
    db: sqlite_utils.Database, reporter: str, state: dict[str, Any], now: int
) -> None:
    """Save the reporter's state; an empty state deletes the row."""
    if not state:
        db.execute("DELETE FROM conversations WHERE reporter = ?", (reporter,))
        return
    db.execute(
        "INSERT INTO conversations (reporter, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (reporter) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        (reporter, json.dumps(state, ensure_ascii=False, separators=(",", ":")), now),
    )
