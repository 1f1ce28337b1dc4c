"""Print the triage summary as JSON, markdown or one self-contained HTML page.

Everything a reporter or a list supplied (names, values, watchlist names) is escaped for
the format it goes into: markdown table cells lose their pipes and markup, HTML is
escaped throughout. Receipts are shown as XXXXX-XXXXX everywhere. The terminal's tables
are triage.terminal (rich is loaded only for them).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Set
from typing import TYPE_CHECKING, Any

from triage.inert import inert
from triage.summary import Entity, Summary
from triage.times import day_label, day_number, iso, short
from triage.vocabulary import STATUSES, TARGET_TYPES
from triage.vocabulary import display_receipt as display

if TYPE_CHECKING:
    from triage.similar import Suggestion

RECEIPTS_SHOWN = 3  # in tables; JSON has them all


def in_order(tally: dict[str, int], order: Iterable[str]) -> dict[str, int]:
    """Return counts in a fixed order, every known key present (zeros too), unknown last."""
    ordered = {key: tally.get(key, 0) for key in order}
    ordered |= {key: n for key, n in sorted(tally.items()) if key not in ordered}
    return ordered


def summary_json(summary: Summary, top: int) -> dict[str, Any]:
    """Return the `tipline triage --format json` object (DESIGN.md's shape, and more)."""
    totals = summary.totals
    return {
        "generated_at": iso(summary.generated_at),
        "filters": {
            "since": iso(summary.filters.since) if summary.filters.since is not None else None,
            "status": list(summary.filters.statuses),
            "kind": list(summary.filters.kinds),
            "top": top,
        },
        "totals": {
            "reports": totals.reports,
            "reporters": totals.reporters,
            "by_status": in_order(totals.by_status, STATUSES),
            "by_target_type": in_order(totals.by_target_type, TARGET_TYPES),
        },
        "new_since": {
            "by": summary.seen_by or None,
            "view": summary.view or None,
            "last_run": iso(summary.last_run) if summary.last_run is not None else None,
            "reports": summary.new_reports,
            "entities": sum(e.new for e in summary.entities),
        },
        "entities": [
            {
                "kind": e.kind,
                "value": e.value,
                "reports": e.reports,
                "reporters": e.reporters,
                "first_seen": iso(e.first_seen),
                "last_seen": iso(e.last_seen),
                "score": e.score,
                "watchlist": e.watchlist,
                "receipts": [display(r) for r in e.receipts],
                "new": e.new,
                "urls": list(e.urls),
            }
            for e in summary.entities
        ],
        "suggestions": [_suggestion_json(s) for s in summary.suggestions],
        "same_images": [{"reporters": i.reporters,
                         "receipts": [display(r) for r in i.receipts]}
                        for i in summary.same_images],
    }


def _suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {"a": {"kind": s.a[0], "value": s.a[1]}, "b": {"kind": s.b[0], "value": s.b[1]},
            "score": s.score, "why": s.why}


def plural(n: int, noun: str) -> str:
    """Say how many: "1 report", "2,001 reports"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def headline(summary: Summary) -> str:
    """One sentence of totals and what is new since whose last run in this view."""
    totals = summary.totals
    line = f"{plural(totals.reports, 'report')} from {plural(totals.reporters, 'reporter')}"
    run = f"{summary.view} run" if summary.view not in ("", "table") else "run"
    if summary.seen_by:
        run += f" as {summary.seen_by}"
    if summary.last_run is None:
        return line + f"; your first {run} (nothing to compare with yet)."
    return (line + f"; {summary.new_reports or 0:,} new since your last {run} "
            f"({short(summary.last_run)}).")


def filters_line(summary: Summary) -> str:
    """Describe the filters in a few words."""
    f = summary.filters
    parts = [f"since {short(f.since)}" if f.since is not None else "all time"]
    if f.statuses:
        parts.append("status " + ", ".join(f.statuses))
    if f.kinds:
        parts.append("kind " + ", ".join(f.kinds))
    return "; ".join(parts)


# --- markdown ----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def md(text: object) -> str:
    """Escape text for a markdown table cell: markup, pipes and line breaks neutralised."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(inert(str(text)).split()))


def _md_table(header: list[str], rows: Iterable[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


def summary_markdown(summary: Summary) -> str:
    """Return the summary as markdown (tables), for a briefing or a ticket."""
    totals = summary.totals
    out = [f"# Tipline triage, {short(summary.generated_at)}", "",
           f"{md(filters_line(summary))}. {md(headline(summary))}", ""]
    out += _md_table(["status", "reports"],
                     [[k, f"{n:,}"] for k, n in in_order(totals.by_status, STATUSES).items()])
    out.append("")
    out += _md_table(["target type", "reports"],
                     [[k, f"{n:,}"] for k, n in
                      in_order(totals.by_target_type, TARGET_TYPES).items()])
    out += ["", "## Entities", ""]
    if summary.entities:
        out += _md_table(
            ["#", "kind", "value", "watchlist", "reports", "reporters", "first seen",
             "last seen", "score", "receipts"],
            [[i, e.kind, " ".join((e.value, *e.urls)) + (" (new)" if e.new else ""),
              e.watchlist or "",
              f"{e.reports:,}", f"{e.reporters:,}", short(e.first_seen), short(e.last_seen),
              f"{e.score:.2f}", " ".join(display(r) for r in e.receipts[:RECEIPTS_SHOWN])]
             for i, e in enumerate(summary.entities, 1)],
        )
    else:
        out.append("No entities.")
    if summary.suggestions:
        out += ["", "## Possibly the same", ""]
        out += _md_table(["entity", "entity", "score", "why"],
                         [[f"{s.a[0]} {s.a[1]}", f"{s.b[0]} {s.b[1]}", f"{s.score:g}", s.why]
                          for s in summary.suggestions])
    if summary.same_images:
        out += ["", "## The same image from several reporters", ""]
        out += _md_table(["reporters", "receipts"],
                         [[i.reporters, " ".join(display(r) for r in i.receipts)]
                          for i in summary.same_images])
    return "\n".join(out) + "\n"


# --- HTML --------------------------------------------------------------------------------

_CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","Noto Sans CJK SC",
sans-serif;margin:2em;color:#1b1f24;max-width:72em}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.totals{display:flex;gap:2em;flex-wrap:wrap}.muted{color:#57606a}
.new{color:#fff;background:#8250df;border-radius:.6em;padding:0 .45em;font-size:.8em}
tr.new-row td{background:#fbefff}.watch{color:#cf222e;font-weight:600}
.status{font-size:.8em;border:1px solid #d0d7de;border-radius:.6em;padding:0 .45em}
.st-new{color:#0969da}.st-reviewing{color:#9a6700}.st-escalated{color:#cf222e}
.st-dismissed,.st-closed{color:#57606a}ul.urls{margin:.2em 0 0 1em;padding:0;font-size:.9em}
.bar{background:#0969da;height:.7em;display:inline-block;vertical-align:middle}
svg text{font-size:11px;fill:#57606a}
"""


def _h(text: object) -> str:
    return html.escape(inert(str(text)), quote=True)


def _html_table(header: list[str], rows: Iterable[list[str]], numeric: Set[int] = frozenset(),
                new_rows: Set[int] = frozenset()) -> str:
    """Return an HTML table; cells are already escaped HTML; `new_rows` are highlighted."""
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join(
        ('<tr class="new-row">' if n in new_rows else "<tr>")
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                  for i, c in enumerate(row)) + "</tr>"
        for n, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_value(e: Entity) -> str:
    """An entity's value with a mark when it is new, a domain's URLs under it."""
    # "new" alone would read as the status: say new to whom.
    value = _h(e.value) + (' <span class="new" title="first seen since your last run">'
                           "new entity</span>" if e.new else "")
    if e.urls:
        value += '<ul class="urls">' + "".join(f"<li>{_h(u)}</li>" for u in e.urls) + "</ul>"
    return value


def _html_receipts(e: Entity, last_run: int | None) -> str:
    """Each receipt with its report's status, marked when it arrived since the last run."""
    return "<br>".join(
        f'{_h(display(s.receipt))} <span class="status st-{_h(s.status)}">{_h(s.status)}'
        "</span>" + (' <span class="new">since your last run</span>'
                     if last_run is not None and s.received_at > last_run else "")
        for s in e.sightings[:RECEIPTS_SHOWN])


def per_day_svg(per_day: list[tuple[int, int]], first_day: int, last_day: int,
                width: int = 720, height: int = 160) -> str:
    """Return an inline SVG bar chart of reports per day, from first_day to last_day."""
    counts = dict(per_day)
    days = list(range(first_day, last_day + 1))
    peak = max([counts.get(d, 0) for d in days] + [1])
    left, bottom, top = 40, 20, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        n = counts.get(day, 0)
        h = plot_h * n / peak
        x = left + i * step
        bars.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{h:.1f}" fill="#0969da"><title>{day_label(day)}: {n:,}</title></rect>'
        )
    axis = (
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#d0d7de"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak:,}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 4}">{day_label(first_day)}</text>'
        f'<text x="{width - 10}" y="{height - 4}" text-anchor="end">{day_label(last_day)}</text>'
    )
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="reports per day">'
            f"{axis}{''.join(bars)}</svg>")


def summary_html(summary: Summary) -> str:
    """Return the summary as one self-contained HTML page (no external CSS, JS or fonts)."""
    totals = summary.totals
    last_day = day_number(summary.generated_at)
    first_day = min(day_number(summary.chart_start), last_day)
    best = max((e.score for e in summary.entities), default=1.0) or 1.0
    entities = _html_table(
        ["#", "kind", "value", "watchlist", "reports", "reporters", "first seen", "last seen",
         "score", "receipts"],
        [[str(i), _h(e.kind), _html_value(e),
          f'<span class="watch">{_h(e.watchlist)}</span>' if e.watchlist else "",
          f"{e.reports:,}", f"{e.reporters:,}", _h(short(e.first_seen)),
          _h(short(e.last_seen)),
          f'{e.score:.2f} <span class="bar" style="width:{60 * e.score / best:.0f}px"></span>',
          _html_receipts(e, summary.last_run)]
         for i, e in enumerate(summary.entities, 1)],
        numeric={0, 4, 5, 8},
        new_rows={i for i, e in enumerate(summary.entities) if e.new},
    )
    suggestions = ""
    if summary.suggestions:
        suggestions = "<h2>Possibly the same</h2>" + _html_table(
            ["entity", "entity", "score", "why"],
            [[_h(f"{s.a[0]} {s.a[1]}"), _h(f"{s.b[0]} {s.b[1]}"), f"{s.score:g}", _h(s.why)]
             for s in summary.suggestions],
            numeric={2},
        )
    if summary.same_images:
        suggestions += "<h2>The same image from several reporters</h2>" + _html_table(
            ["reporters", "receipts"],
            [[str(i.reporters), _h(" ".join(display(r) for r in i.receipts))]
             for i in summary.same_images], numeric={0})
    status_table = _html_table(
        ["status", "reports"],
        [[_h(k), f"{n:,}"] for k, n in in_order(totals.by_status, STATUSES).items()], {1})
    type_table = _html_table(
        ["target type", "reports"],
        [[_h(k), f"{n:,}"] for k, n in in_order(totals.by_target_type, TARGET_TYPES).items()],
        {1})
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>Tipline triage {_h(short(summary.generated_at))}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Tipline triage, {_h(short(summary.generated_at))}</h1>"
        f'<p>{_h(headline(summary))} <span class="muted">({_h(filters_line(summary))}; '
        f"times are Beijing time)</span></p>"
        f'<div class="totals">{status_table}{type_table}</div>'
        f"<h2>Reports per day</h2>{per_day_svg(summary.per_day, first_day, last_day)}"
        f"<h2>Top entities</h2>{entities if summary.entities else '<p>No entities.</p>'}"
        f"{suggestions}</body></html>\n"
    )
