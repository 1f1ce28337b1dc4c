"""The conversations table: each reporter's conversation state, as JSON."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils


def load_state(db: sqlite_utils.Database, reporter: str) -> tuple[dict[str, Any], str]:
    """Return the reporter's saved state (empty if none) and its JSON as stored."""
    row = db.conn.execute(
        "SELECT state FROM conversations WHERE reporter = ?", (reporter,)
    ).fetchone()
    if row is None:
        return {}, "{}"
    state = json.loads(row[0])
    return (state, str(row[0])) if isinstance(state, dict) else ({}, "{}")


def dump_state(state: dict[str, Any]) -> str:
    """The JSON form a state is stored in (compact, stable key order)."""
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def save_state(db: sqlite_utils.Database, reporter: str, state_json: str, now: int) -> None:
    """Save the reporter's state; an empty state deletes the row."""
    if state_json == "{}":
        db.conn.execute("DELETE FROM conversations WHERE reporter = ?", (reporter,))
        return
    db.conn.execute(
        "INSERT INTO conversations (reporter, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (reporter) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        (reporter, state_json, now),
    )
