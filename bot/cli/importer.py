"""`tipline import`: read a JSONL or CSV file of tips and file them in batches, all or none.

One pass over the file, streamed, so memory stays flat however long it is: rows travel in
chunks to worker processes (JSON parsing, validation, identifier extraction and
pseudonymising are CPU-bound) and come back in order to this process, which alone writes
to the database, a batch per transaction (so the server's writes interleave; a batch
holds the write lock about BATCH_SECONDS, its size following the last one's time).
Triage's entity tables are brought up to date once all is filed (db.entities). A bad row
anywhere means nothing is imported: from the first one on, the rest is only validated
(every bad row is reported by line), and the batches already filed are deleted again.
Checking the whole file first would parse every row twice, a quarter of the work.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import dataclasses
import io
import json
import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import IO, Any

from bot.pseudonym import pseudonymiser
from db import entities, imports
from db.connection import Database, connect
from db.exports import FORMULA_STARTS
from db.imports import Filing
from db.pace import Pace
from db.reports import identifiers_text
from handlers.tips import (
    DEFAULT_CHANNEL,
    FIELDS,
    KNOWN_FIELDS,
    MAX_FIELD_LINES,
    RowError,
    Tip,
    identifiers,
    known_fields,
    read_row,
)
from triage.vocabulary import new_receipt

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "csv")
CHUNK_ROWS = 1_000  # rows per task sent to a worker
# A transaction holds the write lock about this long: the chat's engine waits up to 2 s
# for it (db.connection.BUSY_TIMEOUT_MS). Its rows follow from the last one's time: a tip
# costs ~60 us to file into an empty database and ~150 us into a million reports (the
# receipt and reporter indexes take a page at random each), and the more tips a batch
# has, the more of them share each page it writes.
BATCH_SECONDS = 0.5
BATCH_ROWS = 5_000  # the first batch's rows
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 1_000, 100_000
POOL_MIN_BYTES = 1 << 20  # smaller files are read in this process: no pool to start
MAX_SHOWN_ERRORS = 20
# Records as they travel to workers: JSONL lines as bytes, CSV records as dicts, and a
# record the CSV itself got wrong as its error (counted and named with the bad rows).
Record = tuple[int, "bytes | dict[str, str] | RowError"]


class ImportFailed(Exception):
    """The file cannot be imported; nothing stays filed. `errors` are one line each.

    `bad_rows` is 0 when the file as a whole cannot be read (a CSV header, an encoding)
    or filing it failed. `undo_failed` says why, in the rare case where the batches filed
    before the failure could not all be taken back (None: nothing stays filed).
    """

    def __init__(self, errors: list[str], bad_rows: int, undo_failed: str | None = None
                 ) -> None:
        super().__init__(f"{bad_rows} bad row(s)")
        self.errors = errors
        self.bad_rows = bad_rows
        self.undo_failed = undo_failed


@dataclass(slots=True)
class ImportResult:
    """What an import did."""

    rows: int = 0
    filed: int = 0
    skipped: int = 0
    complete: bool = False
    index_error: str | None = None  # why triage's tables were not brought up to date


# --- reading ----------------------------------------------------------------------------


def _jsonl_records(stream: IO[bytes]) -> Iterator[Record]:
    for number, line in enumerate(stream, start=1):
        if line.strip():
            yield number, line


def _csv_records(stream: IO[bytes], encoding: str = "utf-8") -> Iterator[Record]:
    """CSV records as dicts by header name; a record the CSV got wrong as its RowError.

    Strict quoting, so a quote misplaced is an error rather than text; a quote left open
    swallows the rows below into one field, so a field may span only MAX_FIELD_LINES.
    """
    codec = "utf-8-sig" if encoding == "utf-8" else encoding  # a mark, if any, is not data
    text = io.TextIOWrapper(stream, encoding=codec, newline="")
    reader = csv.reader(text, strict=True)
    try:
        try:
            header = [cell.strip().lower() for cell in next(reader)]
        except StopIteration:
            return
        if "description" not in header:
            raise ImportFailed(["line 1: the header must name a description column "
                                f"(columns: {', '.join(FIELDS)})"], 0)
        unknown = [name for name in header if name and name not in KNOWN_FIELDS]
        if unknown:
            raise ImportFailed([f"line 1: unknown column {unknown[0]!r} (columns: "
                                f"{known_fields()})"], 0)
        named = sum(1 for name in header if name)  # a spreadsheet's blank columns aside
        previous_end = reader.line_num
        while True:
            line = previous_end + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield line, RowError(_csv_problem(str(error), line, reader.line_num))
                previous_end = reader.line_num
                continue
            previous_end = reader.line_num
            if previous_end - line >= MAX_FIELD_LINES:
                yield line, RowError(
                    f"line {line}: a quoted field runs over {previous_end - line + 1} lines, "
                    f"to line {previous_end}: a quote left open? (a field holds at most "
                    f"{MAX_FIELD_LINES} lines)")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if any(cell.strip() and not (i < len(header) and header[i])
                   for i, cell in enumerate(row)):
                filled = sum(1 for cell in row if cell.strip())
                yield line, RowError(
                    f"line {line}: {max(len(row), filled)} fields, but the header names "
                    f"{named} (a comma in a field that is not quoted?)")
                continue
            yield line, {name: _unguard(cell) for name, cell in zip(header, row, strict=False)
                         if name and cell != ""}
    except UnicodeDecodeError:  # GB18030 (UTF-8 was checked line by line before)
        raise ImportFailed([f"near line {reader.line_num + 1}: not {encoding.upper()} text "
                            "(save the file as UTF-8)"], 0) from None


def _csv_problem(error: str, line: int, at: int) -> str:
    """What the csv module's complaint means for the person who wrote the file."""
    if "unexpected end of data" in error:
        return (f"line {line}: a quote opened on this line is never closed (the field runs "
                f"to the end of the file, line {at})")
    if "expected after" in error:
        if at > line:  # the quote opened at `line` ran on and closed inside a later field
            return (f"line {line}: a quote opened on this line runs on to line {at}: a "
                    'quote left open? (a quote inside a quoted field is written twice: "")')
        return (f"line {at}: text after a closing quote (a quote inside a quoted field is "
                'written twice: "")')
    return f"line {line}: {error}"


def _unguard(cell: str) -> str:
    """Undo the apostrophe an export puts before a cell a spreadsheet would run as a formula."""
    if cell[:1] == "'" and cell[1:2] and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(slots=True)
class Chunk:
    """What a worker made of a chunk: its rows' filings (if all were good) and errors."""

    rows: int
    last_line: int  # of its last row: how far through the file it reaches
    filings: list[Filing]
    errors: list[str]


# --- the workers' side ------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_pool_worker(secret_key: str, channel: str) -> None:
    # Ctrl-C reaches the whole process group: only the importer decides what it stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(secret_key, channel)


def _init_worker(secret_key: str, channel: str) -> None:
    _worker["pseudonymise"] = pseudonymiser(secret_key)
    _worker["channel"] = channel


def _tip(record: Record) -> Tip:
    line, data = record
    if isinstance(data, RowError):
        raise data
    if isinstance(data, bytes):
        try:
            fields = json.loads(data)
        except UnicodeDecodeError:
            raise RowError(f"line {line}: not UTF-8 text (save the file as UTF-8)") from None
        except json.JSONDecodeError as error:
            raise RowError(f"line {line}: not valid JSON ({error.msg} at column {error.colno})"
                           ) from None
        if not isinstance(fields, dict):
            raise RowError(f"line {line}: expected a JSON object {{\"description\": …}}")
    else:
        fields = data
    return read_row(fields, line, _worker["channel"])


def check_chunk(chunk: list[Record]) -> Chunk:
    """Only validate rows (once the import has failed): one line per bad row."""
    errors: list[str] = []
    for record in chunk:
        try:
            _tip(record)
        except RowError as error:
            errors.append(str(error))
    return Chunk(len(chunk), chunk[-1][0], [], errors)


def prepare_chunk(chunk: list[Record]) -> Chunk:
    """Validate, identify and pseudonymise rows: what the database writer files."""
    pseudonymise: Callable[[str], str] = _worker["pseudonymise"]
    filings: list[Filing] = []
    errors: list[str] = []
    for record in chunk:
        try:
            tip = _tip(record)
        except RowError as error:
            errors.append(str(error))
            continue
        if errors:
            continue  # the chunk will not be filed: validating the rest is enough
        reporter = tip.reporter
        if reporter is not None and not tip.keeps_pseudonym:
            reporter = pseudonymise(reporter)  # never store who called, only a pseudonym
        found = identifiers(tip.who, tip.description, tip.listed)
        filings.append(Filing(
            tip.receipt, reporter, tip.channel, tip.status, tip.target_type, tip.who,
            tip.description, tip.lang, tip.received_at, tip.assignee, found,
            identifiers_text(found), tip.line,
        ))
    return Chunk(len(chunk), chunk[-1][0], [] if errors else filings, errors)


# --- the import -------------------------------------------------------------------------


class _Runner:
    """Runs a function over chunks in order: in a pool of workers, or here."""

    def __init__(self, pool: Pool | None, window: int) -> None:
        self.pool = pool
        self.window = window

    def map(self, function: Callable[[], Callable[[list[Record]], Chunk]],
            chunks: Iterator[list[Record]]) -> Iterator[Chunk]:
        """Results in order; `function()` picks, as each chunk is sent, what runs on it."""
        if self.pool is None:
            for chunk in chunks:
                yield function()(chunk)
            return
        # A bounded window of tasks in flight: Pool.imap would read the whole file ahead.
        pending: collections.deque[AsyncResult[Chunk]] = collections.deque()
        for chunk in chunks:
            pending.append(self.pool.apply_async(function(), (chunk,)))
            if len(pending) >= self.window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def detect_format(path: str, given: str | None) -> str:
    """The format named, or read from the file name (.csv is CSV; anything else JSONL)."""
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def import_tips(
    source: str,
    fmt: str,
    *,
    db_path: Path,
    secret_key: str,
    actor: str,
    now: int,
    channel: str = DEFAULT_CHANNEL,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    indexing: Callable[[int, int], None] | None = None,
    stdin: IO[bytes] | None = None,
    receipts: IO[bytes] | None = None,
    encoding: str | None = None,
) -> ImportResult:
    """File every row of `source` (a path, or "-" for `stdin`), or none if any is bad.

    Raises ImportFailed (nothing stays filed) if any row is bad, OSError if the file
    cannot be read. `progress(lines_done, lines)` is called as batches commit, then
    `indexing(reports_done, reports)` as triage's entity tables take them in.
    `receipts` gets a "LINE RECEIPT" line for each report filed, as its batch commits
    (a file, not memory: a million receipts; and worthless unless the import completes).
    A CSV's `encoding` (utf-8 or gb18030) is found out when None (`detect_encoding`).
    """
    from db.admin import log_action
    from db.migrations import migrate

    result = ImportResult()
    with ExitStack() as stack:
        if source == "-":
            # Spooled, to know its size for the progress bar (and to read it as a file).
            stream: IO[bytes] = stack.enter_context(
                tempfile.TemporaryFile(prefix="tipline-import-"))
            shutil.copyfileobj(stdin if stdin is not None else _stdin(), stream)
            stream.seek(0)
        else:
            stream = stack.enter_context(open(source, "rb"))
        lines, non_utf8 = _count_lines(stream, check_utf8=fmt == "csv")
        encoding = encoding or detect_encoding(stream, non_utf8)
        if fmt == "csv" and encoding == "utf-8" and non_utf8 is not None:
            raise ImportFailed([f"line {non_utf8}: not UTF-8 text (save the file as UTF-8, "
                                "or pass --encoding gb18030)"], 0)
        count = min(os.cpu_count() or 1, 4) if workers is None else workers
        pool: Pool | None = None
        if count > 1 and os.fstat(stream.fileno()).st_size >= POOL_MIN_BYTES:
            # fork: workers start in milliseconds and share the loaded extraction tables.
            pool = stack.enter_context(multiprocessing.get_context("fork").Pool(
                count, _init_pool_worker, (secret_key, channel)))
        else:
            _init_worker(secret_key, channel)
        runner = _Runner(pool, window=2 * count + 2)

        db = connect(db_path)
        stack.callback(db.conn.close)
        migrate(db)
        stack.callback(imports.tune_for_bulk(db, db_path).stop)  # before the close above
        pseudonymise = pseudonymiser(secret_key)
        batch: list[Filing] = []
        filed: list[imports.BatchResult] = []
        errors: list[str] = []
        bad = 0
        pace = Pace(BATCH_ROWS, BATCH_SECONDS, MIN_BATCH_ROWS, MAX_BATCH_ROWS)

        def flush(line: int) -> None:
            started = pace.start()
            with _interrupts_deferred():  # a batch committed is a batch recorded, to undo
                outcome = imports.file_batch(
                    db, batch, now=now, actor=f"import:{actor}", new_receipt=new_receipt,
                    anonymous=lambda receipt: pseudonymise(f"anonymous:{receipt}"))
                filed.append(dataclasses.replace(outcome, assigned=()))  # kept to undo
            if receipts is not None:
                receipts.write("".join(f"{n} {r}\n" for n, r in outcome.assigned).encode())
            # Only rows written say what a row costs: skipped ones (already filed) are
            # nearly free, and a file of them would grow the batches far past the pace.
            pace.done(started, outcome.filed, full=len(batch) >= pace.size)
            result.filed += outcome.filed
            result.skipped += outcome.skipped
            batch.clear()
            if progress is not None:
                progress(line, lines)

        def task() -> Callable[[list[Record]], Chunk]:
            # After a bad row nothing will be filed: the rest is only validated.
            return check_chunk if bad else prepare_chunk

        records = (_jsonl_records(stream) if fmt == "jsonl"
                   else _csv_records(stream, encoding))
        try:
            for chunk in runner.map(task, _chunks(records)):
                result.rows += chunk.rows
                if chunk.errors:
                    bad += len(chunk.errors)
                    errors.extend(chunk.errors[: max(0, MAX_SHOWN_ERRORS - len(errors))])
                if bad:
                    continue
                batch.extend(chunk.filings)
                if len(batch) >= pace.size:
                    flush(chunk.last_line)
            if bad:
                raise ImportFailed(errors, bad)
            if batch:
                flush(lines)
        except BaseException as error:  # bad rows, an unreadable file, the database, Ctrl-C
            undo_failed = _undo(db, filed)  # all or nothing
            if undo_failed is None:
                result.filed = result.skipped = 0
            if isinstance(error, ImportFailed):
                error.undo_failed = undo_failed
                raise
            if isinstance(error, sqlite3.Error) or undo_failed is not None:
                raise ImportFailed([_what_failed(error)], 0, undo_failed) from error
            raise
        else:
            result.complete = True
            result.index_error = _index_for_triage(db, indexing)
        finally:
            try:
                log_action(db, now, actor, "import", {
                    "source": source, "format": fmt, "rows": result.rows,
                    "filed": result.filed, "skipped": result.skipped,
                    "complete": result.complete, **({"bad_rows": bad} if bad else {}),
                    **({"index_error": result.index_error} if result.index_error else {}),
                })
            except sqlite3.Error as error:  # the lock held elsewhere: the import stands
                log.warning("the import was not written to the admin log: %s", error)
            finally:
                imports.make_durable(db_path)  # before anyone is told what was filed
    return result


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends (in the main thread; elsewhere none arrives)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _undo(db: Database, filed: list[imports.BatchResult]) -> str | None:
    """Take back the batches filed so far; why not, if that failed."""
    with _interrupts_deferred():  # half taken back would be worse than waiting
        try:  # a batch that failed halfway was rolled back by its write_transaction
            imports.unfile(db, filed)
        except sqlite3.Error as error:
            return str(error)
    return None


def _what_failed(error: BaseException) -> str:
    """One line on why filing stopped."""
    if isinstance(error, sqlite3.Error):
        return f"the database failed: {error}"
    if isinstance(error, OSError):
        return f"cannot read the file: {error.strerror or error}"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"failed: {error}"


def _index_for_triage(db: Database,
                      indexing: Callable[[int, int], None] | None) -> str | None:
    """Bring triage's tables up to date with the import; why not, if it stopped early.

    Everything is filed by then: indexing only spares the next `tipline triage` the work,
    so a busy database or a Ctrl-C during it does not make the import fail (a run again
    would file twice the rows that have neither a receipt nor a time).
    """
    try:
        backlog = entities.backlog(db)
        entities.catch_up(db, BATCH_SECONDS, progress=None if indexing is None else (
            lambda done: indexing(min(done, backlog), backlog)))
    except sqlite3.Error as error:
        return str(error)
    except KeyboardInterrupt:
        return "interrupted"
    return None


def _count_lines(stream: IO[bytes], check_utf8: bool = False) -> tuple[int, int | None]:
    """Lines in the file, for the progress bar; then rewind.

    One read at disk speed. `check_utf8` also says on which line the file first stops
    being UTF-8 (None: it is UTF-8), for a little more time (about 1 GB/s).
    """
    lines, last = 0, b"\n"
    bad: int | None = None
    check = codecs.getincrementaldecoder("utf-8")() if check_utf8 else None
    while block := stream.read(1 << 20):
        if check is not None:
            pending = len(check.getstate()[0])  # a character the last block cut off
            try:
                check.decode(block)
            except UnicodeDecodeError as error:
                bad = lines + block[: max(0, error.start - pending)].count(b"\n") + 1
                check = None
        lines += block.count(b"\n")
        last = block[-1:]
    if check is not None:
        try:
            check.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = lines + (last != b"\n")  # cut off at the very end
    stream.seek(0)
    return lines + (last != b"\n"), bad


def detect_encoding(stream: IO[bytes], non_utf8_line: int | None) -> str:
    """A CSV's encoding: utf-8 if it is (a byte-order mark or valid UTF-8), else gb18030.

    GB18030 is what `export --encoding gb18030` writes, and what old Excel and WPS save
    on a Chinese Windows (a superset of GBK). Chinese text in it is almost never valid
    UTF-8 (a few two-byte pairs are, 录 = C2 BC, but a whole file of them is not), so a
    file that reads as UTF-8 is taken as UTF-8, ASCII being both; `--encoding` decides
    when in doubt.
    """
    start = stream.read(3)
    stream.seek(0)
    return "utf-8" if non_utf8_line is None or start == codecs.BOM_UTF8 else "gb18030"


def _stdin() -> IO[bytes]:
    import sys

    return sys.stdin.buffer


__all__ = ["FORMATS", "ImportFailed", "ImportResult", "detect_format", "import_tips"]
