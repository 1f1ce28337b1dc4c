"""The `tipline` command: a thin click layer over the library.

Data goes to stdout, messages to stderr. A user error is one line and exit 1 (usage
errors exit 2, as click does); never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli import admin as cli_admin
from bot.cli import cases as cli_cases
from bot.cli import users
from bot.cli.common import Obj, database, emit, format_option, pass_obj
from bot.cli.evidence import evidence
from bot.config import CHAT, WEBHOOK, Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              help="SQLite database file (overrides TIPLINE_DB).")
@click.version_option(package_name="tipline")
@click.pass_context
def cli(ctx: click.Context, db: Path | None) -> None:
    """Tipline: a WeChat tip line for reports of ICOs and crypto trading.

    Configuration comes from the environment and from .env (see README.md).

    \b
    Example:
      tipline serve --workers 2
    """
    ctx.obj = Obj(db)


@cli.command()
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes sharing the port and the database.")
@click.option("--access-log", is_flag=True,
              help="Log one line per request (method, path, status; never the query).")
@pass_obj
def serve(obj: Obj, workers: int, access_log: bool) -> None:
    """Run the webhook WeChat calls (POST /wechat) until SIGTERM, then drain.

    \b
    Example:
      tipline serve --workers 4
    """
    from bot.server.process import configure_logging
    from bot.server.serve import serve as run
    from db.connection import Unopenable

    settings = obj.settings(WEBHOOK)
    configure_logging()
    try:
        run(settings, workers, access_log)
    except Unopenable as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror}"
        ) from None


@cli.command()
@click.option("--url", help="Webhook URL [default: http://TIPLINE_HOST:TIPLINE_PORT/wechat].")
@click.option("--user", "openid", default="o_tipline_chat_user", show_default=True,
              help="The OpenID to send as (another ID is another reporter).")
@pass_obj
def chat(obj: Obj, url: str | None, openid: str) -> None:
    """Talk to a running server as a WeChat user would: signed (and encrypted) messages.

    Lines starting with / send photos, voice, locations, links and menu clicks;
    type /help inside the chat for the list. Lines can also be piped in.

    \b
    Example:
      tipline chat --user alice
      echo 帮助 | tipline chat
    """
    from bot.cli.chat import CHAT_HELP, ChatError, Simulator

    settings = obj.settings(CHAT)
    url = url or f"http://{settings.host}:{settings.port}/wechat"
    simulator = Simulator.from_settings(settings, url, openid)
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"Talking to {url} as {openid}. /help lists commands, /quit leaves.",
                   err=True)
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/help":
            click.echo(CHAT_HELP, err=True)
            continue
        try:
            reply = simulator.send(simulator.message(line))
        except ChatError as error:
            if not interactive:
                raise click.ClickException(str(error)) from None
            click.echo(f"! {error}", err=True)
            continue
        click.echo(reply if reply else "(no reply)")
        if interactive:
            click.echo()


@cli.command()
@click.option("--lines", is_flag=True,
              help="One text per input line; one JSON array per output line.")
def extract(lines: bool) -> None:
    """Pull identifiers (wallets, domains, phones, account IDs…) out of text on stdin.

    Prints a JSON array of {kind, value, raw}: kinds are url, domain, evm, btc, tron,
    wechat_id, official_account, qq, phone, telegram, email and name.

    \b
    Example:
      echo "加V：coinvip888 充值地址 TQ5NAmMFHvrjX7w5K6tyu3CeZV3gPjnVBS" | tipline extract
      tipline extract --lines < tips.txt > identifiers.jsonl
    """
    import io
    import json

    from triage.extract import as_json
    from triage.extract import extract as find

    def dump(text: str) -> str:
        return json.dumps(as_json(find(text)), ensure_ascii=False)

    # Whatever the locale says, tips are UTF-8; a stray byte must not stop a long run.
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    if lines:
        for line in stdin:
            click.echo(dump(line.rstrip("\n")))
    else:
        click.echo(dump(stdin.read()))


@cli.group()
def watchlist() -> None:
    """The watchlist: platforms regulators track, matched against reports in triage.

    \b
    Example:
      tipline watchlist import platforms.csv
      tipline watchlist list
    """


@watchlist.command("import")
@click.argument("file", metavar="FILE|-")
@pass_obj
def watchlist_import(obj: Obj, file: str) -> None:
    """Import platforms from a CSV with columns name,aliases,domains,addresses.

    Lists are separated by ';'. A name already on the watchlist has its aliases, domains
    and addresses replaced by the file's. Nothing is stored unless every line is valid.

    \b
    Example:
      tipline watchlist import docs/watchlist.example.csv
      iconv -f GBK -t UTF-8 platforms.csv | tipline watchlist import -
    """
    import time

    from db.watchlist import import_entries
    from triage.watchlist import WatchlistError, parse_csv

    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror}") from None
    try:
        entries = parse_csv(data)
    except WatchlistError as error:
        raise click.ClickException(f"{file}: {error}") from None
    with database(obj, create=True) as db:
        counts = import_entries(db, entries, int(time.time()))
    addresses = sum(counts.terms[kind] for kind in ("evm", "btc", "tron"))
    click.echo(
        f"watchlist: {len(entries)} entries imported ({counts.added} new, "
        f"{counts.replaced} replaced): {counts.terms['name']} names, "
        f"{counts.terms['domain']} domains, {addresses} addresses",
        err=True,
    )


@watchlist.command("list")
@format_option(("table", "csv", "json"), "table",
               "table (nothing cut), csv (what `watchlist import` reads) or json.")
@pass_obj
def watchlist_list(obj: Obj, fmt: str) -> None:
    """List the watchlist: each name with its aliases, domains and addresses, by name.

    Domains are shown as they match (the registrable domain), addresses in the form
    reports are matched in. The CSV imports back as it is (edit it, import it again).

    \b
    Example:
      tipline watchlist list
      tipline watchlist list --format csv > watchlist.csv
      tipline watchlist list --format json
    """
    import dataclasses
    import json

    from db.watchlist import list_entries
    from triage.watchlist import listing_csv, listing_table

    with database(obj) as db:
        entries = list_entries(db)
    if fmt == "json":
        text = json.dumps([dataclasses.asdict(e) for e in entries], ensure_ascii=False,
                          indent=2) + "\n"
    elif fmt == "csv":
        text = listing_csv(entries)
    elif entries:
        text = listing_table(entries)
    else:
        click.echo("watchlist: empty", err=True)
        return
    emit(text, None)


@cli.group()
def menu() -> None:
    """The account's custom menu (举报 / 我的举报 / 帮助).

    \b
    Example:
      tipline menu push --dry-run
    """


@menu.command("push")
@click.option("--dry-run", is_flag=True, help="Print the JSON that would be sent; send nothing.")
@pass_obj
def menu_push(obj: Obj, dry_run: bool) -> None:
    """Set the custom menu: 举报 (REPORT), 我的举报 (MY_REPORTS) and 帮助 (HELP).

    Needs WECHAT_APP_ID and WECHAT_APP_SECRET, and this machine's IP on the console's
    IP whitelist. WeChat shows a new menu to followers within a few minutes.

    \b
    Example:
      tipline menu push --dry-run
      tipline menu push
    """
    import asyncio
    import json

    from handlers.menu import custom_menu

    body = custom_menu()
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    settings = obj.settings()
    missing = [name for name, value in (("WECHAT_APP_ID", settings.wechat_app_id),
                                        ("WECHAT_APP_SECRET", settings.wechat_app_secret))
               if not value]
    if missing:
        raise click.ClickException(
            f"menu push needs the WeChat API credentials: set {' and '.join(missing)} "
            "(WeChat console → Settings and Development → Basic Configuration)")
    asyncio.run(_push_menu(settings, body))
    click.echo(f"menu set at {settings.wechat_api_base_url}: "
               + " / ".join(button["name"] for button in body["button"]), err=True)


async def _push_menu(settings: Settings, body: dict[str, Any]) -> None:
    from bot.wechat.api import ApiError, ApiUnavailable, open_api

    try:
        async with open_api(settings) as api:
            await api.create_menu(body)
    except ApiError as error:
        raise click.ClickException(f"WeChat refused the menu: {error}") from None
    except ApiUnavailable as error:
        raise click.ClickException(f"WeChat API unreachable: {error}") from None


for _command in (*cli_cases.COMMANDS, *cli_admin.COMMANDS, evidence, *users.COMMANDS):
    cli.add_command(_command)


# Owner-only: the database (report texts, the live WeChat access token), its -wal and
# -shm, exports, bundles, backups and evidence hold what reporters trusted us with.
UMASK = 0o077


def main() -> None:
    """Run the `tipline` command (every file and folder it writes is owner-only)."""
    os.umask(UMASK)
    cli(prog_name="tipline")
