"""Write exported reports as CSV, JSON lines or an xlsx workbook, streaming.

CSV is UTF-8 with a byte-order mark (Excel and WPS otherwise read Chinese as GBK
mojibake) and CRLF line ends; or GB18030 without a mark, for old Excel and WPS, which
read a CSV in the Chinese Windows code page whatever it starts with (GB18030 encodes all
of Unicode, so nothing is lost). CSV records and JSON lines arrive finished (built by
SQLite as UTF-8, already safe for spreadsheets: see db.exports) and are written as they
come. The workbook is written in openpyxl's write-only mode (rows go to disk as they
come), a new sheet every 1,048,575 rows (Excel's limit); its columns are as wide as their
first rows' content (capped), and its header row is frozen.

Writers call `progress(rows_done)` as they go and return the row count.
"""

from __future__ import annotations

import csv
import io
import itertools
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "jsonl", "xlsx")
ENCODINGS = ("utf-8", "gb18030")  # of a CSV export; the first is the default
PROGRESS_EVERY = 10_000
XLSX_MAX_ROWS = 1_048_576  # per sheet, the header included
XLSX_MAX_CELL = 32_767  # characters
# Column widths (in characters of the default font, a Chinese one counting two) follow
# the header and the first rows: rows stream to disk, and a column's first thousand
# values show its usual width. Capped, so that a description does not push the rest of
# the row off the screen; a column gets 2 more than its widest value, for the padding.
XLSX_WIDTH_ROWS = 1_000
XLSX_MAX_WIDTH = 60
Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


def csv_header(columns: Iterable[str], encoding: str = "utf-8") -> bytes:
    """The start of a CSV export: a byte-order mark (UTF-8) and the header record."""
    text = io.StringIO(newline="")
    csv.writer(text).writerow(columns)
    if encoding == "utf-8":
        return ("\ufeff" + text.getvalue()).encode("utf-8")
    return text.getvalue().encode(encoding)


def encoded(pages: Iterable[tuple[int, bytes]], encoding: str
            ) -> Iterator[tuple[int, bytes]]:
    """Pages of UTF-8 lines, in `encoding`."""
    if encoding == "utf-8":
        yield from pages
        return
    for rows, data in pages:
        yield rows, data.decode("utf-8").encode(encoding)


def shown_width(text: str) -> int:
    """How many columns text takes on screen: East Asian wide characters two each."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_widths(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[int]:
    """A width for each column: its widest value's plus 2, at most XLSX_MAX_WIDTH."""
    widths = [shown_width(name) for name in header]
    for row in rows:
        for i, value in enumerate(row[: len(widths)]):
            if value is None or widths[i] >= XLSX_MAX_WIDTH:
                continue
            # A cell's longest line sets its width; past the cap, characters do not count.
            widths[i] = max(widths[i], *(shown_width(line[:XLSX_MAX_WIDTH])
                                         for line in str(value).splitlines() or [""]))
    return [min(XLSX_MAX_WIDTH, width + 2) for width in widths]


def write_pages(start: bytes, pages: Iterable[tuple[int, bytes]], out: IO[bytes],
                progress: Progress = _noop) -> int:
    """Write `start`, then pages of finished lines as (rows, bytes); return the row count."""
    out.write(start)
    done = 0
    for rows, data in pages:
        out.write(data)
        done += rows
        progress(done)
    return done


def write_xlsx(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]], path: Path,
               progress: Progress = _noop) -> int:
    """Write the rows to an xlsx workbook at `path`; return the row count."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet: Any = None
    in_sheet = XLSX_MAX_ROWS
    done = 0
    rows = iter(rows)
    first = list(itertools.islice(rows, XLSX_WIDTH_ROWS))
    widths = column_widths(header, first)

    def cell(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters xlsx forbids
        if len(value) > XLSX_MAX_CELL:
            value = value[: XLSX_MAX_CELL - 1] + "…"
        if value.startswith("="):
            # openpyxl stores a string starting with "=" as a formula: keep it text.
            text = WriteOnlyCell(sheet, value)
            text.data_type = "s"
            return text
        return value

    def new_sheet() -> Any:
        number = len(workbook.worksheets) + 1
        made = workbook.create_sheet("reports" if number == 1 else f"reports {number}")
        # Set before the first row: a write-only sheet writes them ahead of its rows.
        for i, width in enumerate(widths, 1):
            made.column_dimensions[get_column_letter(i)].width = width
        made.freeze_panes = "A2"  # the header stays in view while scrolling
        made.append(header)
        return made

    for row in itertools.chain(first, rows):
        if in_sheet == XLSX_MAX_ROWS:
            sheet = new_sheet()
            in_sheet = 1
        sheet.append([cell(value) for value in row])
        in_sheet += 1
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done)
    if sheet is None:
        new_sheet()
    workbook.save(path)
    progress(done)
    return done
