"""Scale benchmark: a million tips through `tipline import`, `triage` and `export`.

Generates realistic tips (bench/scale/tips.py: ~20,000 platforms, Chinese and English,
wallets, phones, account IDs; deterministic for --seed) as a JSONL file, imports them
into a fresh database, then times the commands as an admin runs them, each a child
process whose peak memory (max RSS, its worker processes included) is read from wait4.

Targets (all measured in the same run, on the same machine):
  import                    >= 20,000 tips/s
  triage --format json      <= 2 s          ("triage: not available" until that command exists)
  export --format csv       <= 2x the sqlite3 shell dumping the reports table as CSV
                               (`sqlite3 -csv -header DB "SELECT * FROM reports"`);
                               both run --rounds times, alternating, best of each
  peak memory               <= 300 MB for each command

Example:
  .venv/bin/python bench/scale/run.py                      # 1,000,000 tips
  .venv/bin/python bench/scale/run.py --tips 100000        # a quick run
  .venv/bin/python bench/scale/run.py --workdir /tmp/scale --keep   # reuse the tips file
  .venv/bin/python bench/scale/run.py --workdir /tmp/scale --reuse-db  # and its database
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.scale import tips as generator  # noqa: E402
from db.connection import connect  # noqa: E402
from db.migrations import migrate  # noqa: E402

SECRET = "bench-scale-secret-key-0123456789"
IMPORT_TARGET = 20_000  # tips/s
TRIAGE_TARGET = 2.0  # s
EXPORT_RATIO_TARGET = 2.0  # x the sqlite3 shell
RSS_TARGET_MB = 300


@dataclass
class Run:
    """One timed child process."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stderr: str


def timed(args: list[str], stdout: Path | None = None) -> Run:
    """Run a command; return its wall time and the peak RSS of it and its children."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    env.update(TIPLINE_SECRET_KEY=SECRET, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile() as err, open(stdout or os.devnull, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        # wait4's rusage covers the child and the descendants it waited for (the pool).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return Run(seconds, usage.ru_maxrss / 1024, process.returncode, stderr)


def tipline(db: Path, *args: str) -> list[str]:
    """The command line of `tipline --db DB ARGS`, from this checkout."""
    return [sys.executable, "-m", "bot", "--db", str(db), *args]


def check(run: Run, what: str) -> None:
    if run.returncode != 0:
        raise SystemExit(f"{what} failed ({run.returncode}):\n{run.stderr}")


def main() -> None:
    """Generate, import, triage, export; print the figures against the targets."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--domains", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="export timing rounds")
    parser.add_argument("--workdir", type=Path, help="keep files here (the tips file is reused)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--reuse-db", action="store_true",
                        help="skip the import when --workdir holds its database (migrated "
                             "first, untimed); to time export changes without a re-import")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tipline-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    say = (lambda _: None) if args.format == "json" else (
        lambda line: print(line, file=sys.stderr, flush=True))
    results: dict[str, object] = {"tips": args.tips, "domains": args.domains,
                                  "seed": args.seed, "cpus": os.cpu_count()}
    rows: list[tuple[str, str, str, str]] = []
    try:
        data = workdir / f"tips-{args.tips}-{args.domains}-{args.seed}.jsonl"
        if not data.exists():
            say(f"generating {args.tips:,} tips into {data} …")
            started = time.perf_counter()
            partial = data.with_suffix(".partial")
            with open(partial, "w", encoding="utf-8") as out:
                generator.write(out, args.tips, args.seed, args.domains)
            partial.rename(data)
            results["generate_s"] = round(time.perf_counter() - started, 1)
        results["tips_file_mb"] = round(data.stat().st_size / 1e6, 1)

        db = workdir / f"scale-{data.stem.removeprefix('tips-')}.db"
        if args.reuse_db and db.exists():
            say(f"import: reusing {db}")
            connection = connect(db)
            migrate(connection)  # a schema change applied now, not inside a timed command
            count = connection.execute("SELECT count(*) FROM reports").fetchone()[0]
            connection.conn.close()
            results["import"] = "reused"
            rows.append(("import", f"skipped (--reuse-db, {count:,} reports)",
                         f">= {IMPORT_TARGET:,} tips/s", "-"))
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            say("import …")
            run = timed(tipline(db, "import", str(data)))
            check(run, "import")
            rate = args.tips / run.seconds
            count = sqlite3.connect(db).execute("SELECT count(*) FROM reports").fetchone()[0]
            results["import"] = {**asdict(run), "tips_per_s": round(rate), "reports": count}
            del results["import"]["stderr"]  # type: ignore[attr-defined]
            rows.append(("import",
                         f"{rate:,.0f} tips/s ({run.seconds:.1f} s, {count:,} reports)",
                         f">= {IMPORT_TARGET:,} tips/s", verdict(rate >= IMPORT_TARGET)))
            rows.append(rss_row("import", run))

        say("triage …")
        run = timed(tipline(db, "triage", "--format", "json"))
        if run.returncode == 2 and "No such command" in run.stderr:
            say("triage: not available")
            results["triage"] = "not available"
            rows.append(("triage --format json", "not available", f"<= {TRIAGE_TARGET} s", "-"))
        else:
            check(run, "triage")
            results["triage"] = {"seconds": round(run.seconds, 2),
                                 "max_rss_mb": round(run.max_rss_mb)}
            rows.append(("triage --format json", f"{run.seconds:.2f} s", f"<= {TRIAGE_TARGET} s",
                         verdict(run.seconds <= TRIAGE_TARGET)))
            rows.append(rss_row("triage", run))

        say("export …")
        shell = shutil.which("sqlite3")
        exports: list[Run] = []
        dumps: list[Run] = []
        for _ in range(args.rounds):
            if shell:
                dump = timed([shell, "-csv", "-header", str(db), "SELECT * FROM reports"],
                             stdout=workdir / "dump.csv")
                check(dump, "sqlite3 dump")
                dumps.append(dump)
            run = timed(tipline(db, "export", "--format", "csv", "--output",
                                str(workdir / "export.csv")))
            check(run, "export")
            exports.append(run)
        best = min(exports, key=lambda r: r.seconds)
        peak = max(exports, key=lambda r: r.max_rss_mb)
        results["export_csv"] = {"seconds": round(best.seconds, 2),
                                 "max_rss_mb": round(peak.max_rss_mb),
                                 "mb": round((workdir / "export.csv").stat().st_size / 1e6, 1)}
        if shell:
            dump = min(dumps, key=lambda r: r.seconds)
            ratio = best.seconds / dump.seconds
            results["sqlite3_csv"] = {"seconds": round(dump.seconds, 2),
                                      "mb": round((workdir / "dump.csv").stat().st_size / 1e6, 1)}
            results["export_ratio"] = round(ratio, 2)
            rows.append(("export --format csv",
                         f"{best.seconds:.2f} s = {ratio:.2f}x sqlite3 ({dump.seconds:.2f} s)",
                         f"<= {EXPORT_RATIO_TARGET}x", verdict(ratio <= EXPORT_RATIO_TARGET)))
        else:
            results["sqlite3_csv"] = "sqlite3 shell not installed"
            rows.append(("export --format csv", f"{best.seconds:.2f} s (sqlite3 shell absent: "
                         "no ratio)", f"<= {EXPORT_RATIO_TARGET}x", "-"))
        rows.append(rss_row("export", peak))
        results["db_mb"] = round(db.stat().st_size / 1e6)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    if args.format == "json":
        print(json.dumps(results))
        return
    print(f"{args.tips:,} tips over {args.domains:,} domains (seed {args.seed}), "
          f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, "
          f"sqlite {sqlite3.sqlite_version}")
    width = max(len(r[1]) for r in rows)
    for name, figure, target, result in rows:
        print(f"  {name:22} {figure:{width}}  {target:18} {result}")


def verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


def rss_row(name: str, run: Run) -> tuple[str, str, str, str]:
    return (f"{name} peak memory", f"{run.max_rss_mb:,.0f} MB", f"<= {RSS_TARGET_MB} MB",
            verdict(run.max_rss_mb <= RSS_TARGET_MB))


if __name__ == "__main__":
    main()
