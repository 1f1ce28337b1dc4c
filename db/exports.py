"""Reading reports out for `tipline export`: one sequential scan of the reports table.

Each report row carries what the export shows of its identifiers and evidence
(identifiers_text, evidence_count: migration 7), so a row is exported without another
table; times are formatted and each whole CSV record or JSON line is built inside SQLite,
so Python only moves finished lines. Reports come in filing order (by id: the order a
rowid scan gives for free), all read at one committed state (a Snapshot).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from db.connection import CLI_BUSY_TIMEOUT_MS, connect, read_only_copy
from triage.times import UTC_OFFSET, ZONE

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
    # What triage.times.iso writes; strftime would too, at about twice datetime()'s cost.
    return (f"replace(datetime({column} + {UTC_OFFSET}, 'unixepoch'), ' ', 'T') "
            f"|| '{ZONE}'")


# What starts a formula in Excel and WPS: = + - @, tab and CR, and (WPS, and Excel with
# East Asian input) their full-width forms ＝ ＋ － ＠.
FORMULA_STARTS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"


def _guard(column: str) -> str:
    # A cell starting a formula could be planted by a reporter. A leading apostrophe makes
    # it text; `tipline import` strips it.
    codes = ", ".join(str(ord(c)) for c in FORMULA_STARTS)
    return (f"CASE WHEN unicode({column}) IN ({codes}) "
            f"THEN '''' || {column} ELSE {column} END")


_RECEIPT = "substr(r.receipt, 1, 5) || '-' || substr(r.receipt, 6)"


def count(db: sqlite_utils.Database, where: ExportFilter) -> int:
    """How many reports the filter selects."""
    sql, params = where.where()
    return int(db.execute(f"SELECT count(*) FROM reports AS r WHERE {sql}", params).fetchone()[0])


def table_rows(db: sqlite_utils.Database, where: ExportFilter, *, guard: bool
               ) -> Iterator[tuple[Any, ...]]:
    """Rows in COLUMNS order (identifiers as "kind:value; …"), in filing order.

    `guard`: text a reporter typed is made safe for spreadsheets (CSV).
    """
    sql, params = where.where()
    text = _guard if guard else (lambda column: column)
    return _rows(db, f"""
        SELECT {_RECEIPT}, {_time('r.received_at')}, r.status, r.target_type,
               r.identifiers_text, {text('r.description')}, r.evidence_count, r.reporter,
               {text('r.who')}, r.channel, r.lang, {text('r.assignee')},
               {_time('r.updated_at')}
        FROM reports AS r WHERE {sql} ORDER BY r.id""", params)


def _csv_line() -> str:
    """The expression of one CSV record (CRLF-terminated), fields in COLUMNS order.

    The values of `table_rows(guard=True)`, each text field quoted with its quotes
    doubled (RFC 4180) by printf's %w, in one allocation per line: the quoting the sqlite3
    shell does, in the same C, so Python only moves finished lines.
    """
    text = '"%w"'
    fields = (
        ("%s-%s", "substr(r.receipt, 1, 5), substr(r.receipt, 6)"),
        ("%s", _time("r.received_at")),
        (text, "r.status"),
        (text, "r.target_type"),
        # Identifiers start with their kind ("domain:…"), never a formula: no guard.
        (text, "coalesce(r.identifiers_text, '')"),  # NULL: no identifiers
        (text, _guard("r.description")),
        ("%d", "r.evidence_count"),
        (text, "r.reporter"),
        (text, _guard("r.who")),
        (text, "r.channel"),
        (text, "r.lang"),
        (text, f"coalesce({_guard('r.assignee')}, '')"),
        ("%s", _time("r.updated_at")),
    )
    return (f"printf('{','.join(f for f, _ in fields)}' || char(13, 10), "
            f"{', '.join(v for _, v in fields)})")


def _json_line() -> str:
    """The expression of one JSON object (newline-terminated), keys in COLUMNS order.

    `identifiers` is a list of {kind, value, raw}: what `tipline import` reads back.
    """
    identifiers = ("json((SELECT json_group_array(json_object('kind', i.kind, 'value', "
                   "i.value, 'raw', i.raw)) FROM report_identifiers AS i "
                   "WHERE i.report_id = r.id))")
    return f"""json_object('receipt', {_RECEIPT}, 'received_at', {_time('r.received_at')},
               'status', r.status, 'target_type', r.target_type,
               'identifiers', {identifiers}, 'description', r.description,
               'evidence_count', r.evidence_count, 'reporter', r.reporter, 'who', r.who,
               'channel', r.channel, 'lang', r.lang, 'assignee', r.assignee,
               'updated_at', {_time('r.updated_at')}) || char(10)"""


LINES = {"csv": _csv_line, "jsonl": _json_line}


def _rows(db: sqlite_utils.Database, sql: str, params: Sequence[Any]) -> Iterator[Any]:
    cursor: sqlite3.Cursor = db.conn.execute(sql, params)
    cursor.arraysize = 1000
    while True:
        rows = cursor.fetchmany()
        if not rows:
            return
        yield from rows


# --- one snapshot -----------------------------------------------------------------------


class Snapshot:
    """A read transaction: the count, the rows and an evidence bundle see one committed state.

    WAL readers keep the state their transaction began with while the server goes on
    writing, so an export never mixes reports filed before and after it started.
    """

    def __init__(self, path: Path) -> None:
        self.db = connect(path, readonly=read_only_copy(path),
                          busy_timeout_ms=CLI_BUSY_TIMEOUT_MS)
        self.db.conn.execute("BEGIN")
        self.db.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # read begins

    def close(self) -> None:
        """End the read transaction and close the connection."""
        self.db.conn.execute("COMMIT")
        self.db.conn.close()

    def lines(self, fmt: str, where: ExportFilter, page: int = 5_000
              ) -> Iterator[tuple[int, bytes]]:
        """The selected reports as encoded CSV records or JSON lines, in filing order.

        Yields (rows, bytes) per page of `page` ids, so memory stays flat however many
        rows. One reader, one pass over the table in id order: SQLite joins each page's
        lines into one blob, so Python handles an object per page, not per row, and the
        export costs about what SQLite takes to build the lines.
        """
        sql, params = where.where()
        low, high = self.db.execute(
            f"SELECT min(r.id), max(r.id) FROM reports AS r WHERE {sql}", params).fetchone()
        if low is None:
            return
        # An aggregate reads a subquery with ORDER BY in that order, whichever index the
        # filter picks: SQLite never flattens one into an aggregate, for group_concat's
        # sake (select.c, flattening restriction 16). A blob reaches Python as the UTF-8
        # bytes to write: a str would be decoded and encoded again.
        query = (f"SELECT count(*), CAST(group_concat(line, '') AS BLOB) FROM ("
                 f"SELECT {LINES[fmt]()} AS line FROM reports AS r "
                 f"WHERE {sql} AND r.id >= ? AND r.id < ? ORDER BY r.id)")
        conn = self.db.conn
        for start in range(low, high + 1, page):
            rows, data = conn.execute(query, (*params, start, start + page)).fetchone()
            if rows:
                yield rows, data


# --- evidence bundles -------------------------------------------------------------------


def report_ids(db: sqlite_utils.Database, where: ExportFilter) -> Iterator[int]:
    """The ids of the selected reports, in filing order."""
    sql, params = where.where()
    return (i for (i,) in _rows(
        db, f"SELECT r.id FROM reports AS r WHERE {sql} ORDER BY r.id", params))


def full_report(db: sqlite_utils.Database, report_id: int) -> dict[str, Any]:
    """One report with its identifiers, evidence items and history, for a bundle record."""
    conn = db.conn
    names = ("receipt", "status", "target_type", "who", "description", "lang", "channel",
             "reporter", "assignee", "received_at", "updated_at")
    row = conn.execute(f"SELECT {', '.join(names)} FROM reports WHERE id = ?",
                       (report_id,)).fetchone()
    record: dict[str, Any] = dict(zip(names, row, strict=True))
    record["identifiers"] = [
        {"kind": k, "value": v, "raw": r, "evidence_id": e} for k, v, r, e in conn.execute(
            "SELECT kind, value, raw, evidence_id FROM report_identifiers WHERE report_id = ?",
            (report_id,))]
    # With what was read from each image: its status and its recognised text.
    evidence_names = ("id", "kind", "media_id", "details", "fetch_status", "sha256", "size",
                      "mime", "fetched_at", "received_at", "read_status", "read_text")
    record["evidence"] = [dict(zip(evidence_names, e, strict=True)) for e in conn.execute(
        f"SELECT {', '.join(evidence_names)} FROM evidence WHERE report_id = ? ORDER BY id",
        (report_id,))]
    record["history"] = [
        {"at": at, "actor": actor, "action": action, "detail": detail}
        for at, actor, action, detail in conn.execute(
            "SELECT at, actor, action, detail FROM report_history WHERE report_id = ? "
            "ORDER BY at, id", (report_id,))]
    return record
