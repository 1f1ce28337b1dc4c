"""Write exported report rows as CSV, JSON lines or an xlsx workbook, streaming.

CSV is UTF-8 with a byte-order mark (Excel and WPS otherwise read Chinese as GBK
mojibake) and CRLF line ends; the rows arrive already safe for spreadsheets (see
db.exports). JSON lines are written as SQLite built them. The workbook is written in
openpyxl's write-only mode (rows go to disk as they come), a new sheet every 1,048,575
rows (Excel's limit).

Each writer calls `progress(rows_done)` every PROGRESS_EVERY rows and returns the count.
"""

from __future__ import annotations

import csv
import io
import itertools
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


def write_csv(header: Iterable[str], rows: Iterable[tuple[Any, ...]], out: IO[bytes],
              progress: Progress = _noop) -> int:
    """Write a BOM, the header and the rows as CSV to a binary stream; return the row count."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    try:
        text.write("\ufeff")
        writer = csv.writer(text)
        writer.writerow(header)
        done = 0
        iterator = iter(rows)
        while chunk := list(itertools.islice(iterator, PROGRESS_EVERY)):
            writer.writerows(chunk)
            done += len(chunk)
            progress(done)
        text.flush()
    finally:
        text.detach()  # leave the caller's stream open (it may be stdout)
    return done


def write_jsonl(lines: Iterable[tuple[str]], out: IO[bytes], progress: Progress = _noop) -> int:
    """Write one JSON object per line to a binary stream; return the line count."""
    done = 0
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, PROGRESS_EVERY)):
        out.write("".join(f"{line}\n" for (line,) in chunk).encode("utf-8"))
        done += len(chunk)
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
