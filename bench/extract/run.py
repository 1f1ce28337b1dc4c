"""Measure identifier extraction throughput (tips per second) on one core.

Runs triage.extract.extract over tests/corpus/tips.jsonl, repeated until about
--seconds of work, after one warm-up pass (loading the public suffix list and the
phone metadata is a one-off cost of the process, not of a tip).

Two figures are printed:
  cold  the host caches (IDNA, suffix split) are emptied before every corpus pass, as if
        no domain had been seen before; this is the headline figure
  warm  caches kept across passes, as in a server that sees the same scam domain often

Example:
  .venv/bin/python bench/extract/run.py
  .venv/bin/python bench/extract/run.py --seconds 5 --format json
  .venv/bin/python bench/extract/run.py --profile      # top functions by cumulative time

With --tips FILE (a `tipline import` JSONL, e.g. from bench/scale/tips.py) it prints
instead the CPU microseconds per row of what the import does: read_row (validation),
identifiers() (who answer and description, caches emptied first, as in a fresh worker)
and extract() on each description; the best of --repeat passes (CPU time, so that other
work on the machine matters less):
  .venv/bin/python bench/scale/tips.py --tips 100000 > /tmp/tips.jsonl
  .venv/bin/python bench/extract/run.py --tips /tmp/tips.jsonl
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

from handlers import tips as import_rows
from triage import contacts, hosts, wallets
from triage.extract import extract

TARGET = 2_000  # tips per second
CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "tips.jsonl"


def load_texts() -> list[str]:
    """Read the tip texts of the corpus."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def pin_to_one_core() -> str:
    """Pin this process to one CPU where the OS allows it; say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def clear_caches() -> None:
    """Forget every host, address and number seen so far (the suffix list stays loaded)."""
    hosts.to_ascii.cache_clear()
    hosts._ascii_label_ok.cache_clear()
    hosts.split_host.cache_clear()
    wallets.is_evm.cache_clear()
    wallets.is_btc_bech32.cache_clear()
    wallets._base58check_version.cache_clear()
    contacts._parse_phone.cache_clear()
    import_rows._who_triples.cache_clear()
    import_rows._description_triples.cache_clear()


def one_pass(texts: list[str], cold: bool) -> float:
    """Extract from every text once; return the seconds it took."""
    if cold:
        clear_caches()
    start = time.perf_counter()
    for text in texts:
        extract(text)
    return time.perf_counter() - start


def measure(texts: list[str], seconds: float, cold: bool) -> tuple[float, int]:
    """Repeat passes until `seconds` of extraction; return (tips per second, tips done)."""
    spent, passes = 0.0, 0
    while spent < seconds:
        spent += one_pass(texts, cold)
        passes += 1
    done = passes * len(texts)
    return done / spent, done


def profile(texts: list[str], seconds: float) -> None:
    """Print the functions that take the most cumulative time over cold passes."""
    profiler = cProfile.Profile()
    profiler.enable()
    measure(texts, seconds, cold=True)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def per_row(path: str, repeat: int) -> dict[str, float]:
    """Return the best CPU microseconds per row of read_row, identifiers() and extract()."""
    rows = [json.loads(line) for line in Path(path).read_bytes().splitlines() if line.strip()]
    extract("warm-up.example.com 13912345678")  # the suffix list and phone metadata
    best = {"read_row_us": float("inf"), "identifiers_us": float("inf"),
            "extract_description_us": float("inf")}
    for _ in range(repeat):
        start = time.process_time()
        tips = [import_rows.read_row(row, n) for n, row in enumerate(rows, 1)]
        best["read_row_us"] = min(best["read_row_us"], time.process_time() - start)
        clear_caches()
        start = time.process_time()
        for tip in tips:
            import_rows.identifiers(tip.who, tip.description, tip.listed)
        best["identifiers_us"] = min(best["identifiers_us"], time.process_time() - start)
        clear_caches()
        start = time.process_time()
        for tip in tips:
            extract(tip.description)
        spent = time.process_time() - start
        best["extract_description_us"] = min(best["extract_description_us"], spent)
    return {name: round(seconds / len(rows) * 1e6, 1) for name, seconds in best.items()}


def main() -> None:
    """Run the benchmark and print the rates and their ratio to the target."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="work per figure (default 2)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary instead")
    parser.add_argument("--tips", metavar="FILE", help="print µs per row of an import file instead")
    parser.add_argument("--repeat", type=int, default=3, help="passes over --tips (default 3)")
    args = parser.parse_args()
    if args.tips:
        figures = per_row(args.tips, args.repeat)
        if args.format == "json":
            print(json.dumps(figures))
        else:
            for name, micros in figures.items():
                print(f"{name.removesuffix('_us')}: {micros:.1f} µs per row (CPU, best of "
                      f"{args.repeat})")
        return

    texts = load_texts()
    pinned = pin_to_one_core()
    one_pass(texts, cold=True)  # warm-up: suffix list, phone metadata, regex compilation
    if args.profile:
        profile(texts, args.seconds)
        return
    cold_rate, cold_done = measure(texts, args.seconds, cold=True)
    warm_rate, warm_done = measure(texts, args.seconds, cold=False)
    result = {
        "corpus_tips": len(texts),
        "cpu": pinned,
        "cold_tips_per_s": round(cold_rate),
        "cold_tips_done": cold_done,
        "warm_tips_per_s": round(warm_rate),
        "warm_tips_done": warm_done,
        "target_tips_per_s": TARGET,
        "cold_ratio_to_target": round(cold_rate / TARGET, 2),
    }
    if args.format == "json":
        print(json.dumps(result))
        return
    print(f"corpus: {len(texts)} tips, {pinned}, python {sys.version.split()[0]}")
    print(f"cold caches: {cold_rate:,.0f} tips/s over {cold_done:,} tips")
    print(f"warm caches: {warm_rate:,.0f} tips/s over {warm_done:,} tips")
    print(f"target {TARGET:,} tips/s: cold rate is {cold_rate / TARGET:.2f}x the target")


if __name__ == "__main__":
    main()
