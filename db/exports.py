"""Reading reports out for `tipline export`: one streaming query per format, no per-row query.

Identifiers and the evidence count are correlated subqueries over the primary key of
report_identifiers and the evidence_by_report index; times are formatted and the whole
JSON line is built inside SQLite, so Python only moves finished rows to the writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from triage.instants import OFFSET_SECONDS, SQL_FORMAT

COLUMNS = ("receipt", "received_at", "status", "target_type", "identifiers", "description",
           "evidence_count", "reporter", "who", "channel", "lang", "assignee", "updated_at")


@dataclass(frozen=True, slots=True)
class ExportFilter:
    """Which reports to export: received in [since, until), with one of `statuses`."""

    since: int | None = None
    until: int | None = None
    statuses: tuple[str, ...] = ()

    def where(self) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause (over reports AS r) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append("r.received_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("r.received_at < ?")
            params.append(self.until)
        if self.statuses:
            clauses.append(f"r.status IN ({','.join('?' * len(self.statuses))})")
            params.extend(self.statuses)
        return " AND ".join(clauses) or "1", tuple(params)


def _time(column: str) -> str:
    return f"strftime('{SQL_FORMAT}', {column} + {OFFSET_SECONDS}, 'unixepoch')"


def _guard(column: str) -> str:
    # A cell starting with = + - @ (or tab, CR) is a formula to Excel and WPS: a reporter
    # could plant one. A leading apostrophe makes it text; `tipline import` strips it.
    return (f"CASE WHEN substr({column}, 1, 1) IN ('=', '+', '-', '@', char(9), char(13)) "
            f"THEN '''' || {column} ELSE {column} END")


_RECEIPT = "substr(r.receipt, 1, 5) || '-' || substr(r.receipt, 6)"
_EVIDENCE_COUNT = "(SELECT count(*) FROM evidence AS e WHERE e.report_id = r.id)"


def count(db: sqlite_utils.Database, where: ExportFilter) -> int:
    """How many reports the filter selects."""
    sql, params = where.where()
    return int(db.execute(f"SELECT count(*) FROM reports AS r WHERE {sql}", params).fetchone()[0])


def table_rows(db: sqlite_utils.Database, where: ExportFilter, *, guard: bool
               ) -> Iterator[tuple[Any, ...]]:
    """Rows in COLUMNS order (identifiers as "kind:value; …"), oldest first.

    `guard`: text a reporter typed is made safe for spreadsheets (CSV).
    """
    sql, params = where.where()
    text = _guard if guard else (lambda column: column)
    identifiers = ("(SELECT group_concat(i.kind || ':' || i.value, '; ') "
                   "FROM report_identifiers AS i WHERE i.report_id = r.id)")
    return _rows(db, f"""
        SELECT {_RECEIPT}, {_time('r.received_at')}, r.status, r.target_type,
               {text(identifiers)}, {text('r.description')}, {_EVIDENCE_COUNT}, r.reporter,
               {text('r.who')}, r.channel, r.lang, {text('r.assignee')},
               {_time('r.updated_at')}
        FROM reports AS r WHERE {sql} ORDER BY r.received_at, r.id""", params)


def json_lines(db: sqlite_utils.Database, where: ExportFilter) -> Iterator[tuple[str]]:
    """One JSON object per report, built by SQLite, keys in COLUMNS order.

    `identifiers` is a list of {kind, value, raw}: what `tipline import` reads back.
    """
    sql, params = where.where()
    identifiers = ("json((SELECT json_group_array(json_object('kind', i.kind, 'value', "
                   "i.value, 'raw', i.raw)) FROM report_identifiers AS i "
                   "WHERE i.report_id = r.id))")
    return _rows(db, f"""
        SELECT json_object('receipt', {_RECEIPT}, 'received_at', {_time('r.received_at')},
               'status', r.status, 'target_type', r.target_type,
               'identifiers', {identifiers}, 'description', r.description,
               'evidence_count', {_EVIDENCE_COUNT}, 'reporter', r.reporter, 'who', r.who,
               'channel', r.channel, 'lang', r.lang, 'assignee', r.assignee,
               'updated_at', {_time('r.updated_at')})
        FROM reports AS r WHERE {sql} ORDER BY r.received_at, r.id""", params)


def _rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any]) -> Iterator[Any]:
    cursor: sqlite3.Cursor = db.conn.execute(sql, params)
    cursor.arraysize = 1000
    while True:
        rows = cursor.fetchmany()
        if not rows:
            return
        yield from rows


# --- evidence bundles -------------------------------------------------------------------


def report_ids(db: sqlite_utils.Database, where: ExportFilter) -> Iterator[int]:
    """The ids of the selected reports, oldest first."""
    sql, params = where.where()
    return (i for (i,) in _rows(
        db, f"SELECT r.id FROM reports AS r WHERE {sql} ORDER BY r.received_at, r.id", params))


def full_report(db: sqlite_utils.Database, report_id: int) -> dict[str, Any]:
    """One report with its identifiers, evidence items and history, for a bundle record."""
    conn = db.conn
    names = ("receipt", "status", "target_type", "who", "description", "lang", "channel",
             "reporter", "assignee", "received_at", "updated_at")
    row = conn.execute(f"SELECT {', '.join(names)} FROM reports WHERE id = ?",
                       (report_id,)).fetchone()
    record: dict[str, Any] = dict(zip(names, row, strict=True))
    record["identifiers"] = [
        {"kind": k, "value": v, "raw": r} for k, v, r in conn.execute(
            "SELECT kind, value, raw FROM report_identifiers WHERE report_id = ?", (report_id,))]
    evidence_names = ("id", "kind", "media_id", "details", "fetch_status", "sha256", "size",
                      "mime", "fetched_at", "received_at")
    record["evidence"] = [dict(zip(evidence_names, e, strict=True)) for e in conn.execute(
        f"SELECT {', '.join(evidence_names)} FROM evidence WHERE report_id = ? ORDER BY id",
        (report_id,))]
    record["history"] = [
        {"at": at, "actor": actor, "action": action, "detail": detail}
        for at, actor, action, detail in conn.execute(
            "SELECT at, actor, action, detail FROM report_history WHERE report_id = ? "
            "ORDER BY at, id", (report_id,))]
    return record
