"""`tipline evidence read`: (re)read stored images in the foreground, with a progress bar.

Thin: the queue is db/reads.py and the reading loop bot/reader/service.py, the same the
server's reader runs; a server running meanwhile shares the queue (no image is read
twice at once).
"""

from __future__ import annotations

import os
import time

import click

from bot.cli.common import Bound, Obj, at, database, pass_obj, progress, since_option


@click.group()
def evidence() -> None:
    """Evidence files: read the stored images again.

    \b
    Example:
      tipline evidence read --since 2024-05-01
    """


@evidence.command("read")
@since_option
@click.option("--all", "again", is_flag=True,
              help="Also re-read images already read (after a better model), "
                   "and those that failed.")
@pass_obj
def read(obj: Obj, since: Bound | None, again: bool) -> None:
    """Read stored images: QR codes and text become the report's identifiers.

    Images filed before reading existed (or all of them, with --all) are queued and read
    here, one at a time, each in a child process with the TIPLINE_READ_* limits. What is
    read joins the reports' identifiers, so triage and exports count it.

    \b
    Example:
      tipline evidence read
      tipline evidence read --since 7d --all
    """
    from bot.reader.service import Reader
    from db import reads

    settings = obj.settings()
    with database(obj) as db:
        queued = reads.enqueue_stored(db, int(time.time()), since=at(since), again=again)
        total = reads.pending(db)
    click.echo(f"evidence read: {queued:,} image(s) queued, {total:,} waiting in all",
               err=True)
    counts = {"done": 0, "failed": 0, "retry": 0}
    reader = Reader(settings, f"cli-{os.getpid()}")
    try:
        with progress(total, "reading") as bar:
            while True:
                outcome = reader.run_once()
                if outcome is None:
                    if not reads.retry_due(reader.db, int(time.time())):
                        break
                    time.sleep(1)  # a lost image is tried again in a fresh child, soon
                    continue
                counts[outcome] += 1
                bar(counts["done"] + counts["failed"])
    finally:
        reader.close()
    with database(obj) as db:
        left = reads.pending(db)
    click.echo(f"evidence read: {counts['done']:,} read, {counts['failed']:,} failed"
               + (f", {left:,} still queued (being read elsewhere, or to retry)" if left else ""),
               err=True)
