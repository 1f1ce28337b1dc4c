"""The triage summary: totals, the ranked entity list and "possibly the same" suggestions.

`summarise` works over a SummarySource (db/summary.py implements it in SQL), so it does no
I/O of its own and takes `now` as an argument.

Ranking is exact but lazy. The source hands over the few hundred entities with the highest
ceiling (the most each can score: its base score from running totals, exact, or an upper
bound when totals are summed over statuses or cut by a --since window; times the
watchlist bonus where its kind could match) and a ceiling for all it left out. Here they
are scored exactly in that order (reporters counted, the window re-read, the watchlist
looked up), each only if it could still make the list, until the N-th best score beats
every ceiling left. If the list runs out first it is fetched deeper; if too many bounds
prove loose (a short --since window), the source ranks from one pass over the reports.
Allowlisted domains (triage.allowlist) never enter the list. "Possibly the same"
suggestions are computed among the shown entities and the SUGGESTION_POOL highest
ceilings only, and kept when at least one side is shown.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple, Protocol

from triage import score as scoring
from triage.times import DAY, UTC_OFFSET, day_number

if TYPE_CHECKING:
    from triage.similar import Suggestion

# triage.similar, .watchlist and .allowlist load pinyin dictionaries and the public suffix
# list (half a second): they are imported where used, so a caller can start its SQL first.

RECEIPTS_PER_ENTITY = 5
SUGGESTION_POOL = 200
MAX_SUGGESTIONS = 30
CHART_DAYS = 90
# The kinds triage.watchlist.lookup_terms can match: no other kind gets the bonus. For
# the first, the watchlist term is the identifier itself (a registrable domain, an address
# in extract's form), so the database can tell a match; the others need lookup_terms.
MATCHED_KINDS = ("domain", "evm", "btc", "tron")
WATCHLIST_KINDS = (*MATCHED_KINDS, "name", "url", "email")
_MARGIN = 1 + 1e-9
# Entities read per entity shown: the watchlist bonus and loose bounds need a margin.
DEPTH_PER_ENTITY = 50
# Exact look-ups a walk may make before ranking from one pass over the reports instead.
MAX_LOOKUPS = 400


@dataclass(frozen=True, slots=True)
class Filters:
    """Which reports count: received since a time, in some statuses, naming some kinds."""

    since: int | None = None
    statuses: tuple[str, ...] = ()  # empty: every status
    kinds: tuple[str, ...] = ()  # empty: every kind (entities only; totals count reports)


@dataclass(frozen=True, slots=True)
class Totals:
    """Counts over the reports the filters select."""

    reports: int
    reporters: int
    by_status: dict[str, int]
    by_target_type: dict[str, int]


@dataclass(frozen=True, slots=True)
class EntityRow:
    """One entity as the database ranks it, before its reporters and watchlist are checked."""

    kind: str
    value: str
    reports: int
    reporters: int  # exact, or an upper bound
    exact: bool  # whether the figures are exact, or upper bounds
    first_seen: int | None  # None: not known (re-read when shown)
    last_seen: int
    weight: float
    base_score: float  # with `reporters` as it is: exact or an upper bound
    ceiling: float  # the most its score can be: base_score with any watchlist bonus


@dataclass(frozen=True, slots=True)
class Ranking:
    """Entities by ceiling, highest first, and the highest ceiling of any entity left out."""

    rows: list[EntityRow]
    rest: float  # 0 when no entity was left out
    selected: bool = False  # every row names a selected report (not only bounds)


class Sighting(NamedTuple):
    """One report naming an entity: its receipt, status and when it was received."""

    receipt: str
    status: str
    received_at: int


@dataclass(frozen=True, slots=True)
class Entity:
    """One ranked entity as investigators see it."""

    kind: str
    value: str
    reports: int
    reporters: int
    first_seen: int
    last_seen: int
    score: float
    watchlist: str | None
    receipts: tuple[str, ...]
    new: bool  # first seen after the investigator's previous run
    sightings: tuple[Sighting, ...] = ()  # the same reports as `receipts`, with status
    urls: tuple[str, ...] = ()  # a domain's URLs, each ranked below it: shown with it


@dataclass(frozen=True, slots=True)
class SameImage:
    """One picture (near-identical copies of it) sent by several reporters."""

    reporters: int
    receipts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything `tipline triage` prints."""

    generated_at: int
    filters: Filters
    totals: Totals
    last_run: int | None  # the investigator's previous run
    new_reports: int | None  # reports received since then (None on a first run)
    entities: list[Entity]
    suggestions: list[Suggestion]
    per_day: list[tuple[int, int]] = field(default_factory=list)  # (day number, reports)
    chart_start: int = 0  # when the per-day counts start (epoch seconds)
    same_images: list[SameImage] = field(default_factory=list)
    seen_by: str = ""  # whose previous run `last_run` is
    view: str = ""  # the view (format) that run was in; each keeps its own


class SummarySource(Protocol):
    """What the summary reads from the database."""

    def totals(self, filters: Filters) -> Totals:
        """Count reports, reporters, statuses and target types."""
        ...

    def ranked(self, filters: Filters, now: int, depth: int, exclude_domains: Collection[str],
               bonus_kinds: Collection[str], matched_kinds: Collection[str] = (),
               scan: bool = False) -> Ranking:
        """Return about `depth` entities by ceiling, and a ceiling for all the others.

        An entity's ceiling is its base score, or an upper bound of it, times the watchlist
        bonus if its kind is in `bonus_kinds`, or in `matched_kinds` and the entity is a
        watchlist term itself (such entities are always among the rows). `scan`: rank
        from one pass over the selected reports, never from running totals.
        """
        ...

    def refine(self, row: EntityRow, filters: Filters, now: int) -> EntityRow | None:
        """Return a ranked row's exact figures over the selected reports (None: none)."""
        ...

    def receipts(self, kind: str, value: str, filters: Filters, limit: int
                 ) -> list[Sighting]:
        """Return the latest selected reports naming an entity, newest first."""
        ...

    def watchlist_terms(self) -> dict[tuple[str, str], str]:
        """Return every watchlist term (kind, value) with the name it stands for."""
        ...

    def reports_since(self, filters: Filters, at: int) -> int:
        """Count the selected reports received after a time."""
        ...

    def per_day(self, filters: Filters, start: int) -> list[tuple[int, int]]:
        """Return (day number, reports) for the selected reports received since `start`."""
        ...

    def images(self, filters: Filters, limit: int) -> list[tuple[int, str, str]]:
        """(perceptual hash, reporter, receipt) of the newest `limit` images read."""
        ...


Scored = tuple[float, EntityRow, str | None]  # score, exact figures, watchlist name
DONE, DEEPER, LOOSE = "done", "deeper", "loose"


class _Ranker:
    """The exact best entities; asked again for more, it goes on from what it has read."""

    def __init__(self, source: SummarySource, filters: Filters, now: int) -> None:
        self.source, self.filters, self.now = source, filters, now
        self.terms = source.watchlist_terms()
        self.bonus_kinds = (tuple(k for k in WATCHLIST_KINDS if k not in MATCHED_KINDS)
                            if self.terms else ())
        self.matched_kinds = MATCHED_KINDS if self.terms else ()
        self.scored: dict[tuple[str, str], Scored | None] = {}  # None: no selected report
        self.scan = False
        self.depth = 0
        self.ranking: Ranking | None = None

    def best(self, top: int) -> list[Scored]:
        """Return the exact best `top`."""
        from triage.allowlist import allowlisted_domains

        self.depth = max(self.depth, DEPTH_PER_ENTITY * top, SUGGESTION_POOL)
        while True:
            if self.ranking is None:
                self.ranking = self.source.ranked(
                    self.filters, self.now, self.depth, allowlisted_domains(),
                    self.bonus_kinds, self.matched_kinds, self.scan)
            outcome = _walk(self.source, self.ranking, self.filters, self.now, top,
                            self.terms, self.scored, None if self.scan else MAX_LOOKUPS)
            if outcome == DONE:
                return _sorted(s for s in self.scored.values() if s)[:top]
            if outcome == LOOSE:
                self.scan = True
            else:
                self.depth *= 8
            self.ranking = None

    def selected(self, limit: int) -> list[tuple[str, str]]:
        """The first `limit` rows by ceiling that are known to name a selected report."""
        ranking = self.ranking
        if ranking is None:
            return []
        return [(row.kind, row.value) for row in ranking.rows[:limit]
                if ranking.selected or self.scored.get((row.kind, row.value)) is not None]


# Rankings asked for again to fill the list once URLs are shown with their domains.
MAX_REFILLS = 4


def _url_domain(url: str) -> str | None:
    """The registrable domain of a URL, or None."""
    import urllib.parse

    from triage.allowlist import registrable

    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None
    return registrable(host) if host else None


def _with_urls(best: list[Scored]) -> tuple[list[Scored], dict[tuple[str, str], list[str]]]:
    """The entities but URLs whose domain is among them, and each such domain's URLs.

    A URL's domain is named by every report naming the URL, so it ranks above it: the
    URL rows would only repeat it.
    """
    from triage.allowlist import registrable

    domains = {registrable(row.value): (row.kind, row.value)
               for _, row, _ in best if row.kind == "domain"}
    kept: list[Scored] = []
    urls: dict[tuple[str, str], list[str]] = {}
    for entry in best:
        row = entry[1]
        domain = domains.get(_url_domain(row.value)) if row.kind == "url" else None
        if domain is None:
            kept.append(entry)
        else:
            urls.setdefault(domain, []).append(row.value)
    return kept, urls


def _rank(ranker: _Ranker, top: int, fold_urls: bool
          ) -> tuple[list[Scored], dict[tuple[str, str], list[str]]]:
    """The best `top`; `fold_urls`: URLs shown beside their domains, the list filled up."""
    if not fold_urls:
        return ranker.best(top), {}
    want = top
    for _ in range(MAX_REFILLS):
        best = ranker.best(want)
        kept, urls = _with_urls(best)
        if len(kept) >= top or len(best) < want:
            break
        want = top + len(best) - len(kept)
    return kept[:top], urls


def _walk(source: SummarySource, ranking: Ranking, filters: Filters, now: int, top: int,
          terms: dict[tuple[str, str], str], scored: dict[tuple[str, str], Scored | None],
          budget: int | None) -> str:
    """Score rows in ceiling order into `scored`; say whether the best `top` are known."""
    best: list[float] = []  # a min-heap of the best `top` scores so far
    lookups = 0
    for row in ranking.rows:
        # Nothing from here down, nor left out, can score more (or tie, and win on
        # reporters, reports or name). SQL and Python may differ in the last bit: a margin.
        if len(best) >= top and best[0] > max(row.ceiling, ranking.rest) * _MARGIN:
            return DONE
        key = (row.kind, row.value)
        if key not in scored:
            name = _watchlist_name(terms, *key) if terms else None
            bonus = scoring.WATCHLIST_BONUS if name else 1.0
            if not row.exact:
                if len(best) >= top and row.base_score * bonus * _MARGIN < best[0]:
                    continue  # cannot make it, even at its bound
                lookups += 1
                if budget is not None and lookups > budget:
                    return LOOSE
            found = row if row.exact else source.refine(row, filters, now)
            scored[key] = None if found is None else _score(found, name, now)
        if (entry := scored[key]) is not None:
            heapq.heappush(best, entry[0])
            if len(best) > top:
                heapq.heappop(best)
    if ranking.rest and not (len(best) >= top and best[0] > ranking.rest * _MARGIN):
        return DEEPER  # an entity left out may still score more
    return DONE


def _score(row: EntityRow, name: str | None, now: int) -> Scored:
    """Score an entity from its exact figures."""
    total = scoring.score(row.reporters, row.last_seen, row.weight, name is not None, now)
    return total, replace(row, exact=True, ceiling=total), name


def shown_score(total: float) -> float:
    """Round a score for people: 2 decimals, or 3 significant digits below 1 (old reports)."""
    return round(total, 2) if total >= 1 else float(f"{total:.3g}")


def _watchlist_name(terms: dict[tuple[str, str], str], kind: str, value: str) -> str | None:
    """Return the watchlist name an identifier matches (as db.watchlist.watchlist_match)."""
    from triage.watchlist import lookup_terms

    for term in lookup_terms(kind, value):
        if term in terms:
            return terms[term]
    return None


def _sorted(scored: Iterable[Scored]) -> list[Scored]:
    """Sort scored entities best first; ties by reporters, reports, then kind and value."""
    return sorted(scored, key=lambda s: (-s[0], -s[1].reporters, -s[1].reports, s[1].kind,
                                         s[1].value))


# The newest images compared for "the same image from N reporters": a screenshot passed
# around is sent within days; comparing 2,000 takes about 20 ms (band-bucketed pHash).
IMAGES_COMPARED = 2_000
SAME_IMAGES_SHOWN = 10


def same_images(images: list[tuple[int, str, str]]) -> list[SameImage]:
    """Pictures sent by two reporters or more, most reporters first."""
    from triage.pictures.phash import near_groups

    found = []
    for group in near_groups([phash for phash, _, _ in images]):
        reporters = {images[i][1] for i in group}
        if len(reporters) > 1:
            receipts = tuple(dict.fromkeys(images[i][2] for i in sorted(group)))
            found.append(SameImage(len(reporters), receipts))
    found.sort(key=lambda s: (-s.reporters, s.receipts))
    return found[:SAME_IMAGES_SHOWN]


def summarise(source: SummarySource, filters: Filters, now: int, top: int,
              last_run: int | None = None, chart: bool = False,
              totals: Callable[[], Totals] | None = None, seen_by: str = "",
              view: str = "", fold_urls: bool = False) -> Summary:
    """Build the triage summary of the reports the filters select.

    `totals`: the totals, if the caller counts them elsewhere (it is called last).
    `fold_urls`: a URL whose domain is listed is shown in the domain's `urls`, not as a row.
    """
    from triage.similar import similar

    ranker = _Ranker(source, filters, now)
    ranked, urls = _rank(ranker, top, fold_urls)
    entities = []
    for total, row, name in ranked:
        if row.first_seen is None:  # lost to a deletion from the running stats: re-read
            row = source.refine(row, filters, now) or row
        first = row.last_seen if row.first_seen is None else row.first_seen
        sightings = tuple(source.receipts(row.kind, row.value, filters, RECEIPTS_PER_ENTITY))
        entities.append(Entity(
            row.kind, row.value, row.reports, row.reporters, first, row.last_seen,
            shown_score(total), name, tuple(s.receipt for s in sightings),
            last_run is not None and first > last_run, sightings,
            tuple(urls.get((row.kind, row.value), ())),
        ))
    shown = {(e.kind, e.value) for e in entities}
    # Only entities known to name a selected report: a bound over other statuses is not.
    pool = [*shown, *ranker.selected(SUGGESTION_POOL)]
    suggestions = [s for s in similar(pool) if s.a in shown or s.b in shown][:MAX_SUGGESTIONS]
    per_day: list[tuple[int, int]] = []
    start = 0
    if chart:
        # Midnight (Beijing) CHART_DAYS - 1 days ago, or the --since time if later.
        start = (day_number(now) - CHART_DAYS + 1) * DAY - UTC_OFFSET
        start = max(start, filters.since or start)
        per_day = source.per_day(filters, start)
    return Summary(
        same_images=same_images(source.images(filters, IMAGES_COMPARED)),
        generated_at=now,
        filters=filters,
        totals=totals() if totals is not None else source.totals(filters),
        last_run=last_run,
        new_reports=None if last_run is None else source.reports_since(filters, last_run),
        entities=entities,
        suggestions=suggestions,
        per_day=per_day,
        chart_start=start,
        seen_by=seen_by,
        view=view,
    )
