"""Investigator commands: triage, show, case.

Thin: options are read and checked here, the work is triage.summary / triage.case over
db.summary / db.cases. Investigator commands need only the database. A bad option value
(status, date, kind) or an unknown receipt is one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from bot.cli.common import Obj, pass_obj
from triage.case import STATUSES
from triage.times import BadTime, parse_time

FORMATS = ("table", "json", "markdown", "html")
# triage.extract.KINDS, spelled out so that loading the CLI does not load the extractor
# (tests/test_triage.py checks the two agree).
KINDS = ("url", "domain", "evm", "btc", "tron", "wechat_id", "official_account", "qq",
         "phone", "telegram", "email", "name")


class OptionError(click.ClickException):
    """A bad option value: one line, and the usage-error exit status."""

    exit_code = 2


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """Read --since as epoch seconds, or stop with one line saying what is accepted."""
    if value is None:
        return None
    try:
        return parse_time(value)
    except BadTime as error:
        raise OptionError(f"--since: {error}") from None


def one_of(choices: tuple[str, ...]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Return an option callback accepting these words (any case), one line otherwise."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        words = value if isinstance(value, tuple) else (value,)
        checked = []
        for word in words:
            if word.strip().lower() not in choices:
                raise OptionError(f"{param.opts[0]}: unknown value {word!r}; use one of "
                                  f"{', '.join(choices)}")
            checked.append(word.strip().lower())
        # Repeated values count once.
        return tuple(dict.fromkeys(checked)) if isinstance(value, tuple) else checked[0]

    return check


def investigator(by: str | None) -> str:
    """Return who is acting: --by, or the OS user."""
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


@contextlib.contextmanager
def database(obj: Obj) -> Iterator[sqlite_utils.Database]:
    """Open the existing database (migrated); database errors become one line."""
    from db.connection import connect
    from db.migrations import migrate

    path = obj.settings().db_path
    if not path.is_file():
        raise click.ClickException(f"no database at {path} (set TIPLINE_DB or pass --db)")
    try:
        db = connect(path)
        migrate(db)
        yield db
    except sqlite3.Error as error:
        raise click.ClickException(f"database {path}: {error}") from None


def emit(text: str, output: Path | None) -> None:
    """Write data to a file, or to stdout (a closed pipe ends quietly)."""
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise click.ClickException(
                f"cannot write {output}: {error.strerror or error}") from None
        click.echo(f"wrote {output}", err=True)
        return
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `tipline triage | head`: the reader left; say nothing more to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def rich_text(renderable: Any, output: Path | None) -> str:
    """Render rich output to text: colours on a terminal, plain in files and pipes."""
    from rich.console import Console

    terminal = output is None and sys.stdout.isatty()
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, color_system="auto" if terminal
                      else None, width=None if terminal else 160, soft_wrap=False)
    if terminal:
        console.width = Console().width
    console.print(renderable)
    if terminal:
        return buffer.getvalue()
    # Files and pipes get plain lines, without the padding that fills a terminal's width.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@click.command()
@click.option("--since", callback=_since, metavar="DATE",
              help="Only reports received since then: YYYY-MM-DD or ISO 8601 "
                   "(Beijing time unless an offset is given).")
@click.option("--status", "statuses", callback=one_of(STATUSES), multiple=True,
              metavar="STATUS",
              help="Only reports in this status (repeatable): " + ", ".join(STATUSES) + ".")
@click.option("--kind", "kinds", callback=one_of(KINDS), multiple=True, metavar="KIND",
              help="Only entities of this kind (repeatable): " + ", ".join(KINDS) + ".")
@click.option("--top", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="How many entities to list.")
@click.option("--format", "fmt", callback=one_of(FORMATS), default="table",
              show_default=True, metavar="|".join(FORMATS),
              help="table (terminal), json, markdown, or html (one self-contained page).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.option("--by", help="Your name, for 'new since your last run' [default: OS user].")
@pass_obj
def triage(obj: Obj, since: int | None, statuses: tuple[str, ...], kinds: tuple[str, ...],
           top: int, fmt: str, output: Path | None, by: str | None) -> None:
    """The ranked summary: totals, entities by score, "possibly the same" pairs.

    Totals count reports by status and target type, and how many arrived since your last
    run (remembered per --by name). Entities are the identifiers reports name (domains,
    wallets, accounts, phones, names…; allowlisted legitimate services left out), each
    with its watchlist match, reports, distinct reporters, first and last sighting and
    latest receipts, ranked by

    \b
      score = 10 × log2(1 + distinct reporters)
              × 0.5 ^ (days since last seen / 30)
              × type weight (payment 1.2, exchange/ico 1.0,
                app/wechat_account 0.9, other 0.7: the highest
                among the entity's reports)
              × 1.5 if it matches the watchlist

    Suggestions pair names and domains among the top entities that are possibly the same
    platform (火币 / huobi-vip.com). Times are Beijing time.

    \b
    Example:
      tipline triage --since 2024-05-01 --status new --top 30
      tipline triage --format html -o briefing.html
      tipline triage --format json --kind evm --kind tron | jq '.entities[0]'
    """
    from concurrent.futures import ThreadPoolExecutor

    from db.summary import SqlSummary, count_totals, last_run, record_run
    from triage import render
    from triage.summary import Filters, summarise

    now = int(time.time())
    who = investigator(by)
    filters = Filters(since, statuses, kinds)
    with database(obj) as db, ThreadPoolExecutor(max_workers=1) as pool:
        # Distinct reporters are a pass over every report: count them on a connection of
        # their own while this one ranks (SQLite works without holding Python's lock).
        totals = pool.submit(count_totals, obj.settings().db_path, filters)
        previous = last_run(db, who)
        summary = summarise(SqlSummary.current(db), filters, now, top, previous,
                            chart=fmt == "html", totals=totals.result)
        if fmt == "json":
            text = json.dumps(render.summary_json(summary, top), ensure_ascii=False,
                              indent=2) + "\n"
        elif fmt == "markdown":
            text = render.summary_markdown(summary)
        elif fmt == "html":
            text = render.summary_html(summary)
        else:
            from triage.terminal import summary_rich

            text = rich_text(summary_rich(summary), output)
        emit(text, output)
        try:
            record_run(db, who, now)
        except sqlite3.Error as error:  # a read-only copy of the database
            click.echo(f"note: this run was not remembered ({error})", err=True)


def _receipt(typed: str) -> str:
    """Return a typed receipt in stored form, or stop with one line."""
    from handlers.receipts import normalise

    receipt = normalise(typed)
    if receipt is None:
        raise click.ClickException(
            f"{typed!r} is not a receipt: 10 letters or digits, e.g. ABCDE-12345")
    return receipt


@click.command()
@click.argument("receipt")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
@click.option("--format", "fmt", callback=one_of(("table", "json")), default="table",
              show_default=True, metavar="table|json", help="table (terminal) or json.")
@pass_obj
def show(obj: Obj, receipt: str, as_json: bool, fmt: str) -> None:
    """One report in full: identifiers, description, evidence with SHA-256, history, notes.

    RECEIPT is the reporter's receipt, with or without its hyphen, any case. The reporter
    appears only as a pseudonym; each identifier shows its watchlist match and how many
    reports name it.

    \b
    Example:
      tipline show ABCDE-12345
      tipline show abcde12345 --json | jq '.evidence[].sha256'
    """
    from db.cases import load_case
    from handlers.receipts import display
    from triage.case import case_json

    wanted = _receipt(receipt)
    with database(obj) as db:
        case = load_case(db, wanted)
    if case is None:
        raise click.ClickException(f"no report with receipt {display(wanted)}")
    if as_json or fmt == "json":
        emit(json.dumps(case_json(case), ensure_ascii=False, indent=2) + "\n", None)
    else:
        from triage.terminal import case_rich

        emit(rich_text(case_rich(case), None), None)


@click.command()
@click.argument("receipt")
@click.option("--status", callback=one_of(STATUSES), metavar="STATUS",
              help="Set the status: " + ", ".join(STATUSES) + ".")
@click.option("--assign", "assignee", metavar="WHO",
              help="Assign the case to someone ('' to unassign).")
@click.option("--note", help="Add a note (for investigators; never shown to the reporter).")
@click.option("--by", help="Who is making the change [default: your OS user].")
@pass_obj
def case(obj: Obj, receipt: str, status: str | None, assignee: str | None, note: str | None,
         by: str | None) -> None:
    """Update a case: status, assignment, notes. Every change is logged (who, when, what).

    The log is append-only and shown by `tipline show`. The reporter's 查询 shows the
    status and the date of the last change, never notes or names.

    \b
    Example:
      tipline case ABCDE-12345 --status reviewing --assign alice --note "same QR as last week"
      tipline case ABCDE-12345 --status escalated --by bob
    """
    from db.cases import update_case
    from handlers.receipts import display
    from triage.case import CaseError, Update

    wanted = _receipt(receipt)
    try:
        update = Update(status, assignee, note)
    except CaseError as error:
        raise OptionError(str(error)) from None
    if update.empty:
        raise OptionError("nothing to do: give --status, --assign and/or --note")
    with database(obj) as db:
        changes = update_case(db, wanted, update, investigator(by), int(time.time()))
    if changes is None:
        raise click.ClickException(f"no report with receipt {display(wanted)}")
    if not changes:
        click.echo(f"{display(wanted)}: nothing changed", err=True)
        return
    said = ["note added" if c.action == "note" else f"{c.action} {c.detail}"
            for c in changes]
    click.echo(f"{display(wanted)}: {'; '.join(said)}", err=True)


COMMANDS: list[click.Command] = [triage, show, case]
