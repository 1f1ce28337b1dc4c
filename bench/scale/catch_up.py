"""How long triage's tables take to catch up with a backlog, swept or report by report.

Usage: python bench/scale/catch_up.py DB [--backlog 100000] [--report-by-report]

Copies DB (say, the scale benchmark's million-report database), takes the
newest --backlog reports out of triage's tables (all of them: the import's case, into
empty tables), then times `db.entities.catch_up` as `tipline import` runs it, and prints
the seconds, µs a report and peak memory. --report-by-report turns the sweep off. The
copy is deleted afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.scale.scratch import scratch_copy  # noqa: E402
from db import entities, imports  # noqa: E402
from db.connection import connect, write_transaction  # noqa: E402
from db.migrations import migrate  # noqa: E402


def main() -> None:
    """Copy, un-index, catch up, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--report-by-report", action="store_true", help="no sweep")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db.parent) as folder:
        copy = scratch_copy(args.db, Path(folder))
        db = connect(copy)
        migrate(db)
        entities.catch_up(db)  # whatever the copy had not indexed yet: not timed
        (newest,) = db.execute("SELECT coalesce(max(id), 0) FROM reports").fetchone()
        low = max(0, newest - args.backlog)
        with write_transaction(db):
            if low == 0:
                db.execute("DELETE FROM entity_reports")
                db.execute("DELETE FROM entity_stats")
            else:  # their rows out (the stats stay as they are: only the time counts)
                db.execute("DELETE FROM entity_reports WHERE report_id > ?", (low,))
            db.execute("UPDATE entity_index SET indexed_to = ?", (low,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if args.report_by_report:
            entities.SWEEP_MIN = sys.maxsize
        checkpointer = imports.tune_for_bulk(db, copy)
        started = time.perf_counter()
        done = entities.catch_up(db)
        seconds = time.perf_counter() - started
        checkpointer.stop()
        db.conn.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    way = "report by report" if args.report_by_report else "swept"
    print(f"{done:,} reports {way} into {low:,} reports' tables: {seconds:.1f} s, "
          f"{seconds / max(done, 1) * 1e6:.0f} us a report, peak {peak} MB")


if __name__ == "__main__":
    main()
