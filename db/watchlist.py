"""The watchlist tables: store imported entries (upsert by name) and match identifiers to them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlite_utils

from db.connection import write_transaction
from triage.watchlist import Entry, Listed, lookup_terms


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import did: entries added and replaced, and terms stored by kind."""

    added: int = 0
    replaced: int = 0
    terms: Counter[str] = field(default_factory=Counter)


def import_entries(db: sqlite_utils.Database, entries: Sequence[Entry], now: int
                   ) -> ImportCounts:
    """Store entries in one transaction; an entry already there has its terms replaced."""
    added = replaced = 0
    terms: Counter[str] = Counter()
    with write_transaction(db):
        for entry in entries:
            row = db.execute("SELECT id FROM watchlist WHERE name = ?", (entry.name,)).fetchone()
            aliases = json.dumps(list(entry.aliases), ensure_ascii=False)
            if row is None:
                cursor = db.execute(
                    "INSERT INTO watchlist (name, imported_at, aliases) VALUES (?, ?, ?)",
                    (entry.name, now, aliases))
                entry_id, added = cursor.lastrowid, added + 1
            else:
                entry_id, replaced = row[0], replaced + 1
                db.execute("UPDATE watchlist SET imported_at = ?, aliases = ? WHERE id = ?",
                           (now, aliases, entry_id))
                # Re-import replaces: an alias dropped from the CSV must stop matching.
                db.execute("DELETE FROM watchlist_terms WHERE watchlist_id = ?", (entry_id,))
            db.conn.executemany(
                "INSERT OR IGNORE INTO watchlist_terms (watchlist_id, kind, value) "
                "VALUES (?, ?, ?)",
                [(entry_id, kind, value) for kind, value in entry.terms],
            )
            terms.update(kind for kind, _ in entry.terms)
    return ImportCounts(added, replaced, terms)


def watchlist_match(db: sqlite_utils.Database, kind: str, value: str) -> str | None:
    """Return the name of the watchlist entry an identifier matches, or None."""
    for term_kind, term_value in lookup_terms(kind, value):
        # (kind, value) lead the terms' primary key: one index search per term.
        row = db.execute(
            "SELECT w.name FROM watchlist_terms AS t JOIN watchlist AS w ON w.id = t.watchlist_id "
            "WHERE t.kind = ? AND t.value = ? ORDER BY w.name LIMIT 1",
            (term_kind, term_value),
        ).fetchone()
        if row is not None:
            return str(row[0])
    return None


def watchlist_names(db: sqlite_utils.Database) -> list[str]:
    """Return the names on the watchlist, sorted."""
    return [str(name) for (name,) in db.execute("SELECT name FROM watchlist ORDER BY name")]


def list_entries(db: sqlite_utils.Database) -> list[Listed]:
    """Every entry with its aliases, domains and addresses, by name."""
    entries: dict[str, tuple[list[str] | None, list[tuple[str, str]]]] = {}
    for name, aliases, kind, value in db.execute(
        "SELECT w.name, w.aliases, t.kind, t.value FROM watchlist AS w "
        "LEFT JOIN watchlist_terms AS t ON t.watchlist_id = w.id ORDER BY w.name"
    ):
        written = None if aliases is None else [str(a) for a in json.loads(aliases)]
        _, found = entries.setdefault(str(name), (written, []))
        if kind is not None:
            found.append((str(kind), str(value)))
    return [Listed.of(name, written, found) for name, (written, found) in entries.items()]
