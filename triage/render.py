"""Print the triage summary and a case: JSON, markdown, a self-contained HTML page, rich tables.

Everything a reporter wrote (names, values, descriptions) is escaped for the format it goes
into: markdown table cells lose their pipes and markup, HTML is escaped throughout, and
rich markup in data is never interpreted. Receipts are shown as XXXXX-XXXXX everywhere.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Set
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from handlers.receipts import display
from handlers.texts import TARGET_TYPES
from triage.case import STATUSES, Case
from triage.similar import Suggestion
from triage.summary import Summary
from triage.times import day_label, day_number, iso, short

RECEIPTS_SHOWN = 3  # in tables; JSON has them all


def _counts(counts: dict[str, int], order: Iterable[str]) -> dict[str, int]:
    """Return counts in a fixed order, every known key present (zeros too), unknown last."""
    ordered = {key: counts.get(key, 0) for key in order}
    ordered |= {key: n for key, n in sorted(counts.items()) if key not in ordered}
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
            "by_status": _counts(totals.by_status, STATUSES),
            "by_target_type": _counts(totals.by_target_type, TARGET_TYPES),
        },
        "new_since": {
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
            }
            for e in summary.entities
        ],
        "suggestions": [_suggestion_json(s) for s in summary.suggestions],
    }


def _suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {"a": {"kind": s.a[0], "value": s.a[1]}, "b": {"kind": s.b[0], "value": s.b[1]},
            "score": s.score, "why": s.why}


def _count(n: int, noun: str) -> str:
    """Say how many: "1 report", "2,001 reports"."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _headline(summary: Summary) -> str:
    """One sentence of totals and what is new."""
    totals = summary.totals
    line = f"{_count(totals.reports, 'report')} from {_count(totals.reporters, 'reporter')}"
    if summary.last_run is None:
        return line + "; your first run (nothing to compare with yet)."
    return (line + f"; {summary.new_reports or 0:,} new since your last run "
            f"({short(summary.last_run)}).")


def _filters_line(summary: Summary) -> str:
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
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _md_table(header: list[str], rows: Iterable[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return lines


def summary_markdown(summary: Summary) -> str:
    """Return the summary as markdown (tables), for a briefing or a ticket."""
    totals = summary.totals
    out = [f"# Tipline triage, {short(summary.generated_at)}", "",
           f"{md(_filters_line(summary))}. {md(_headline(summary))}", ""]
    out += _md_table(["status", "reports"],
                     [[k, f"{n:,}"] for k, n in _counts(totals.by_status, STATUSES).items()])
    out.append("")
    out += _md_table(["target type", "reports"],
                     [[k, f"{n:,}"] for k, n in
                      _counts(totals.by_target_type, TARGET_TYPES).items()])
    out += ["", "## Entities", ""]
    if summary.entities:
        out += _md_table(
            ["#", "kind", "value", "watchlist", "reports", "reporters", "first seen",
             "last seen", "score", "receipts"],
            [[i, e.kind, e.value + (" (new)" if e.new else ""), e.watchlist or "",
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
.new{color:#8250df;font-size:.8em}.watch{color:#cf222e;font-weight:600}
.bar{background:#0969da;height:.7em;display:inline-block;vertical-align:middle}
svg text{font-size:11px;fill:#57606a}
"""


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(header: list[str], rows: Iterable[list[str]], numeric: Set[int] = frozenset()
                ) -> str:
    """Return an HTML table; cells are already escaped HTML."""
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


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
        [[str(i), _h(e.kind),
          _h(e.value) + (' <span class="new">new</span>' if e.new else ""),
          f'<span class="watch">{_h(e.watchlist)}</span>' if e.watchlist else "",
          f"{e.reports:,}", f"{e.reporters:,}", _h(short(e.first_seen)),
          _h(short(e.last_seen)),
          f'{e.score:.2f} <span class="bar" style="width:{60 * e.score / best:.0f}px"></span>',
          _h(" ".join(display(r) for r in e.receipts[:RECEIPTS_SHOWN]))]
         for i, e in enumerate(summary.entities, 1)],
        numeric={0, 4, 5, 8},
    )
    suggestions = ""
    if summary.suggestions:
        suggestions = "<h2>Possibly the same</h2>" + _html_table(
            ["entity", "entity", "score", "why"],
            [[_h(f"{s.a[0]} {s.a[1]}"), _h(f"{s.b[0]} {s.b[1]}"), f"{s.score:g}", _h(s.why)]
             for s in summary.suggestions],
            numeric={2},
        )
    status_table = _html_table(
        ["status", "reports"],
        [[_h(k), f"{n:,}"] for k, n in _counts(totals.by_status, STATUSES).items()], {1})
    type_table = _html_table(
        ["target type", "reports"],
        [[_h(k), f"{n:,}"] for k, n in _counts(totals.by_target_type, TARGET_TYPES).items()],
        {1})
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>Tipline triage {_h(short(summary.generated_at))}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>Tipline triage, {_h(short(summary.generated_at))}</h1>"
        f'<p>{_h(_headline(summary))} <span class="muted">({_h(_filters_line(summary))}; '
        f"times are Beijing time)</span></p>"
        f'<div class="totals">{status_table}{type_table}</div>'
        f"<h2>Reports per day</h2>{per_day_svg(summary.per_day, first_day, last_day)}"
        f"<h2>Top entities</h2>{entities if summary.entities else '<p>No entities.</p>'}"
        f"{suggestions}</body></html>\n"
    )


# --- rich (terminal) ---------------------------------------------------------------------


def summary_rich(summary: Summary) -> RenderableType:
    """Return the summary as rich tables for the terminal."""
    totals = summary.totals
    counts = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("status", "reports", "target type", "reports"):
        counts.add_column(name, justify="right" if name == "reports" else "left")
    statuses = list(_counts(totals.by_status, STATUSES).items())
    types = list(_counts(totals.by_target_type, TARGET_TYPES).items())
    for i in range(max(len(statuses), len(types))):
        cells: list[str] = []
        for column in (statuses, types):
            cells += [column[i][0], f"{column[i][1]:,}"] if i < len(column) else ["", ""]
        counts.add_row(*map(Text, cells))
    entities = Table(box=box.SIMPLE_HEAD, title="Entities", title_justify="left")
    for name in ("#", "kind", "value", "watchlist", "reports", "reporters", "first seen",
                 "last seen", "score", "receipts"):
        numeric = name in ("#", "reports", "reporters", "score")
        entities.add_column(name, justify="right" if numeric else "left")
    for i, e in enumerate(summary.entities, 1):
        value = Text(e.value)
        if e.new:
            value.append(" new", style="magenta")
        entities.add_row(
            str(i), Text(e.kind), value, Text(e.watchlist or "", style="bold red"),
            f"{e.reports:,}", f"{e.reporters:,}", short(e.first_seen), short(e.last_seen),
            f"{e.score:.2f}", " ".join(display(r) for r in e.receipts[:RECEIPTS_SHOWN]),
        )
    parts: list[RenderableType] = [
        Text(f"Tipline triage, {short(summary.generated_at)} ({_filters_line(summary)})",
             style="bold"),
        Text(_headline(summary)),
        counts,
        entities if summary.entities else Text("No entities."),
    ]
    if summary.suggestions:
        same = Table(box=box.SIMPLE_HEAD, title="Possibly the same", title_justify="left")
        for name in ("entity", "entity", "score", "why"):
            same.add_column(name, justify="right" if name == "score" else "left")
        for s in summary.suggestions:
            same.add_row(Text(f"{s.a[0]} {s.a[1]}"), Text(f"{s.b[0]} {s.b[1]}"),
                         f"{s.score:g}", Text(s.why))
        parts.append(same)
    return Group(*parts)


def case_rich(case: Case) -> RenderableType:
    """Return one case as rich tables for the terminal."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    for name, value in (
        ("receipt", display(case.receipt)),
        ("status", case.status),
        ("assignee", case.assignee or "nobody"),
        ("target type", case.target_type),
        ("received", iso(case.received_at)),
        ("updated", iso(case.updated_at)),
        ("reporter", f"{case.reporter} ({_count(case.reporter_reports, 'report')} in all)"),
        ("channel", f"{case.channel}, {case.lang}"),
        ("who", case.who),
        ("description", case.description),
    ):
        fields.add_row(name, Text(value))
    parts: list[RenderableType] = [fields]
    identifiers = Table(box=box.SIMPLE_HEAD, title="Identifiers", title_justify="left")
    for name in ("kind", "value", "as written", "watchlist", "reports naming it"):
        identifiers.add_column(name, justify="right" if name.startswith("reports") else "left")
    for i in case.identifiers:
        identifiers.add_row(Text(i.kind), Text(i.value), Text(i.raw),
                            Text(i.watchlist or "", style="bold red"), f"{i.reports:,}")
    parts.append(identifiers if case.identifiers else Text("No identifiers."))
    evidence = Table(box=box.SIMPLE_HEAD, title="Evidence", title_justify="left")
    for name in ("#", "kind", "received", "status", "sha256", "details"):
        evidence.add_column(name)
    for e in case.evidence:
        status = e.fetch_status
        if e.attempts:
            status += f" (tried {e.attempts}×{': ' + e.last_error if e.last_error else ''})"
        details = ", ".join(f"{k}: {v}" for k, v in e.details.items())
        size = f" {e.size:,} B" if e.size else ""
        evidence.add_row(str(e.id), Text(e.kind), short(e.received_at), Text(status),
                         Text((e.sha256 or "") + size), Text(details))
    parts.append(evidence if case.evidence else Text("No evidence."))
    history = Table(box=box.SIMPLE_HEAD, title="History", title_justify="left")
    for name in ("at", "who", "action", "detail"):
        history.add_column(name)
    for h in case.history:
        history.add_row(short(h.at), Text(h.actor), Text(h.action), Text(h.detail))
    parts.append(history)
    return Group(*parts)
