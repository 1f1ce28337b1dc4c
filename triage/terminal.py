"""Print the triage summary and a case as rich tables for the terminal.

Data is always passed to rich as Text, so markup in what reporters wrote ([bold]…) is
shown as written, never interpreted. Chinese characters take two cells; rich aligns them.
"""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from triage.case import NOT_APPLICABLE, Case
from triage.inert import inert
from triage.render import RECEIPTS_SHOWN, filters_line, headline, in_order, plural
from triage.summary import Summary
from triage.times import iso, short
from triage.vocabulary import STATUSES, TARGET_TYPES
from triage.vocabulary import display_receipt as display


def summary_rich(summary: Summary) -> RenderableType:
    """Return the summary as rich tables for the terminal."""
    totals = summary.totals
    counts = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ("status", "reports", "target type", "reports"):
        counts.add_column(name, justify="right" if name == "reports" else "left")
    statuses = list(in_order(totals.by_status, STATUSES).items())
    types = list(in_order(totals.by_target_type, TARGET_TYPES).items())
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
        value = _t(e.value)
        if e.new:
            value.append(" new", style="magenta")
        entities.add_row(
            str(i), _t(e.kind), value, _t(e.watchlist or "", style="bold red"),
            f"{e.reports:,}", f"{e.reporters:,}", short(e.first_seen), short(e.last_seen),
            f"{e.score:.2f}", " ".join(display(r) for r in e.receipts[:RECEIPTS_SHOWN]),
        )
    parts: list[RenderableType] = [
        _t(f"Tipline triage, {short(summary.generated_at)} ({filters_line(summary)})",
             style="bold"),
        _t(headline(summary)),
        counts,
        entities if summary.entities else _t("No entities."),
    ]
    if summary.suggestions:
        same = Table(box=box.SIMPLE_HEAD, title="Possibly the same", title_justify="left")
        for name in ("entity", "entity", "score", "why"):
            same.add_column(name, justify="right" if name == "score" else "left")
        for s in summary.suggestions:
            same.add_row(_t(f"{s.a[0]} {s.a[1]}"), _t(f"{s.b[0]} {s.b[1]}"),
                         f"{s.score:g}", _t(s.why))
        parts.append(same)
    for image in summary.same_images:
        receipts = ", ".join(display(r) for r in image.receipts)
        parts.append(_t(f"The same image from {image.reporters} reporters: {receipts}",
                        style="bold red"))
    return Group(*parts)


def _t(value: object, style: str = "") -> Text:
    """A cell or line of untrusted text, made inert for the terminal."""
    return Text(inert(str(value)), style=style)


def _readings(case: Case) -> list[RenderableType]:
    """Under the evidence, for each image: its read status, what was read, its text."""
    parts: list[RenderableType] = []
    for e in case.evidence:
        if e.read_status == NOT_APPLICABLE:
            continue
        lines = _t(f"Read from evidence #{e.id} ({e.kind}): {e.read_status}", style="bold")
        for item in e.read:
            lines.append(inert(f"\n  {item.kind}  {item.value}  ({item.source})"), style="")
        if e.looks_like:
            receipts = ", ".join(display(r) for r in e.looks_like)
            lines.append(f"\n  the same image is in {receipts}", style="bold red")
        if e.text:
            lines.append("\n  text:", style="")
            for line in e.text.splitlines():
                lines.append(inert(f"\n    {line}"), style="")
        parts.append(lines)
    return parts


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
        ("reporter", f"{case.reporter} ({plural(case.reporter_reports, 'report')} in all)"),
        ("channel", f"{case.channel}, {case.lang}"),
        ("who", case.who),
        ("description", case.description),
    ):
        fields.add_row(name, _t(value))
    parts: list[RenderableType] = [fields]
    identifiers = Table(box=box.SIMPLE_HEAD, title="Identifiers", title_justify="left")
    for name in ("kind", "value", "as written", "watchlist", "reports naming it"):
        identifiers.add_column(name, justify="right" if name.startswith("reports") else "left")
    for i in case.identifiers:
        identifiers.add_row(_t(i.kind), _t(i.value), _t(i.raw),
                            _t(i.watchlist or "", style="bold red"), f"{i.reports:,}")
    parts.append(identifiers if case.identifiers else _t("No identifiers."))
    evidence = Table(box=box.SIMPLE_HEAD, title="Evidence", title_justify="left")
    for name in ("#", "kind", "received", "status", "sha256", "details"):
        evidence.add_column(name)
    for e in case.evidence:
        status = e.fetch_status
        if e.attempts:
            status += f" (tried {e.attempts}×{': ' + e.last_error if e.last_error else ''})"
        details = ", ".join(f"{k}: {v}" for k, v in e.details.items())
        size = f" {e.size:,} B" if e.size else ""
        evidence.add_row(str(e.id), _t(e.kind), short(e.received_at), _t(status),
                         _t((e.sha256 or "") + size), _t(details))
    parts.append(evidence if case.evidence else _t("No evidence."))
    parts.extend(_readings(case))
    history = Table(box=box.SIMPLE_HEAD, title="History", title_justify="left")
    for name in ("at", "who", "action", "detail"):
        history.add_column(name)
    for h in case.history:
        history.add_row(short(h.at), _t(h.actor), _t(h.action), _t(h.detail))
    parts.append(history)
    if case.notifications:
        told = Table(box=box.SIMPLE_HEAD, title="Told the reporter", title_justify="left")
        for name in ("queued", "what", "delivery", "via", "tries"):
            told.add_column(name)
        for n in case.notifications:
            what = n.body if n.kind == "status" else f"question: {n.body}"
            state = n.state + (f" ({n.last_error})" if n.last_error else "")
            told.add_row(short(n.created_at), _t(what), _t(state), n.via or "",
                         str(n.attempts))
        parts.append(told)
    return Group(*parts)
