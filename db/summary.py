"""Triage reads in SQL: totals, entities ranked by score, receipts, per-day counts, runs.

Entities are aggregated from `entity_reports` (migration 6: one row per identifier and
report, with the report's time, reporter, status and target type, kept in step by
triggers), so ranking a million reports is one pass over one table with no join. Distinct
reporters per entity are the expensive part (a temporary B-tree per group), so the pass
counts reports instead, and ranks by the score with reports in place of reporters: an
upper bound, since reporters ≤ reports. triage.summary then counts reporters exactly
(`reporters`), one entity at a time in that order, and stops as soon as no entity further
down can overtake the ones it shows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import replace
from typing import Any

import sqlite_utils

from handlers.texts import TARGET_TYPES
from triage import score as scoring
from triage.case import STATUSES
from triage.summary import EntityRow, Filters, Ranking, Totals
from triage.times import DAY, UTC_OFFSET

# The target-type weight of one row, from triage.score's table.
_WEIGHT_SQL = (
    "CASE target_type "
    + " ".join(f"WHEN '{code}' THEN {weight!r}" for code, weight in scoring.TYPE_WEIGHTS.items())
    + f" ELSE {scoring.DEFAULT_WEIGHT!r} END"
)
# The same over entity_stats' reports-per-type columns: the highest weight with reports.
_STATS_TYPES = ("exchange", "ico", "wechat_account", "payment", "app", "other")
assert set(scoring.TYPE_WEIGHTS) <= set(_STATS_TYPES), "entity_stats needs a column per type"
_STATS_WEIGHT_SQL = (
    "CASE "
    + " ".join(f"WHEN sum({code}) > 0 THEN {weight!r}" for code, weight in
               sorted(scoring.TYPE_WEIGHTS.items(), key=lambda item: -item[1]))
    + f" ELSE {scoring.DEFAULT_WEIGHT!r} END"
)


# The watchlist bonus an entity may earn: known for the kinds whose watchlist term is the
# identifier itself (matched_kinds), possible for the others that can match (bonus_kinds).
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


# Below this share of all reports in its window, a --since ranking reads the window in one
# pass; above it, it walks entities by their all-time stats (bounds, refined one by one).
SCAN_SHARE = 0.05


class SqlSummary:
    """triage.summary.SummarySource over the database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        ensure_math(db)

    def totals(self, filters: Filters) -> Totals:
        """Count reports, reporters, statuses and target types."""
        if filters.since is None:
            return self._running_totals(filters.statuses)
        where, params = _where(filters)
        (reports,) = self.db.execute(f"SELECT count(*) FROM reports {where}", params).fetchone()
        counts: dict[tuple[str, str], int] = {}
        # One range of reports_by_type (status, target_type, received_at) per pair: half
        # the time of a GROUP BY over the whole index.
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
        # reports_by_reporter_status is in reporter order: counting distinct needs no B-tree.
        (reporters,) = self.db.execute(
            f"SELECT count(DISTINCT reporter) FROM reports INDEXED BY reports_by_reporter_status "
            f"{where}", params,
        ).fetchone()
        return Totals(int(reports), int(reporters), by_status, by_type)

    def _running_totals(self, statuses: tuple[str, ...]) -> Totals:
        """Read the totals over all reports (in some statuses), kept by triggers."""
        where, params = _where(Filters(statuses=statuses))
        by_status: dict[str, int] = {}
        by_type: dict[str, int] = {}
        for status, target_type, count in self.db.execute(
            f"SELECT status, target_type, reports FROM report_totals {where}", params
        ):
            by_status[status] = by_status.get(status, 0) + count
            by_type[target_type] = by_type.get(target_type, 0) + count
        # In (reporter, status) order: counted as read, no temporary B-tree.
        (reporters,) = self.db.execute(
            f"SELECT count(DISTINCT reporter) FROM reporter_totals {where}", params
        ).fetchone()
        return Totals(sum(by_status.values()), int(reporters), by_status, by_type)

    def ranked(self, filters: Filters, now: int, depth: int, exclude_domains: Collection[str],
               bonus_kinds: Collection[str], matched_kinds: Collection[str] = (),
               scan: bool = False) -> Ranking:
        """Return about `depth` entities by ceiling, and a ceiling for all the others.

        From entity_stats (a row or a few per entity), unless `scan` or a --since window
        holds so few reports that one pass over them beats walking the stats.
        """
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
        rest = 0.0
        if not scan:
            # All time, per entity over all statuses ('*'), or per status with the
            # selected ones summed (a reporter under two statuses counts twice). Exact for
            # '*' or one status; otherwise, and for a --since window, an upper bound.
            source = "entity_stats"
            reports, reporters, first, last, weight = (
                "sum(reports)", "sum(reporters)", "min(first_seen)", "max(last_seen)",
                _STATS_WEIGHT_SQL,
            )
            exact = "0" if filters.since is not None else "count(*) = 1"
            where, filter_params = _where(replace(filters, since=None), kinds=True)
            clauses = [] if filters.statuses else ["status = '*'"]
            if filters.since is not None:
                # Stats last seen before the window count nothing in it; those seen in it
                # were last seen there, so recency is exact and only counts are bounds.
                clauses.append("last_seen >= :since")
                filter_params["since"] = filters.since
            if clauses:
                where = (f"{where} AND " if where else "WHERE ") + " AND ".join(clauses)
            params |= filter_params
            # Can an entity left out earn the bonus? Not if no selected kind can, and not
            # by an exact match: those entities are read whatever their stats.
            bonus = bool(set(filters.kinds).intersection(bonus_kinds) if filters.kinds
                         else bonus_kinds)
            cut, rest = self._cut(filters, where, params, now, bonus)
            if cut:
                # Only entities with a selected status's stats past the cut, and those on
                # the watchlist as they are: looked up by key, nothing else scanned.
                where += (
                    " AND ((kind, value) IN (SELECT kind, value FROM entity_stats INDEXED BY "
                    f"entity_stats_by_reporters {where} AND {cut}) "
                    "OR (kind, value) IN (SELECT kind, value FROM watchlist_terms))"
                )
        else:
            # One pass over the selected reports: exact but for reporters, bounded by
            # reports (exact for an entity named once).
            source = "entity_reports"
            reports, reporters, exact, first, last, weight = (
                "count(*)", "count(*)", "count(*) = 1", "min(received_at)", "max(received_at)",
                f"max({_WEIGHT_SQL})",
            )
            where, filter_params = _where(filters, kinds=True)
            params |= filter_params
        bound = _score_sql(reporters, last, weight)
        rows = [
            EntityRow(kind, value, n_reports, n_reporters, bool(is_exact), first_seen,
                      last_seen, row_weight, row_bound, row_ceiling)
            for (kind, value, n_reports, n_reporters, is_exact, first_seen, last_seen,
                 row_weight, row_bound, row_ceiling) in self.db.execute(
                f"SELECT kind, value, {reports}, {reporters}, {exact}, {first}, {last}, "
                f"{weight}, {bound} AS bound, {bound} * {_BONUS_SQL} AS ceiling "
                f"FROM {source} {where} GROUP BY kind, value "
                # HAVING runs once per entity, not once per row.
                "HAVING NOT (kind = 'domain' AND value IN "
                "(SELECT value FROM json_each(:exclude))) "
                f"ORDER BY ceiling DESC, {reporters} DESC, {reports} DESC, kind, value "
                "LIMIT :limit", params,
            )
        ]
        if len(rows) == depth:
            rest = max(rest, rows[-1].ceiling)
        return Ranking(rows, rest)

    def refine(self, row: EntityRow, filters: Filters, now: int) -> EntityRow | None:
        """Return a ranked row's exact figures over the selected reports (None: none)."""
        where, params = _where(filters)
        params |= {"kind": row.kind, "value": row.value}
        reports, first, last, weight = row.reports, row.first_seen, row.last_seen, row.weight
        # Distinct reporters in (kind, value, reporter) order need no temporary B-tree,
        # but read every row of the entity: worth it unless the window holds few of them.
        by_reporter = True
        if filters.since is not None:
            # The stats cover all time: re-read the window, the end of the key's range.
            reports, first, last, weight = self.db.execute(
                f"SELECT count(*), min(received_at), max(received_at), max({_WEIGHT_SQL}) "
                f"FROM entity_reports WHERE kind = :kind AND value = :value {_and(where)}",
                params,
            ).fetchone()
            if not reports:
                return None
            by_reporter = reports * 4 > row.reports
        index = "INDEXED BY entity_reports_by_reporter" if by_reporter else ""
        (reporters,) = self.db.execute(
            f"SELECT count(DISTINCT reporter) FROM entity_reports {index} "
            f"WHERE kind = :kind AND value = :value {_and(where)}", params,
        ).fetchone()
        base = scoring.base_score(reporters, last, weight, now)
        return EntityRow(row.kind, row.value, reports, reporters, True, first, last, weight,
                         base, base)

    def _share_since(self, since: int) -> float:
        """Return the share of all reports received since a time (0 to 1)."""
        (total,) = self.db.execute("SELECT count(*) FROM reports").fetchone()
        (window,) = self.db.execute(
            "SELECT count(*) FROM reports WHERE received_at >= ?", (since,)).fetchone()
        return window / total if total else 0.0

    def _cut(self, filters: Filters, where: str, params: dict[str, Any], now: int,
             bonus: bool) -> tuple[str, float]:
        """Choose which entities to read (a condition on their stats), and the others' ceiling.

        The cut lets about `depth` rows through: those with more reporters than the
        depth-th busiest, or as many and seen as late. An entity left out has at most that
        many under each selected status ('*': all) and, with that many, was seen earlier;
        so it scores at most the returned ceiling. "" (and 0): read every entity.
        """
        row = self.db.execute(
            f"SELECT reporters, last_seen FROM entity_stats INDEXED BY entity_stats_by_reporters "
            f"{where} ORDER BY reporters DESC, last_seen DESC LIMIT 1 OFFSET :limit", params,
        ).fetchone()
        if row is None:
            return "", 0.0  # fewer than `depth`: read them all
        params |= {"cut_reporters": row[0], "cut_seen": row[1]}
        statuses = max(len(filters.statuses), 1)
        as_many_earlier = scoring.base_score(statuses * row[0], row[1], 1.0, now)
        fewer = scoring.base_score(statuses * (row[0] - 1), now, 1.0, now)
        bound = max(as_many_earlier, fewer) * max(scoring.TYPE_WEIGHTS.values())
        return ("reporters >= :cut_reporters AND (reporters > :cut_reporters "
                "OR last_seen >= :cut_seen)",
                bound * (scoring.WATCHLIST_BONUS if bonus else 1.0))

    def _first_report(self) -> int:
        """Return when the first report was received (0 with none)."""
        (first,) = self.db.execute("SELECT min(received_at) FROM reports").fetchone()
        return int(first or 0)

    def receipts(self, kind: str, value: str, filters: Filters, limit: int) -> list[str]:
        """Return the receipts of the latest selected reports naming an entity, newest first."""
        where, params = _where(filters, table="e")
        # The primary key ends (received_at, report_id): the latest are the range's end.
        rows = self.db.execute(
            f"SELECT r.receipt FROM entity_reports AS e JOIN reports AS r ON r.id = e.report_id "
            f"WHERE e.kind = :kind AND e.value = :value {_and(where)} "
            "ORDER BY e.received_at DESC, e.report_id DESC LIMIT :limit",
            {**params, "kind": kind, "value": value, "limit": limit},
        )
        return [str(receipt) for (receipt,) in rows]

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

    def per_day(self, filters: Filters, start: int) -> list[tuple[int, int]]:
        """Return (day number, reports) for the selected reports received since `start`."""
        where, params = _where(filters)
        rows = self.db.execute(
            f"SELECT (received_at + {UTC_OFFSET}) / {DAY} AS day, count(*) FROM reports "
            f"WHERE received_at >= :start {_and(where)} GROUP BY day ORDER BY day",
            {**params, "start": start},
        )
        return [(int(day), int(count)) for day, count in rows]


def last_run(db: sqlite_utils.Database, investigator: str) -> int | None:
    """Return when an investigator last ran triage, or None."""
    row = db.execute(
        "SELECT last_run_at FROM triage_runs WHERE investigator = ?", (investigator,)
    ).fetchone()
    return None if row is None else int(row[0])


def record_run(db: sqlite_utils.Database, investigator: str, at: int) -> None:
    """Remember that an investigator ran triage at a time."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "INSERT INTO triage_runs (investigator, last_run_at) VALUES (?, ?) "
            "ON CONFLICT (investigator) DO UPDATE SET last_run_at = excluded.last_run_at",
            (investigator, at),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise

