"""Triage reads in SQL: totals, entities by ceiling, exact figures, receipts, per-day counts, runs.

Two tables serve it, indexed in bulk by db/entities.py (`SqlSummary.current` runs it first) and
kept in step with updates and purges by migration 6's triggers:
  entity_stats    one row per entity over all its reports: reports, distinct reporters,
                  last seen, first seen (NULL once its first report is deleted), the target
                  types named (TYPE_BITS)
  entity_reports  one row per identifier and report with the report's reporter, time,
                  status and type, keyed (kind, value, reporter, …)
`ranked` reads entity_stats: over all time and statuses its rows are exact; with --since
or --status they are upper bounds (more reporters, a later sighting and a heavier type than
any subset of the reports can have), which `refine` replaces with exact figures read from
entity_reports, one entity at a time, for the entities that could still make the list
(triage.summary decides which). For a short --since window, or when too many bounds prove
loose, `ranked(scan=True)` makes one pass over entity_reports instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlite_utils

from db import entities
from db.connection import connect, write_transaction
from db.migrations import TYPE_BITS
from triage import score as scoring
from triage.summary import EntityRow, Filters, Ranking, Sighting, Totals
from triage.times import DAY, UTC_OFFSET
from triage.vocabulary import STATUSES, TARGET_TYPES

# Below this share of all reports in its window, a --since ranking reads the window in one
# pass; above it, it walks entities by their all-time stats (bounds, refined one by one).
SCAN_SHARE = 0.05
# Reporter counts below which entities are not even fetched to choose the ranking's
# threshold: tried in turn until `depth` entities are found above one.
_FLOORS = (8, 2)

assert set(scoring.TYPE_WEIGHTS) <= set(TYPE_BITS), "every weighted type needs a bit"
# A report's type weight, and an entity's: the highest weight among the bits it has.
_WEIGHT_SQL = (
    "CASE target_type "
    + " ".join(f"WHEN '{code}' THEN {weight!r}" for code, weight in scoring.TYPE_WEIGHTS.items())
    + f" ELSE {scoring.DEFAULT_WEIGHT!r} END"
)


def _mask(weight: float) -> int:
    """Return the TYPE_BITS of the target types with this weight."""
    return sum(TYPE_BITS[code] for code, w in scoring.TYPE_WEIGHTS.items() if w == weight)


_STATS_WEIGHT_SQL = (
    "CASE "
    + " ".join(f"WHEN types & {_mask(weight)} THEN {weight!r}"
               for weight in sorted(set(scoring.TYPE_WEIGHTS.values()), reverse=True))
    + f" ELSE {scoring.DEFAULT_WEIGHT!r} END"
)
# The watchlist bonus an entity may earn: known for the kinds whose watchlist term is the
# identifier itself (:matched_kinds), possible for the others that can match (:bonus_kinds).
_BONUS_SQL = (
    "CASE WHEN kind IN (SELECT value FROM json_each(:matched_kinds)) THEN "
    "(CASE WHEN (kind, value) IN (SELECT kind, value FROM watchlist_terms) THEN :bonus "
    "ELSE 1.0 END) "
    "WHEN kind IN (SELECT value FROM json_each(:bonus_kinds)) THEN :bonus ELSE 1.0 END"
)


def _score_sql(reporters: str, last_seen: str, weight: str) -> str:
    """Return triage.score.base_score as SQL over three expressions (and :now)."""
    return (
        f"{scoring.SCALE!r} * log2(1 + {reporters}) "
        f"* pow(0.5, max(0, :now - {last_seen}) / {float(DAY)!r} / {scoring.HALF_LIFE_DAYS!r}) "
        f"* {weight}"
    )


def ensure_math(db: sqlite_utils.Database) -> None:
    """Give the connection log2() and pow() where SQLite was built without its math functions."""
    try:
        db.execute("SELECT log2(2), pow(2, 2)")
    except Exception:  # sqlite3.OperationalError: no such function
        db.conn.create_function("log2", 1, math.log2, deterministic=True)
        db.conn.create_function("pow", 2, math.pow, deterministic=True)


def _where(filters: Filters, *, kinds: bool = False, table: str = ""
           ) -> tuple[str, dict[str, Any]]:
    """Return a WHERE clause (or "") and its named parameters for the report filters."""
    prefix = f"{table}." if table else ""
    clauses: list[str] = []
    params: dict[str, Any] = {}

    def one_of(column: str, values: tuple[str, ...]) -> None:
        names = [f"{column}{i}" for i in range(len(values))]
        params.update(zip(names, values, strict=True))
        clauses.append(f"{prefix}{column} IN ({', '.join(':' + name for name in names)})")

    if kinds and filters.kinds:
        one_of("kind", filters.kinds)
    if filters.since is not None:
        params["since"] = filters.since
        clauses.append(f"{prefix}received_at >= :since")
    if filters.statuses:
        one_of("status", filters.statuses)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _and(where: str) -> str:
    """Turn a WHERE clause into extra conditions after another one."""
    return where.replace("WHERE ", "AND ", 1)


def _rows(cursor: Any) -> list[EntityRow]:
    """Read ranked rows (kind, value, reports, reporters, exact, first, last, weight, ...)."""
    return [EntityRow(kind, value, reports, reporters, bool(exact), first, last, weight, bound,
                      ceiling)
            for kind, value, reports, reporters, exact, first, last, weight, bound, ceiling
            in cursor]


class SqlSummary:
    """triage.summary.SummarySource over the database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_math(db)

    @classmethod
    def current(cls, db: sqlite_utils.Database) -> SqlSummary:
        """Index what was filed since triage last ran, then read (needs a writable db)."""
        entities.catch_up(db)
        return cls(db)

    def totals(self, filters: Filters) -> Totals:
        """Count reports, reporters, statuses and target types."""
        where, params = _where(filters)
        (reports,) = self.db.execute(f"SELECT count(*) FROM reports {where}", params).fetchone()
        counts: dict[tuple[str, str], int] = {}
        # One range of reports_by_type (status, target_type, received_at) per pair: a
        # fraction of the time of a GROUP BY over the whole index.
        for status in filters.statuses or STATUSES:
            for target_type in TARGET_TYPES:
                (count,) = self.db.execute(
                    "SELECT count(*) FROM reports INDEXED BY reports_by_type WHERE status = :s "
                    "AND target_type = :t" + (" AND received_at >= :since"
                                              if filters.since is not None else ""),
                    {**params, "s": status, "t": target_type},
                ).fetchone()
                if count:
                    counts[status, target_type] = count
        if sum(counts.values()) != reports:  # a target type this version does not know
            counts = {(status, target_type): count for status, target_type, count in
                      self.db.execute(f"SELECT status, target_type, count(*) FROM reports "
                                      f"{where} GROUP BY status, target_type", params)}
        by_status: dict[str, int] = {}
        by_type: dict[str, int] = {}
        for (status, target_type), count in counts.items():
            by_status[status] = by_status.get(status, 0) + count
            by_type[target_type] = by_type.get(target_type, 0) + count
        # In reporter order: counted as read, no temporary B-tree.
        (reporters,) = self.db.execute(
            f"SELECT count(DISTINCT reporter) FROM reports INDEXED BY reports_by_reporter_status "
            f"{where}", params,
        ).fetchone()
        return Totals(int(reports), int(reporters), by_status, by_type)

    def ranked(self, filters: Filters, now: int, depth: int, exclude_domains: Collection[str],
               bonus_kinds: Collection[str], matched_kinds: Collection[str] = (),
               scan: bool = False) -> Ranking:
        """Return about `depth` entities by ceiling, and a ceiling for all the others."""
        if filters.since is not None and filters.since <= self._first_report():
            filters = replace(filters, since=None)  # every report is since then
        if filters.since is not None and not scan:
            scan = self._share_since(filters.since) < SCAN_SHARE
        params: dict[str, Any] = {
            "now": now, "bonus_kinds": json.dumps(list(bonus_kinds)),
            "matched_kinds": json.dumps(list(matched_kinds)),
            "bonus": scoring.WATCHLIST_BONUS, "exclude": json.dumps(sorted(exclude_domains)),
            "limit": depth,
        }
        if scan:
            return self._scan(filters, params)
        # Can an entity left out earn the bonus? Not if no selected kind can, and not by an
        # exact match: entities on the watchlist as they are are always read.
        bonus = bool(set(filters.kinds).intersection(bonus_kinds) if filters.kinds
                     else bonus_kinds)
        return self._from_stats(filters, params, bonus)

    def _from_stats(self, filters: Filters, params: dict[str, Any], bonus: bool) -> Ranking:
        """Rank from entity_stats: exact over all reports, upper bounds for a selection."""
        clauses = []
        if filters.kinds:
            names = [f"kind{i}" for i in range(len(filters.kinds))]
            params |= dict(zip(names, filters.kinds, strict=True))
            clauses.append(f"kind IN ({', '.join(':' + n for n in names)})")
        if filters.since is not None:
            # Entities last seen before the window have nothing in it; those seen in it
            # were last seen there, so recency stays exact.
            clauses.append("last_seen >= :since")
            params["since"] = filters.since
        clauses.append("NOT (kind = 'domain' AND value IN (SELECT value FROM json_each(:exclude)))")
        where = "WHERE " + " AND ".join(clauses)
        exact = "1" if filters.since is None and not filters.statuses else "0"
        bound = _score_sql("reporters", "last_seen", _STATS_WEIGHT_SQL)
        columns = (f"kind, value, reports, reporters, {exact}, first_seen, last_seen, "
                   f"{_STATS_WEIGHT_SQL}, {bound}, {bound} * {_BONUS_SQL} AS ceiling")
        least, newest = self._threshold(where, params, int(params["limit"]))
        rest = 0.0
        if least > 1:
            # Entities with fewer reporters are left out: they have at most least - 1,
            # seen no later than the newest sighting of all, of the heaviest type.
            params["least"] = least
            rest = scoring.base_score(least - 1, newest, max(scoring.TYPE_WEIGHTS.values()),
                                      int(params["now"]))
            rest *= scoring.WATCHLIST_BONUS if bonus else 1.0
            source = (
                f"SELECT {columns} FROM entity_stats {where} AND reporters >= :least "
                # Entities on the watchlist as they are: looked up, whatever their size.
                f"UNION SELECT {columns} FROM watchlist_terms AS t CROSS JOIN entity_stats "
                f"USING (kind, value) {where}"
            )
        else:
            source = f"SELECT {columns} FROM entity_stats {where}"
        rows = _rows(self.db.execute(
            f"{source} ORDER BY ceiling DESC, reporters DESC, reports DESC, kind, value "
            "LIMIT :limit", params))
        if len(rows) == params["limit"]:
            rest = max(rest, rows[-1].ceiling)
        return Ranking(rows, rest, selected=exact == "1")

    def _threshold(self, where: str, params: dict[str, Any], depth: int) -> tuple[int, int]:
        """Return the reporters of about the depth-th busiest entity (1: read them all), and
        the newest report's time."""
        (newest,) = self.db.execute("SELECT max(received_at) FROM reports").fetchone()
        for floor in _FLOORS:
            # One cheap pass (an integer test per row) brings back only the busy few.
            busy = sorted((n for (n,) in self.db.execute(
                f"SELECT reporters FROM entity_stats {where} AND reporters >= {floor}", params)),
                reverse=True)
            if len(busy) >= depth:
                return busy[depth - 1], int(newest or 0)
        return 1, int(newest or 0)

    def _scan(self, filters: Filters, params: dict[str, Any]) -> Ranking:
        """Rank from one pass over the selected reports: reporters bounded by reports."""
        where, filter_params = _where(filters, kinds=True)
        params |= filter_params
        weight = f"max({_WEIGHT_SQL})"
        bound = _score_sql("count(*)", "max(received_at)", weight)
        rows = _rows(self.db.execute(
            f"SELECT kind, value, count(*), count(*), count(*) = 1, min(received_at), "
            f"max(received_at), {weight}, {bound}, {bound} * {_BONUS_SQL} AS ceiling "
            f"FROM entity_reports {where} GROUP BY kind, value "
            # HAVING runs once per entity, not once per row.
            "HAVING NOT (kind = 'domain' AND value IN (SELECT value FROM json_each(:exclude))) "
            "ORDER BY ceiling DESC, count(*) DESC, kind, value LIMIT :limit", params))
        return Ranking(rows, rows[-1].ceiling if len(rows) == params["limit"] else 0.0,
                       selected=True)

    def refine(self, row: EntityRow, filters: Filters, now: int) -> EntityRow | None:
        """Return a ranked row's exact figures over the selected reports (None: none)."""
        where, params = _where(filters)
        # In (kind, value, reporter) key order: distinct reporters are counted as read.
        reports, reporters, first, last, weight = self.db.execute(
            f"SELECT count(*), count(DISTINCT reporter), min(received_at), max(received_at), "
            f"max({_WEIGHT_SQL}) FROM entity_reports "
            f"WHERE kind = :kind AND value = :value {_and(where)}",
            {**params, "kind": row.kind, "value": row.value},
        ).fetchone()
        if not reports:
            return None
        base = scoring.base_score(reporters, last, weight, now)
        return EntityRow(row.kind, row.value, reports, reporters, True, first, last, weight,
                         base, base)

    def _first_report(self) -> int:
        """Return when the first report was received (0 with none)."""
        (first,) = self.db.execute("SELECT min(received_at) FROM reports").fetchone()
        return int(first or 0)

    def _share_since(self, since: int) -> float:
        """Return the share of all reports received since a time (0 to 1)."""
        (total,) = self.db.execute("SELECT count(*) FROM reports").fetchone()
        (window,) = self.db.execute(
            "SELECT count(*) FROM reports WHERE received_at >= ?", (since,)).fetchone()
        return window / total if total else 0.0

    def receipts(self, kind: str, value: str, filters: Filters, limit: int
                 ) -> list[Sighting]:
        """Return the latest selected reports naming an entity, newest first."""
        where, params = _where(filters)
        rows = self.db.execute(
            "SELECT receipt, status, received_at FROM reports WHERE id IN "
            "(SELECT report_id FROM entity_reports "
            f"WHERE kind = :kind AND value = :value {_and(where)} "
            "ORDER BY received_at DESC, report_id DESC LIMIT :limit) "
            "ORDER BY received_at DESC, id DESC",
            {**params, "kind": kind, "value": value, "limit": limit},
        )
        return [Sighting(str(receipt), str(status), int(at)) for receipt, status, at in rows]

    def watchlist_terms(self) -> dict[tuple[str, str], str]:
        """Return every watchlist term with the name it stands for (the first by name)."""
        terms: dict[tuple[str, str], str] = {}
        for kind, value, name in self.db.execute(
            "SELECT t.kind, t.value, w.name FROM watchlist_terms AS t "
            "JOIN watchlist AS w ON w.id = t.watchlist_id ORDER BY w.name DESC"
        ):
            terms[kind, value] = name  # the last written is the first by name
        return terms

    def reports_since(self, filters: Filters, at: int) -> int:
        """Count the selected reports received after a time."""
        where, params = _where(filters)
        (count,) = self.db.execute(
            f"SELECT count(*) FROM reports WHERE received_at > :at {_and(where)}",
            {**params, "at": at},
        ).fetchone()
        return int(count)

    def images(self, filters: Filters, limit: int) -> list[tuple[int, str, str]]:
        """(perceptual hash, reporter, receipt) of the newest `limit` images read."""
        where, params = _where(filters, table="r")
        return [tuple(row) for row in self.db.execute(
            "SELECT e.phash, r.reporter, r.receipt FROM evidence AS e "
            "JOIN reports AS r ON r.id = e.report_id "
            f"WHERE e.phash IS NOT NULL {_and(where)} ORDER BY e.id DESC LIMIT :limit",
            {**params, "limit": limit})]

    def per_day(self, filters: Filters, start: int) -> list[tuple[int, int]]:
        """Return (day number, reports) for the selected reports received since `start`."""
        where, params = _where(filters)
        rows = self.db.execute(
            f"SELECT (received_at + {UTC_OFFSET}) / {DAY} AS day, count(*) FROM reports "
            f"WHERE received_at >= :start {_and(where)} GROUP BY day ORDER BY day",
            {**params, "start": start},
        )
        return [(int(day), int(count)) for day, count in rows]


def count_totals(path: str | Path, filters: Filters) -> Totals:
    """Count the totals on a connection of their own (for a thread beside the ranking)."""
    db = connect(path, readonly=True)
    try:
        return SqlSummary(db).totals(filters)
    finally:
        db.conn.close()


def run_key(investigator: str, view: str = "table") -> str:
    """Where an investigator's runs of one view are remembered: each view keeps its own.

    A cron job's HTML brief or a script's JSON must not use up what is new for the table.
    The table keeps the bare name (as runs were kept before views were told apart).
    """
    return investigator if view == "table" else f"{investigator} ({view})"


def last_run(db: sqlite_utils.Database, investigator: str, view: str = "table") -> int | None:
    """Return when an investigator last ran triage in a view, or None."""
    row = db.execute(
        "SELECT last_run_at FROM triage_runs WHERE investigator = ?",
        (run_key(investigator, view),),
    ).fetchone()
    return None if row is None else int(row[0])


def record_run(db: sqlite_utils.Database, investigator: str, at: int, view: str = "table"
               ) -> None:
    """Remember that an investigator ran triage in a view at a time."""
    with write_transaction(db):
        db.execute(
            "INSERT INTO triage_runs (investigator, last_run_at) VALUES (?, ?) "
            "ON CONFLICT (investigator) DO UPDATE SET last_run_at = excluded.last_run_at",
            (run_key(investigator, view), at),
        )
