"""Print the triage summary and a case as rich tables for the terminal.

Data is always passed to rich as Text, so markup in what reporters wrote ([bold]…) is
shown as written, never interpreted. Chinese characters take two cells; rich aligns them.
A value is never cut: identifiers stay whole, free text wraps in its column, and a table
that would not fit the terminal is laid out one record at a time instead (a Sheet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from triage.case import NOT_APPLICABLE, Case, Identifier
from triage.inert import inert
from triage.render import RECEIPTS_SHOWN, filters_line, headline, in_order, plural
from triage.summary import Summary
from triage.times import iso, short
from triage.vocabulary import STATUSES, TARGET_TYPES
from triage.vocabulary import display_receipt as display

# A free-text column is given at least this many cells before a table is judged to fit.
WRAP_WIDTH = 24


@dataclass(frozen=True, slots=True)
class Col:
    """A column of a Sheet: its name, right-aligned numbers, or free text that may wrap."""

    name: str
    right: bool = False
    wrap: bool = False  # free text wraps in its column; any other value is kept whole


class Sheet:
    """A table whose values are never cut: as a table where it fits, else one record a block."""

    def __init__(self, title: str, columns: Sequence[Col], rows: Iterable[Sequence[Text | str]]
                 ) -> None:
        self.title = title
        self.columns = list(columns)
        self.rows = [[cell if isinstance(cell, Text) else Text(cell) for cell in row]
                     for row in rows]

    def __bool__(self) -> bool:
        return bool(self.rows)

    def table(self, wrap_width: int | None = None) -> Table:
        """The rows as a table; `wrap_width` caps free-text columns (to judge the fit)."""
        table = Table(box=box.SIMPLE_HEAD, title=self.title or None, title_justify="left")
        for col in self.columns:
            table.add_column(col.name, justify="right" if col.right else "left",
                             no_wrap=not col.wrap, overflow="fold",
                             max_width=wrap_width if col.wrap and wrap_width else None)
        for row in self.rows:
            table.add_row(*row)
        return table

    def records(self) -> Group:
        """The rows one block each: a column's name beside its value, empty ones left out."""
        parts: list[RenderableType] = [Text(self.title, style="italic")] if self.title else []
        for row in self.rows:
            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(overflow="fold")
            for col, cell in zip(self.columns, row, strict=True):
                if cell.plain:
                    grid.add_row(col.name, cell)
            parts += [Text(""), grid]
        return Group(*parts, Text(""))

    def fits(self, console: Console, options: ConsoleOptions) -> bool:
        """Whether the table fits the width with every identifier whole."""
        wide = options.update_width(max(options.max_width, 1 << 20))
        need = Measurement.get(console, wide, self.table(WRAP_WIDTH)).maximum
        return need <= options.max_width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table() if self.fits(console, options) else self.records()


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
    columns = [Col("#", right=True), Col("kind"), Col("value"), Col("watchlist"),
               Col("reports", right=True), Col("reporters", right=True), Col("first seen"),
               Col("last seen"), Col("score", right=True), Col("receipts", wrap=True)]
    rows: list[list[Text | str]] = []
    for i, e in enumerate(summary.entities, 1):
        value = _t(e.value)
        if e.new:
            value.append(" new", style="magenta")
        for url in e.urls:  # a domain's URLs, each under it rather than a row repeating it
            value.append(inert(f"\n  {url}"))
        rows.append([
            str(i), _t(e.kind), value, _t(e.watchlist or "", style="bold red"),
            f"{e.reports:,}", f"{e.reporters:,}", short(e.first_seen), short(e.last_seen),
            f"{e.score:.2f}", " ".join(display(r) for r in e.receipts[:RECEIPTS_SHOWN]),
        ])
    entities = Sheet("Entities", columns, rows)
    parts: list[RenderableType] = [
        _t(f"Tipline triage, {short(summary.generated_at)} ({filters_line(summary)})",
             style="bold"),
        _t(headline(summary)),
        counts,
        entities if summary.entities else _t("No entities."),
    ]
    if summary.suggestions:
        same = Sheet("Possibly the same",
                     [Col("entity"), Col("entity"), Col("score", right=True),
                      Col("why", wrap=True)],
                     [[_t(f"{s.a[0]} {s.a[1]}"), _t(f"{s.b[0]} {s.b[1]}"), f"{s.score:g}",
                       _t(s.why)] for s in summary.suggestions])
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


def _others(identifier: Identifier) -> str:
    """The receipts of the other reports naming an identifier, and how many are not listed."""
    listed = " ".join(display(r) for r in identifier.others)
    unlisted = identifier.other_reports - len(identifier.others)
    return listed + (f" and {unlisted:,} more" if unlisted > 0 else "")


def case_rich(case: Case) -> RenderableType:
    """Return one case as rich tables for the terminal."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column(overflow="fold")  # a description without spaces wraps, never cut
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
    identifiers = Sheet(
        "Identifiers",
        [Col("kind"), Col("value"), Col("as written"), Col("watchlist"),
         Col("reports naming it", right=True), Col("other reports", wrap=True)],
        [[_t(i.kind), _t(i.value), _t(i.raw), _t(i.watchlist or "", style="bold red"),
          f"{i.reports:,}", _others(i)] for i in case.identifiers])
    parts.append(identifiers if identifiers else _t("No identifiers."))
    rows: list[list[Text | str]] = []
    for e in case.evidence:
        status = e.fetch_status
        if e.attempts:
            status += f" (tried {e.attempts}×{': ' + e.last_error if e.last_error else ''})"
        details = ", ".join(f"{k}: {v}" for k, v in e.details.items())
        size = f" {e.size:,} B" if e.size else ""
        rows.append([str(e.id), _t(e.kind), short(e.received_at), _t(status),
                     _t((e.sha256 or "") + size), _t(details)])
    evidence = Sheet("Evidence", [Col("#", right=True), Col("kind"), Col("received"),
                                  Col("status", wrap=True), Col("sha256"),
                                  Col("details", wrap=True)], rows)
    parts.append(evidence if evidence else _t("No evidence."))
    parts.extend(_readings(case))
    parts.append(Sheet("History", [Col("at"), Col("who"), Col("action"),
                                   Col("detail", wrap=True)],
                       [[short(h.at), _t(h.actor), _t(h.action), _t(h.detail)]
                        for h in case.history]))
    if case.notifications:
        told: list[list[Text | str]] = []
        for n in case.notifications:
            what = n.body if n.kind == "status" else f"question: {n.body}"
            state = n.state + (f" ({n.last_error})" if n.last_error else "")
            told.append([short(n.created_at), _t(what), _t(state), n.via or "",
                         str(n.attempts)])
        parts.append(Sheet("Told the reporter",
                           [Col("queued"), Col("what", wrap=True), Col("delivery", wrap=True),
                            Col("via"), Col("tries", right=True)], told))
    return Group(*parts)
