"""The conversations table: each reporter's conversation state, as JSON."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from db.reports import SqlStore
from handlers.store import DRAFT_KEY, DRAFT_SWEPT_KEY

# The draft's age as the index conversations_by_draft_age holds it (migration 14):
# written out the same way, or SQLite does not use the index.
_HAS_DRAFT = "json_extract(state, '$.draft') IS NOT NULL"
_DRAFT_AGE = ("coalesce(json_extract(state, '$.draft.updated_at'), "
              "json_extract(state, '$.draft.started_at'))")


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


def sweep_drafts(db: sqlite_utils.Database, untouched_before: int, limit: int = -1) -> int:
    """Drop drafts untouched since `untouched_before`, with their evidence; return how many.

    The reporter's state keeps a mark, so the next message they send is told the draft
    timed out; evidence rows go (their fetch and read jobs with them, and their files
    once no row uses them: the evidence_trash trigger).
    """
    rows = db.conn.execute(
        f"SELECT reporter, state FROM conversations WHERE {_HAS_DRAFT} AND {_DRAFT_AGE} < ? "
        "LIMIT ?", (untouched_before, limit)).fetchall()
    for reporter, stored in rows:
        state = json.loads(stored)
        draft = state.pop(DRAFT_KEY)
        if isinstance(draft, dict):
            SqlStore(db).discard_draft(str(draft.get("id")))
        state[DRAFT_SWEPT_KEY] = True
        db.conn.execute("UPDATE conversations SET state = ? WHERE reporter = ?",
                        (dump_state(state), reporter))
    return len(rows)


def sweep_stray_evidence(db: sqlite_utils.Database, received_before: int,
                         limit: int = -1) -> int:
    """Delete draft evidence older than `received_before` that no open draft holds.

    Left by a conversation that ended without discarding its draft (an earlier release,
    a state reset); a live draft's evidence, however old, stays.
    """
    return int(db.conn.execute(
        "DELETE FROM evidence WHERE id IN (SELECT e.id FROM evidence AS e "
        "WHERE e.report_id IS NULL AND e.received_at < ? AND NOT EXISTS ("
        "SELECT 1 FROM conversations AS c WHERE c.reporter = e.reporter "
        "AND json_extract(c.state, '$.draft.id') = e.draft_id) LIMIT ?)",
        (received_before, limit)).rowcount)


def count_drafts(db: sqlite_utils.Database, untouched_before: int) -> int:
    """How many drafts `sweep_drafts` would drop."""
    return int(db.conn.execute(
        f"SELECT count(*) FROM conversations WHERE {_HAS_DRAFT} AND {_DRAFT_AGE} < ?",
        (untouched_before,)).fetchone()[0])
