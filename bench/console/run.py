"""Console page timings over a big database (bench/scale's million reports).

Usage:
  python bench/scale/run.py --workdir /tmp/s1m --keep          # builds the database once
  python bench/console/run.py /tmp/s1m/scale-1000000-20000-6.db [--repeat 9]

The console runs in this process on a free port over the database itself (the audit log
and visit times are written, as in use); a signed-in client on
loopback times each page: the triage page, the entity page of the entity most reports
name, a report of that entity, its second page of reports, and search. The baseline is
the sign-in page of the same server in the same run (templates and HTTP, no database),
so each page's cost is also given as a ratio to it. Targets: triage and a big entity
≤ 300 ms, a report ≤ 100 ms (median server round trip on loopback).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sqlite3
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from tests.console_kit import Browser, console_server, make_account  # noqa: E402
from triage.vocabulary import display_receipt  # noqa: E402

TARGETS = {"triage": 0.300, "entity (biggest)": 0.300, "entity, page 2": 0.300,
           "report": 0.100}


async def timed(browser: Browser, path: str, repeat: int) -> tuple[float, int]:
    """The median seconds of `repeat` GETs of a page, and its status."""
    times, status = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        status, _, _ = await browser.get(path)
        times.append(time.perf_counter() - started)
    return statistics.median(times), status


async def run(db: Path, repeat: int) -> dict[str, tuple[float, int]]:
    conn = sqlite3.connect(db)
    kind, value, _ = conn.execute(
        "SELECT kind, value, count(*) AS n FROM entity_reports GROUP BY kind, value "
        "ORDER BY n DESC LIMIT 1").fetchone()
    (receipt,) = conn.execute(
        "SELECT r.receipt FROM reports AS r JOIN entity_reports AS e ON e.report_id = r.id "
        "WHERE e.kind = ? AND e.value = ? ORDER BY r.id DESC LIMIT 1", (kind, value)).fetchone()
    conn.close()
    account = make_account(db, f"bench-{int(time.time())}")
    settings = Settings(db_path=db, evidence_dir=db.parent / "evidence")
    entity = f"/entities/{kind}/{urllib.parse.quote(value, safe='')}"
    results: dict[str, tuple[float, int]] = {}
    async with console_server(settings) as base:
        browser = Browser(base)
        try:
            results["sign-in page (baseline)"] = await timed(browser, "/login", repeat)
            assert await browser.sign_in(account) == 303
            results["triage"] = await timed(browser, "/", repeat)
            results["entity (biggest)"] = await timed(browser, entity, repeat)
            _, page, _ = await browser.get(entity)
            older = re.search(r"\?before=(\d+)", page)
            if older:
                results["entity, page 2"] = await timed(browser, f"{entity}?before={older[1]}",
                                                        repeat)
            results["report"] = await timed(browser, f"/reports/{display_receipt(receipt)}",
                                            repeat)
            results["search"] = await timed(browser, f"/search?q={urllib.parse.quote(value)}",
                                            repeat)
        finally:
            await browser.close()
    print(f"biggest entity: {kind} {value}", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a database built by bench/scale/run.py")
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"no database at {args.db}: build one with bench/scale/run.py --keep")
    results = asyncio.run(run(args.db, args.repeat))
    (reports,) = sqlite3.connect(args.db).execute("SELECT count(*) FROM reports").fetchone()
    baseline = results["sign-in page (baseline)"][0]
    print(f"\nconsole page timings, {reports:,} reports (median of {args.repeat}, loopback)")
    failed = False
    for name, (seconds, status) in results.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = seconds <= target and status == 200
            failed |= not ok
            verdict = f"<= {target * 1000:.0f} ms: {'met' if ok else 'MISSED'}"
        print(f"  {name:<26}{seconds * 1000:>8.1f} ms {seconds / baseline:>7.1f}x  "
              f"{status}  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
