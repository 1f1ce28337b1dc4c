"""Admin commands: export, import, backup, purge.

Thin click layers: the work is in db.exports/db.imports/db.admin, triage.exports and
triage.bundle, and bot.cli.importer. Data goes to stdout, messages and progress bars to
stderr (bars only when stderr is a terminal); a user error is one `Error: …` line.
Imports, backups, purges and exports are recorded in admin_log.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from bot.cli.common import (
    Bound,
    Obj,
    OptionError,
    actor,
    at,
    database,
    format_option,
    output_option,
    output_stream,
    pass_obj,
    progress,
    reader_left,
    since_option,
    statuses_option,
    until_option,
    words,
)

if TYPE_CHECKING:  # the database layer takes a tenth of a second to import: only when used
    from db.connection import Database



# What a CSV may be written in (triage.exports.ENCODINGS, repeated: that module loads
# openpyxl's neighbours, too slow for every --help).
ENCODINGS = ("utf-8", "gb18030")


def encoding_option(default: str | None, help: str) -> Callable[[Any], Any]:
    """--encoding utf-8|gb18030 (of a CSV), any case."""
    return click.option("--encoding", callback=words(ENCODINGS), default=default,
                        show_default=default is not None, metavar="|".join(ENCODINGS),
                        help=help)


def _csv_only(fmt: str, encoding: str | None) -> None:
    """An encoding is a CSV's: JSON lines are UTF-8 by definition (RFC 8259)."""
    if fmt != "csv" and encoding not in (None, "utf-8"):
        raise OptionError(f"--encoding {encoding} is for CSV (JSON lines are always UTF-8; "
                          "an xlsx has none)")


# --- export -----------------------------------------------------------------------------


@click.command("export")
@format_option(("csv", "jsonl", "xlsx"), "csv",
               "csv opens in Excel/WPS; jsonl imports back; xlsx.")
@output_option("Write to FILE instead of stdout (required for xlsx).")
@encoding_option("utf-8", "Of a CSV: utf-8 (with a byte-order mark: Excel, WPS, Numbers) or "
                          "gb18030 (old Excel and WPS, which ignore the mark).")
@since_option
@until_option
@statuses_option
@click.option("--evidence-bundle", "bundle", type=click.Path(path_type=Path), metavar="DIR",
              help="Also write a BagIt bag: one JSON record per report, the evidence files, "
                   "SHA-256 manifests. Rows then go only to --output, if given.")
@pass_obj
def export(obj: Obj, fmt: str, output: Path | None, encoding: str, since: Bound | None,
           until: Bound | None, statuses: tuple[str, ...], bundle: Path | None) -> None:
    """Export reports, one row each: receipt, received_at, status, target_type, identifiers,
    description, evidence_count, reporter (a pseudonym), who, channel, lang, assignee,
    updated_at.

    Times are ISO 8601 in Beijing time (a time typed without an offset is Beijing time).
    Reports come in the order they were filed, streamed in constant memory.

    \b
    Example:
      tipline export --since 2024-05-01 --status escalated -o escalated.csv
      tipline export --format jsonl > reports.jsonl
      tipline export --format xlsx -o reports.xlsx
      tipline export --encoding gb18030 -o reports-for-excel-2007.csv
      tipline export --status escalated --evidence-bundle case-2024-06/
    """

    from db import exports

    _csv_only(fmt, encoding)
    now = int(time.time())
    where = exports.ExportFilter(at(since), at(until), statuses)
    if fmt == "xlsx" and output is None and bundle is None:
        raise click.ClickException("xlsx needs --output FILE (a workbook is not terminal text)")
    with database(obj) as db:
        _export(db, obj, (fmt, encoding), output, since, until, where, bundle, now)


def _export(db: Database, obj: Obj, written_as: tuple[str, str], output: Path | None,
            since: Bound | None, until: Bound | None, where: Any, bundle: Path | None,
            now: int) -> None:
    """Write the rows and the bundle, then record the export in the admin log."""
    import sqlite3

    from db import exports
    from db.admin import log_action
    from db.connection import Unopenable
    from triage import exports as writers

    settings = obj.settings()
    fmt, encoding = written_as
    # One committed state for the count, the rows and the bundle, read in one scan.
    rows_wanted = output is not None or bundle is None
    try:
        snapshot = exports.Snapshot(settings.db_path)
    except (sqlite3.Error, Unopenable) as error:
        raise click.ClickException(f"cannot read the database {settings.db_path}: {error}"
                                   ) from None
    try:
        total = exports.count(snapshot.db, where)
        written = 0
        if rows_wanted:
            with output_stream(output) as (stream, partial), progress(total, "export") as bar:
                if fmt == "xlsx":
                    assert partial is not None
                    stream.close()
                    written = writers.write_xlsx(exports.COLUMNS, exports.table_rows(
                        snapshot.db, where, guard=False), partial, bar)
                else:
                    start = (writers.csv_header(exports.COLUMNS, encoding) if fmt == "csv"
                             else b"")
                    pages = writers.encoded(snapshot.lines(fmt, where), encoding)
                    written = writers.write_pages(start, pages, stream, bar)
        if bundle is not None:
            result = _write_bundle(snapshot.db, settings.evidence_dir, bundle, where, total,
                                   since, until, now)
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other Unix tools do.
        reader_left()
        sys.exit(1)
    except OSError as error:
        target = output or bundle or "stdout"
        raise click.ClickException(f"cannot write {target}: {error.strerror}") from None
    except sqlite3.Error as error:
        raise click.ClickException(f"cannot read the database: {error}") from None
    finally:
        snapshot.close()
    detail: dict[str, Any] = {"format": fmt, "output": str(output) if output else None,
                              **({"encoding": encoding} if fmt == "csv" else {}),
                              "since": since and since.typed, "until": until and until.typed,
                              "statuses": list(where.statuses),
                              "rows": written}
    if bundle is not None:
        detail.update(bundle=str(bundle), bundle_reports=result.reports,
                      bundle_files=result.files)
    try:
        log_action(db, now, actor(), "export", detail)
    except sqlite3.Error as error:  # a read-only copy of the database: the export stands
        click.echo(f"export: not recorded in admin_log ({error})", err=True)
    if output is not None:
        click.echo(f"export: {written:,} reports written to {output}", err=True)
    if bundle is not None:
        problems = "".join(f", {n} {what}" for what, n in sorted(result.problems.items()))
        click.echo(f"export: bundle {bundle}: {result.reports:,} reports, {result.files:,} "
                   f"evidence files{problems}", err=True)


def _write_bundle(db: Database, evidence_dir: Path, path: Path, where: Any, total: int,
                  since: Bound | None, until: Bound | None, now: int) -> Any:
    from db import exports
    from triage.bundle import BundleError, write_bundle
    from triage.times import iso

    version = _version()
    info = {
        "Source-Organization": "Tipline",
        "Bagging-Date": iso(now)[:10],
        "Bag-Software-Agent": f"tipline {version}",
        "Exporter": actor(),
        "Export-Time": iso(now),
        "Export-Filter": (f"since={since.typed if since else '-'}; "
                          f"until={until.typed if until else '-'}; "
                          f"status={','.join(where.statuses) or 'any'}"),
        "Tipline-Version": version,
    }
    records = (exports.full_report(db, i) for i in exports.report_ids(db, where))
    try:
        with progress(total, "bundle") as bar:
            return write_bundle(path, records, evidence_dir, info, bar)
    except BundleError as error:
        raise click.ClickException(str(error)) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tipline")
    except PackageNotFoundError:
        return "unknown"


# --- import -----------------------------------------------------------------------------


@click.command("import")
@click.argument("file", metavar="FILE|-")
@click.option("--format", "fmt", type=click.Choice(("jsonl", "csv")),
              help="Row format [default: csv for a .csv file name, else jsonl].")
@click.option("--channel", default="import", show_default=True,
              help="Channel of rows that name none (hotline, email, letter…).")
@encoding_option(None, "Of a CSV: utf-8 or gb18030 [default: utf-8 if it has a byte-order "
                       "mark or reads as UTF-8, else gb18030].")
@click.option("--json", "as_json", is_flag=True,
              help='Print the receipts filed as JSON: [{"line": N, "receipt": "XXXXX-XXXXX"}] '
                   "(--format names the rows read).")
@pass_obj
def import_(obj: Obj, file: str, fmt: str | None, channel: str, encoding: str | None,
            as_json: bool) -> None:
    """Import tips from other channels (hotline, e-mail, letters) as reports.

    Rows (JSON lines, or CSV with a header): description (required), who, target_type
    (code or 1-6), received_at (ISO 8601, Beijing time without an offset), reporter,
    channel. Each is identified like a chat report (same extraction, same entities);
    reporters are stored only as pseudonyms (TIPLINE_SECRET_KEY). What `tipline export
    --format jsonl` wrote imports back: a receipt already filed is skipped, as is a row
    already imported. All or nothing: if any row is bad, each bad row is named by line
    and nothing stays imported (batches filed before the first bad row are taken back).
    Once all is filed, the receipt of each report filed is printed on stdout against its
    row's line, for the caller or writer it belongs to (--json: as JSON). A CSV may be
    UTF-8 or GB18030 (what `export --encoding gb18030`, old Excel and WPS write).

    \b
    Example:
      tipline import hotline-2024-06.jsonl --channel hotline
      tipline import --format csv letters.csv
      tipline import --json calls.csv > receipts.json
      tipline import --encoding gb18030 saved-by-wps.csv
      tipline export --format jsonl | tipline --db other.db import -
    """
    from bot.cli.importer import detect_format, import_tips
    from handlers.tips import RowError, read_row

    try:
        read_row({"description": "x", "channel": channel}, 0)
    except RowError:
        raise click.ClickException(
            f"--channel {channel!r} must be a short lower-case word, e.g. hotline") from None
    fmt = detect_format(file, fmt)
    _csv_only(fmt, encoding)
    settings = obj.settings(("TIPLINE_SECRET_KEY",))
    if not settings.db_path.parent.is_dir():
        raise click.ClickException(f"no folder for the database {settings.db_path}")
    name = "stdin" if file == "-" else file
    bars = ExitStack()

    def bar(label: str) -> Callable[[int, int], None]:
        """A progress callback that opens its bar on the first call."""
        shown: list[Callable[[int], None]] = []

        def update(done: int, total: int) -> None:
            if not shown:
                bars.close()  # the previous phase's bar
                shown.append(bars.enter_context(progress(total, label)))
            shown[0](done)

        return update

    with tempfile.TemporaryFile(prefix="tipline-receipts-") as receipts:
        result = _run_import(import_tips, name, bars, receipts, file, fmt,
                             db_path=settings.db_path, secret_key=settings.secret_key,
                             actor=actor(), now=int(time.time()), channel=channel.lower(),
                             progress=bar("import"), indexing=bar("entities"),
                             encoding=encoding)
        receipts.seek(0)
        try:
            _print_receipts(receipts, as_json)
        except BrokenPipeError:
            reader_left()
    click.echo(f"import: {result.rows:,} rows from {name}: {result.filed:,} filed, "
               f"{result.skipped:,} skipped (already filed)", err=True)
    if result.index_error:
        click.echo(f"note: triage's tables were not brought up to date ({result.index_error});"
                   " the next `tipline triage` does it", err=True)


def _run_import(import_tips: Callable[..., Any], name: str, bars: ExitStack,
                receipts: IO[bytes], *args: Any, **options: Any) -> Any:
    """Run the import, each failure one line (bad rows first, one line each on stderr)."""
    from bot.cli.importer import ImportFailed
    from db.connection import Unopenable

    try:
        return import_tips(*args, receipts=receipts, **options)
    except ImportFailed as failed:
        outcome = ("nothing was imported" if failed.undo_failed is None else
                   "the reports filed before could not all be taken back "
                   f"({failed.undo_failed}): find them with `tipline triage --since`")
        if not failed.bad_rows:
            raise click.ClickException(f"{name}: {failed.errors[0]}; {outcome}") from None
        for error in failed.errors:
            click.echo(f"{name}: {error}", err=True)
        more = failed.bad_rows - len(failed.errors)
        if more > 0:
            click.echo(f"{name}: … and {more:,} more bad rows", err=True)
        raise click.ClickException(
            f"{failed.bad_rows:,} bad row(s) in {name}; {outcome}") from None
    except Unopenable as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot read {name}: {error.strerror}") from None
    finally:
        bars.close()


def _print_receipts(lines: IO[bytes], as_json: bool) -> None:
    """Print the "LINE RECEIPT" lines an import wrote: a table, or a JSON array."""
    from triage.vocabulary import display_receipt

    out = sys.stdout
    first = True
    for raw in lines:
        number, receipt = raw.decode().split()
        if as_json:
            out.write(f'{"[" if first else ","}\n  {{"line": {int(number)}, '
                      f'"receipt": "{display_receipt(receipt)}"}}')
        else:
            if first:
                out.write("line  receipt\n")
            out.write(f"{number:<5} {display_receipt(receipt)}\n")
        first = False
    if as_json:
        out.write("[]\n" if first else "\n]\n")
    out.flush()


# --- backup -----------------------------------------------------------------------------


@click.command()
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace DEST if it is an existing file.")
@pass_obj
def backup(obj: Obj, dest: Path, force: bool) -> None:
    """Copy the database to DEST while the server runs (SQLite online backup), verified.

    DEST is a file, or a folder to hold tipline-YYYYMMDD-HHMMSS+0800.db (Beijing time,
    with its offset). The copy is a
    consistent snapshot; it is checked (PRAGMA integrity_check) before it takes DEST's name.

    \b
    Example:
      tipline backup /var/backups/tipline/
      tipline backup tipline-$(date +%F).db
    """


    settings = obj.settings()
    with database(obj) as db:
        _backup(db, settings.db_path, dest, force)


def _backup(db: Database, source: Path, dest: Path, force: bool) -> None:
    """Copy, verify and record one backup."""
    import sqlite3

    from db.admin import BackupError, log_action
    from db.admin import backup as run
    from triage.times import file_stamp

    now = int(time.time())
    if dest.is_dir():
        dest = dest / f"tipline-{file_stamp(now)}.db"  # Beijing time, as everything shown
    if dest.exists() and not force:
        raise click.ClickException(f"{dest} exists: pass --force to replace it")
    if not dest.parent.is_dir():
        raise click.ClickException(f"cannot write {dest}: no folder {dest.parent}")
    if dest.resolve() == source.resolve():
        raise click.ClickException("the backup cannot replace the database itself")
    try:
        result = run(source, dest)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    except (OSError, sqlite3.Error) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise click.ClickException(f"cannot write {dest}: {reason}") from None
    log_action(db, now, actor(), "backup",
               {"dest": str(dest), "bytes": result.size, "reports": result.reports})
    click.echo(f"backup: {dest} ({result.size / 1e6:,.1f} MB, {result.reports:,} reports)",
               err=True)


# --- purge ------------------------------------------------------------------------------


@click.command()
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True,
              metavar="DAYS", help="Purge reports received more than DAYS days ago.")
@statuses_option
@click.option("--dry-run", is_flag=True, help="Say what would go; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_obj
def purge(obj: Obj, days: int, statuses: tuple[str, ...], dry_run: bool, yes: bool) -> None:
    """Delete reports older than DAYS, with their identifiers, history and evidence files.

    An evidence file another report still uses is kept. Each purge is recorded in the
    admin log (when, who, the cut-off, what went). Asks before deleting unless --yes.

    \b
    Example:
      tipline purge --older-than 730 --dry-run
      tipline purge --older-than 365 --status dismissed,closed --yes
    """

    settings = obj.settings()
    with database(obj) as db:
        _purge(db, settings.evidence_dir, days, statuses, dry_run, yes)


def _purge(db: Database, evidence_dir: Path, days: int, wanted: tuple[str, ...],
           dry_run: bool, yes: bool) -> None:
    """Say what goes, ask, delete, remove the files no report uses, record it."""
    from db.admin import log_action, purge_plan
    from db.admin import purge as run
    from triage.evidence import evidence_path
    from triage.times import iso

    now = int(time.time())
    cutoff = now - days * 86400
    plan = purge_plan(db, cutoff, wanted)
    by_status = ", ".join(f"{s} {n:,}" for s, n in plan.by_status.items())
    click.echo(f"purge: {plan.reports:,} reports received before {iso(cutoff)}"
               f"{f' ({by_status})' if by_status else ''}, {plan.evidence:,} evidence items, "
               f"{len(plan.files):,} evidence files{_drafts(plan.drafts, '; ')}", err=True)
    if dry_run or plan.reports == plan.drafts == 0:
        return
    if not yes:
        if not sys.stdin.isatty():
            raise click.ClickException("pass --yes to delete them (or --dry-run to only look)")
        click.confirm("Delete them for good?", abort=True, err=True)
    counts = run(db, cutoff, wanted)
    removed = missing = 0
    failed: list[str] = []
    for sha in counts.files:
        try:
            evidence_path(evidence_dir, sha).unlink()
            removed += 1
        except FileNotFoundError:
            missing += 1
        except OSError as error:
            failed.append(f"{sha}: {error.strerror}")
    log_action(db, now, actor(), "purge", {
        "older_than_days": days, "cutoff": iso(cutoff), "statuses": list(wanted),
        "reports": counts.reports, "by_status": counts.by_status,
        "evidence_items": counts.evidence, "drafts": counts.drafts, "files_removed": removed,
        "files_missing": missing, "files_failed": len(failed),
    })
    click.echo(f"purge: {counts.reports:,} reports and {counts.evidence:,} evidence items "
               f"deleted{_drafts(counts.drafts, ', ')}, {removed:,} evidence files removed",
               err=True)
    if failed:
        for line in failed[:10]:
            click.echo(f"purge: could not remove {line}", err=True)
        raise click.ClickException(f"{len(failed)} evidence file(s) could not be removed")


def _drafts(count: int, lead: str) -> str:
    """The abandoned drafts a purge takes, said only when there are some."""
    return f"{lead}{count:,} abandoned draft{'s' if count != 1 else ''}" if count else ""


COMMANDS: list[click.Command] = [export, import_, backup, purge]
