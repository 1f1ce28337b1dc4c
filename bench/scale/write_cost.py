"""What filing and indexing cost per tip against a big database, statement by statement.

Usage: python bench/scale/write_cost.py DB TIPS.jsonl [--tips 40000] [--drop INDEX,…]

Copies DB (say, the scale benchmark's million-report database), extracts the first
--tips rows of TIPS.jsonl in this process (untimed), then files them as `tipline import`
does (paced batches, db.imports.file_batch) and indexes them for triage
(db.entities.catch_up), timing every SQL statement. The rows are filed as received now
(their own received_at dropped), so the tips DB was imported from file again as new
ones. --drop drops indexes of the copy first, to see what each costs. The copy is
deleted afterwards.
"""

from __future__ import annotations

import argparse
import collections
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.scale.scratch import scratch_copy  # noqa: E402
from bot.cli import importer  # noqa: E402
from bot.pseudonym import pseudonymiser  # noqa: E402
from db import entities, imports  # noqa: E402
from db.connection import connect  # noqa: E402
from db.migrations import migrate  # noqa: E402
from db.pace import Pace  # noqa: E402
from triage.vocabulary import new_receipt  # noqa: E402

SECRET = "bench-secret-key-0123456789"


class TimedConnection:
    """A sqlite3 connection that adds up the time of each statement, by its first words."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.seconds: collections.defaultdict[str, float] = collections.defaultdict(float)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)

    def _timed(self, sql: str, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(sql, *args)
        finally:
            words = " ".join(sql.split())
            key = ("entity_stats" if "INTO entity_stats" in words else
                   "entity_reports" if "INTO entity_reports" in words else words[:40])
            self.seconds[key] += time.perf_counter() - started

    def execute(self, sql: str, *args: Any) -> Any:
        return self._timed(sql, self.conn.execute, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._timed(sql, self.conn.executemany, *args)


def report(title: str, seconds: float, count: int, timed: TimedConnection) -> None:
    count = max(count, 1)
    print(f"{title}: {1e6 * seconds / count:.0f} us a tip ({count:,} in {seconds:.1f} s)")
    for key, spent in sorted(timed.seconds.items(), key=lambda item: -item[1])[:6]:
        print(f"  {1e6 * spent / count:6.0f} us  {key}")
    timed.seconds.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("tips", type=Path)
    parser.add_argument("--tips", dest="count", type=int, default=40_000)
    parser.add_argument("--drop", default="", help="indexes to drop first, comma-separated")
    args = parser.parse_args()
    importer._init_worker(SECRET, "import")
    with args.tips.open("rb") as lines:
        records = [(n, line) for n, line in zip(range(1, args.count + 1), lines, strict=False)]
    chunk = importer.prepare_chunk(records)
    if chunk.errors or not chunk.filings:
        raise SystemExit(f"{args.tips}: {chunk.errors[:1] or 'no tips'}")
    filings = [filing._replace(received_at=None) for filing in chunk.filings]
    with tempfile.TemporaryDirectory(dir=args.db.parent) as folder:
        copy = scratch_copy(args.db, Path(folder))
        db = connect(copy)
        migrate(db)
        checkpointer = imports.tune_for_bulk(db, copy)
        for index in filter(None, args.drop.split(",")):
            db.execute(f"DROP INDEX {index}")
        timed = TimedConnection(db.conn)
        db.conn = timed  # type: ignore[assignment]
        pseudonymise = pseudonymiser(SECRET)
        pace = Pace(importer.BATCH_ROWS, importer.BATCH_SECONDS, importer.MIN_BATCH_ROWS,
                    importer.MAX_BATCH_ROWS)
        started, done, filed = time.perf_counter(), 0, 0
        while done < len(filings):
            batch = filings[done: done + pace.size]
            begun = pace.start()
            outcome = imports.file_batch(db, batch, now=int(time.time()), actor="bench",
                                         new_receipt=new_receipt,
                                         anonymous=lambda r: pseudonymise(f"anonymous:{r}"))
            pace.done(begun, outcome.filed)
            done += len(batch)
            filed += outcome.filed
        if filed != len(filings):
            raise SystemExit(f"only {filed:,} of {len(filings):,} tips were new to {args.db}")
        report("file", time.perf_counter() - started, len(filings), timed)
        started = time.perf_counter()
        indexed = entities.catch_up(db)
        report("index for triage", time.perf_counter() - started, indexed, timed)
        checkpointer.stop()
        db.conn = timed.conn
        db.close()


if __name__ == "__main__":
    main()
