"""Write exported reports as CSV, JSON lines or an xlsx workbook, streaming.

CSV is UTF-8 with a byte-order mark (Excel and WPS otherwise read Chinese as GBK
mojibake) and CRLF line ends. CSV records and JSON lines arrive finished (built by
SQLite, already safe for spreadsheets: see db.exports) and are written as they come.
The workbook is written in openpyxl's write-only mode (rows go to disk as they come), a
new sheet every 1,048,575 rows (Excel's limit).

Writers call `progress(rows_done)` as they go and return the row count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

FORMATS = ("csv", "jsonl", "xlsx")
PROGRESS_EVERY = 10_000
XLSX_MAX_ROWS = 1_048_576  # per sheet, the header included
XLSX_MAX_CELL = 32_767  # characters
Progress = Callable[[int], None]


def _noop(_: int) -> None:
    pass


def csv_header(columns: Iterable[str]) -> bytes:
    """The start of a CSV export: a byte-order mark and the header record."""
    text = io.StringIO(newline="")
    csv.writer(text).writerow(columns)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


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

    workbook = Workbook(write_only=True)
    sheet: Any = None
    in_sheet = XLSX_MAX_ROWS
    done = 0

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

    for row in rows:
        if in_sheet == XLSX_MAX_ROWS:
            number = len(workbook.worksheets) + 1
            sheet = workbook.create_sheet("reports" if number == 1 else f"reports {number}")
            sheet.append(header)
            in_sheet = 1
        sheet.append([cell(value) for value in row])
        in_sheet += 1
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(done)
    if sheet is None:
        workbook.create_sheet("reports").append(header)
    workbook.save(path)
    progress(done)
    return done
