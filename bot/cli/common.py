"""What every `tipline` subcommand shares: settings, the database, options, output.

Options that several commands take are defined once here (the sqlite-utils way) and used
as decorators, so `--since 7d` or `--status new,closed` means the same in every command.
A bad option value is a usage error: one line naming the option, exit status 2. A
problem with the database or a file is a user error: one line, exit status 1.
"""

from __future__ import annotations

import contextlib
import getpass
import io
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar

import click

from bot.config import ConfigError, Settings, load_settings
from triage.vocabulary import KINDS, STATUSES

if TYPE_CHECKING:  # the database layer takes a tenth of a second to import: only when used
    from db.connection import Database

F = TypeVar("F", bound=Callable[..., Any])


class Obj:
    """Options of the root command, for its subcommands."""

    def __init__(self, db: Path | None) -> None:
        self.db = db

    def settings(self, require: Collection[str] = ()) -> Settings:
        """Load settings, turning a configuration error into a one-line CLI error."""
        try:
            return load_settings(require, db_path=self.db)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None


pass_obj = click.make_pass_decorator(Obj)


class OptionError(click.ClickException):
    """A bad option value: one line, and the usage-error exit status."""

    exit_code = 2


# --- option values ----------------------------------------------------------------------


def words(choices: tuple[str, ...], *, lists: bool = False
          ) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback accepting these words in any case; `lists`: also comma-separated.

    A repeatable option gives a tuple with repeated values counted once; a single one
    gives the word (or None).
    """

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        given = value if isinstance(value, tuple) else (value,)
        found: list[str] = []
        for raw in given:
            parts = raw.split(",") if lists else [raw]
            for part in parts:
                word = part.strip().lower()
                if not word and lists:
                    continue
                if word not in choices:
                    raise OptionError(f"{param.opts[0]}: unknown value {part.strip()!r}; "
                                      f"use one of {', '.join(choices)}")
                found.append(word)
        if isinstance(value, tuple):
            return tuple(dict.fromkeys(found))
        return found[0] if found else None

    return check


class Bound(NamedTuple):
    """A --since/--until value: the moment, and how it was typed (for the records)."""

    at: int  # epoch seconds
    typed: str


def at(bound: Bound | None) -> int | None:
    """The moment of a bound, or None."""
    return None if bound is None else bound.at


def _time_bound(*, end: bool) -> Callable[[click.Context, click.Parameter, Any], Bound | None]:
    """An option callback reading a time bound."""
    from triage.times import BadTime, parse_bound

    def read(ctx: click.Context, param: click.Parameter, value: str | None) -> Bound | None:
        if value is None:
            return None
        try:
            return Bound(parse_bound(value, int(time.time()), end=end), value)
        except BadTime as error:
            raise OptionError(f"{param.opts[0]}: {error} (or a span before now: 7d, 12h)"
                              ) from None

    return read


# --- shared options ---------------------------------------------------------------------


def since_option(f: F) -> F:
    """--since: reports received on or after."""
    return click.option(
        "--since", callback=_time_bound(end=False), metavar="WHEN",
        help="Only reports received on or after: 2024-05-01, an ISO 8601 time (Beijing "
             "time unless an offset is given), or a span before now: 7d, 12h.")(f)


def until_option(f: F) -> F:
    """--until: reports received before (a bare date includes that whole day)."""
    return click.option(
        "--until", callback=_time_bound(end=True), metavar="WHEN",
        help="Only reports received before (a bare date includes that whole day).")(f)


def statuses_option(f: F) -> F:
    """--status, repeatable or comma-separated: a tuple of statuses."""
    return click.option(
        "--status", "statuses", callback=words(STATUSES, lists=True), multiple=True,
        metavar="STATUS",
        help="Only reports in these statuses (repeat, or comma-separate): "
             + ", ".join(STATUSES) + ".")(f)


def kinds_option(f: F) -> F:
    """--kind, repeatable or comma-separated: a tuple of identifier kinds."""
    return click.option(
        "--kind", "kinds", callback=words(KINDS, lists=True), multiple=True, metavar="KIND",
        help="Only entities of these kinds (repeat, or comma-separate): "
             + ", ".join(KINDS) + ".")(f)


def format_option(choices: tuple[str, ...], default: str | None, help: str
                  ) -> Callable[[F], F]:
    """--format, one of `choices` (any case)."""
    return click.option("--format", "fmt", callback=words(choices), default=default,
                        show_default=default is not None, metavar="|".join(choices),
                        help=help)


def output_option(help: str = "Write to FILE instead of stdout.") -> Callable[[F], F]:
    """--output / -o FILE."""
    return click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
                        metavar="FILE", help=help)


def by_option(help: str) -> Callable[[F], F]:
    """--by NAME: who is acting [default: the OS user]."""
    return click.option("--by", metavar="NAME", help=help)


def actor(by: str | None = None) -> str:
    """Who is acting: --by, or the OS user."""
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


# --- the database -----------------------------------------------------------------------


@contextlib.contextmanager
def database(obj: Obj, *, create: bool = False, writes: bool = False) -> Iterator[Database]:
    """The database, migrated; missing (unless `create`) or failing, it is one line.

    A copy nobody may write is opened read-only, unless the command `writes` all along.
    """
    from db.connection import CLI_BUSY_TIMEOUT_MS, Unopenable, connect, read_only_copy
    from db.migrations import MIGRATIONS, migrate, schema_version

    path = obj.settings().db_path
    if not create and not path.exists():
        raise click.ClickException(f"no database at {path} (set TIPLINE_DB or pass --db)")
    # A copy on read-only media (a case file, a write-protected disk) is read as it is.
    readonly = not writes and read_only_copy(path)
    try:
        db = connect(path, readonly=readonly, busy_timeout_ms=CLI_BUSY_TIMEOUT_MS)
    except Unopenable as error:
        raise click.ClickException(str(error)) from None
    try:
        if not readonly:
            migrate(db)
        elif schema_version(db) < len(MIGRATIONS):
            raise click.ClickException(
                f"{path} is read-only and older than this Tipline (schema "
                f"{schema_version(db)} of {len(MIGRATIONS)}): copy it somewhere writable")
        yield db
    except sqlite3.Error as error:
        hint = " (a read-only copy: only commands that read work)" if readonly else ""
        raise click.ClickException(f"database {path}: {error}{hint}") from None
    finally:
        db.close()


# --- output -----------------------------------------------------------------------------


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
        reader_left()


def reader_left() -> None:
    """`tipline … | head`: the reader left; say nothing more to it."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# The most columns piped output is laid out in; wider than any table's widest row, so a
# file or a pipe gets one line per row, whatever the values.
PIPE_WIDTH = 1 << 20


def rich_text(renderable: Any, output: Path | None) -> str:
    """Render rich output to text: colours on a terminal, plain in files and pipes."""
    from rich.console import Console

    terminal = output is None and sys.stdout.isatty()
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=terminal, color_system="auto" if terminal
                      else None, width=None if terminal else PIPE_WIDTH, soft_wrap=False)
    if terminal:
        console.width = Console().width
    else:  # as wide as the widest table: nothing is wrapped or cut in a file or a pipe
        console.width = max(80, console.measure(renderable).maximum)
    console.print(renderable)
    if terminal:
        return buffer.getvalue()
    # Files and pipes get plain lines, without the padding that fills a terminal's width.
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while the block runs (only when stderr is a terminal)."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


@contextlib.contextmanager
def output_stream(path: Path | None) -> Iterator[tuple[IO[bytes], Path | None]]:
    """Stdout, or a file written beside `path` and renamed into place when complete."""
    if path is None:
        yield sys.stdout.buffer, None
        sys.stdout.buffer.flush()
        return
    partial = path.with_name(f".{path.name}.partial")
    try:
        stream = open(partial, "wb", buffering=1 << 20)  # noqa: SIM115 (closed below)
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror}") from None
    try:
        with stream:
            yield stream, partial
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
