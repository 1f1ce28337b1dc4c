"""`tipline user …` and `tipline console`: console accounts from the command line, and the console.

Thin: the rules are triage/accounts.py, the tables db/console.py. A password is typed
twice at a prompt (never an argument: it would stay in the shell's history), or read as
one line with --password-stdin. The TOTP enrolment is printed as an otpauth:// URI and a
QR code to scan.
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import sys
import time
from typing import TYPE_CHECKING

import click

from bot.cli.common import Obj, OptionError, actor, database, format_option, pass_obj, words
from triage.vocabulary import ROLES

if TYPE_CHECKING:  # the database layer takes a tenth of a second to import: only when used
    from db.connection import Database
    from db.console import User


@click.group()
def user() -> None:
    """Console accounts: add, list, disable, reset.

    \b
    Example:
      tipline user add alice --role investigator
    """


def _password(from_stdin: bool) -> str:
    """The new password: one line of stdin, or typed twice at a prompt."""
    from triage.accounts import AccountError, check_password

    if from_stdin:
        typed = sys.stdin.readline().rstrip("\r\n")
    else:
        typed = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != typed:
            raise click.ClickException("the two passwords differ")
    try:
        return check_password(typed)
    except AccountError as error:
        raise click.ClickException(str(error)) from None


def _enrolment(name: str, role: str, secret: str, as_json: bool) -> None:
    """Print the TOTP enrolment: JSON, or the URI and a QR code for the terminal."""
    import segno

    from triage.accounts import totp_uri

    uri = totp_uri(name, secret)
    if as_json:
        click.echo(json.dumps({"name": name, "role": role, "totp_uri": uri}))
        return
    click.echo(f"{name} ({role}): scan this with an authenticator app, or enter the URI:")
    click.echo(uri)
    segno.make(uri, error="m").terminal(out=sys.stdout, compact=True)


@user.command("add")
@click.argument("name")
@click.option("--role", callback=words(ROLES), required=True, metavar="|".join(ROLES),
              help="investigator: triage and cases; admin: also the audit log and exports.")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line of stdin.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"name", "role", "totp_uri"} instead of a QR code.')
@pass_obj
def add(obj: Obj, name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add a console account with a password and a TOTP second factor.

    \b
    Example:
      tipline user add alice --role investigator
      printf '%s\\n' "$PASSWORD" | tipline user add bob --role admin --password-stdin --json
    """
    from db.console import add_user, audit, find_user
    from triage.accounts import hash_password, new_totp_secret

    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable() or " " in name:
        raise OptionError("NAME: 1-64 printable characters without spaces")
    with database(obj, create=True) as db:
        if find_user(db, name) is not None:
            raise click.ClickException(f"an account named {name!r} exists already")
        password = _password(password_stdin)
        secret = new_totp_secret()
        try:
            add_user(db, name, role, hash_password(password), secret, int(time.time()))
        except sqlite3.IntegrityError:
            raise click.ClickException(f"an account named {name!r} exists already") from None
        audit(db, int(time.time()), actor(), "user add", name, role, "cli")
    _enrolment(name, role, secret, as_json)


@user.command("list")
@format_option(("table", "json"), "table", "table or json.")
@pass_obj
def list_(obj: Obj, fmt: str) -> None:
    """List the console accounts (names, roles, when added, whether disabled).

    \b
    Example:
      tipline user list --format json
    """
    from db.console import list_users
    from triage.times import iso

    with database(obj) as db:
        users = list_users(db)
    rows: list[dict[str, str | None]] = [
        {"name": u.name, "role": u.role, "created_at": iso(u.created_at),
         "disabled_at": iso(u.disabled_at) if u.disabled_at else None} for u in users]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max([4, *(len(r["name"] or "") for r in rows)])
    click.echo(f"{'name':<{width}}  {'role':<12}  {'added':<25}  disabled")
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['role']:<12}  {r['created_at']:<25}  "
                   f"{r['disabled_at'] or ''}")


def _account(db: Database, name: str) -> User:
    """The account with this name, or one line saying there is none."""
    from db.console import find_user

    found = find_user(db, name)
    if found is None:
        raise click.ClickException(f"no account named {name!r}")
    return found


@user.command("disable")
@click.argument("name")
@pass_obj
def disable(obj: Obj, name: str) -> None:
    """Disable an account: its sessions end at once (reset enables it again).

    \b
    Example:
      tipline user disable alice
    """
    from db.console import audit, disable_user

    with database(obj) as db:
        found = _account(db, name)
        disable_user(db, found.id, int(time.time()))
        audit(db, int(time.time()), actor(), "user disable", name, "", "cli")
    click.echo(f"user: {name} disabled; its sessions ended", err=True)


@user.command("reset")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line of stdin.")
@click.option("--json", "as_json", is_flag=True, help="Print the new enrolment as JSON.")
@pass_obj
def reset(obj: Obj, name: str, password_stdin: bool, as_json: bool) -> None:
    """Give an account a new password and a new TOTP secret; its sessions end.

    \b
    Example:
      tipline user reset alice
    """
    from db.console import audit, set_credentials
    from triage.accounts import hash_password, new_totp_secret

    with database(obj) as db:
        found = _account(db, name)
        password = _password(password_stdin)
        secret = new_totp_secret()
        set_credentials(db, found.id, hash_password(password), secret, int(time.time()))
        audit(db, int(time.time()), actor(), "user reset", name, "", "cli")
    _enrolment(name, found.role, secret, as_json)


@click.command()
@pass_obj
def console(obj: Obj) -> None:
    """Serve the investigator console on TIPLINE_CONSOLE_HOST:TIPLINE_CONSOLE_PORT.

    A process of its own over the same database; put nginx with HTTPS in front (README).
    Accounts come from `tipline user add`.

    \b
    Example:
      tipline console
      TIPLINE_CONSOLE_SECURE_COOKIE=0 tipline console   # plain http on your own machine
    """
    from bot.console.app import run_console
    from bot.server.process import configure_logging

    settings = obj.settings()
    with database(obj, create=True, writes=True):
        pass  # migrated before the first request (sessions are written)
    configure_logging()
    click.echo(f"console: http{'s' if settings.console_secure_cookie else ''}://"
               f"{settings.console_host}:{settings.console_port}/ (database "
               f"{settings.db_path})", err=True)
    try:
        run_console(settings)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {settings.console_host}:"
                                   f"{settings.console_port}: {error.strerror}") from None


COMMANDS: list[click.Command] = [user, console]
