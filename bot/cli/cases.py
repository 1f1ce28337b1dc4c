"""Investigator commands: triage, show, case.

Thin: options are read and checked here, the work is triage.summary / triage.case over
db.summary / db.cases. Investigator commands need only the database. A bad option value
(status, date, kind) or an unknown receipt is one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import click

from bot.cli.common import (
    Bound,
    Obj,
    OptionError,
    actor,
    at,
    by_option,
    database,
    emit,
    format_option,
    kinds_option,
    output_option,
    pass_obj,
    rich_text,
    since_option,
    statuses_option,
    words,
)
from triage.inert import inert_json
from triage.vocabulary import STATUSES

FORMATS = ("table", "json", "markdown", "html")


@click.command()
@since_option
@statuses_option
@kinds_option
@click.option("--top", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="How many entities to list.")
@format_option(FORMATS, "table",
               "table (terminal), json, markdown, or html (one self-contained page).")
@output_option()
@by_option("Your name, for 'new since your last run' [default: OS user].")
@pass_obj
def triage(obj: Obj, since: Bound | None, statuses: tuple[str, ...], kinds: tuple[str, ...],
           top: int, fmt: str, output: Path | None, by: str | None) -> None:
    """The ranked summary: totals, entities by score, "possibly the same" pairs.

    Totals count reports by status and target type, and how many arrived since your last
    run (remembered per --by name and per format: an HTML brief made by a cron job does
    not use up what is new in your table). Entities are the identifiers reports name (domains,
    wallets, accounts, phones, names…; allowlisted legitimate services left out), each
    with its watchlist match, reports, distinct reporters, first and last sighting and
    latest receipts (a domain with its URLs), ranked by

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
      tipline triage --since 2024-05-01 --status new,reviewing --top 30
      tipline triage --since 7d
      tipline triage --format html -o briefing.html
      tipline triage --format json --kind evm --kind tron | jq '.entities[0]'
    """
    from concurrent.futures import ThreadPoolExecutor

    from db.summary import SqlSummary, count_totals, last_run, record_run
    from triage import render
    from triage.summary import Filters, summarise

    now = int(time.time())
    who = actor(by)
    filters = Filters(at(since), statuses, kinds)
    with database(obj) as db, ThreadPoolExecutor(max_workers=1) as pool:
        # Distinct reporters are a pass over every report: count them on a connection of
        # their own while this one ranks (SQLite works without holding Python's lock).
        totals = pool.submit(count_totals, obj.settings().db_path, filters)
        previous = last_run(db, who, fmt)
        summary = summarise(SqlSummary.current(db), filters, now, top, previous,
                            chart=fmt == "html", totals=totals.result, seen_by=who, view=fmt,
                            # A script reads every URL entity with its figures; people read
                            # a domain's URLs under it.
                            fold_urls=fmt != "json")
        if fmt == "json":
            text = inert_json(json.dumps(render.summary_json(summary, top),
                                         ensure_ascii=False, indent=2)) + "\n"
        elif fmt == "markdown":
            text = render.summary_markdown(summary)
        elif fmt == "html":
            text = render.summary_html(summary)
        else:
            from triage.terminal import summary_rich

            text = rich_text(summary_rich(summary), output)
        emit(text, output)
        try:
            record_run(db, who, now, fmt)
        except sqlite3.Error as error:  # a read-only copy of the database
            click.echo(f"note: this run was not remembered ({error})", err=True)


def _receipt(typed: str) -> str:
    """Return a typed receipt in stored form, or stop with one line."""
    from triage.vocabulary import normalise_receipt as normalise

    receipt = normalise(typed)
    if receipt is None:
        raise click.ClickException(
            f"{typed!r} is not a receipt: 10 letters or digits, e.g. ABCDE-12345")
    return receipt


@click.command()
@click.argument("receipt")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (same as --format json).")
@format_option(("table", "json"), "table", "table (terminal) or json.")
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
    from triage.case import case_json
    from triage.vocabulary import display_receipt as display

    wanted = _receipt(receipt)
    with database(obj) as db:
        case = load_case(db, wanted)
    if case is None:
        raise click.ClickException(f"no report with receipt {display(wanted)}")
    if as_json or fmt == "json":
        emit(inert_json(json.dumps(case_json(case), ensure_ascii=False, indent=2)) + "\n",
             None)
    else:
        from triage.terminal import case_rich

        emit(rich_text(case_rich(case), None), None)


@click.command()
@click.argument("receipt")
@click.option("--status", callback=words(STATUSES), metavar="STATUS",
              help="Set the status: " + ", ".join(STATUSES) + ".")
@click.option("--assign", "assignee", metavar="WHO",
              help="Assign the case to someone ('' to unassign).")
@click.option("--note", help="Add a note (for investigators; never shown to the reporter).")
@click.option("--ask", "question", metavar="TEXT",
              help="Ask the reporter a question in WeChat; their answer joins the report.")
@by_option("Who is making the change [default: your OS user].")
@pass_obj
def case(obj: Obj, receipt: str, status: str | None, assignee: str | None, note: str | None,
         question: str | None, by: str | None) -> None:
    """Update a case: status, assignment, notes. Every change is logged (who, when, what).

    The log is append-only and shown by `tipline show`. A status change is pushed to the
    reporter in WeChat (receipt, status, date: never notes or names); --ask sends them a
    question, and what they answer joins the report.

    \b
    Example:
      tipline case ABCDE-12345 --status reviewing --assign alice --note "same QR as last week"
      tipline case ABCDE-12345 --status escalated --by bob
      tipline case ABCDE-12345 --ask "Did they send you a payment code?"
    """
    from db.cases import update_case
    from triage.case import CaseError, Update
    from triage.vocabulary import display_receipt as display

    wanted = _receipt(receipt)
    try:
        update = Update(status, assignee, note, question)
    except CaseError as error:
        raise OptionError(str(error)) from None
    if update.empty:
        raise OptionError("nothing to do: give --status, --assign, --note and/or --ask")
    with database(obj) as db:
        changes = update_case(db, wanted, update, actor(by), int(time.time()))
    if changes is None:
        raise click.ClickException(f"no report with receipt {display(wanted)}")
    if not changes:
        click.echo(f"{display(wanted)}: nothing changed", err=True)
        return
    said = [{"note": "note added", "question": "question queued for the reporter"}.get(
        c.action, f"{c.action} {c.detail}") for c in changes]
    click.echo(f"{display(wanted)}: {'; '.join(said)}", err=True)


COMMANDS: list[click.Command] = [triage, show, case]
