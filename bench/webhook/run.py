"""Webhook load benchmark: Tipline against an aiohttp hello-world, measured in one run.

Usage: python bench/webhook/run.py [--duration 8] [--rounds 3] [--connections 64] [--workers 1]

wrk (Debian package `wrk`) replays unique, correctly signed requests that carry realistic
report conversations, from a second process on loopback. Targets at 64 connections:
plaintext with durable commits >= 0.5x hello-world with p99 < 50 ms, safe mode >= 0.4x,
both with zero errors (socket errors, non-2xx, error replies, lost or duplicated messages).
This machine is noisy, so the servers take turns for several rounds and each ratio is
the median of the per-round ratios (each against the hello-world of the same round).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.webhook.traffic import write_requests  # noqa: E402
from bot.wechat import wire  # noqa: E402

HERE = Path(__file__).resolve().parent
TOKEN = "benchtoken"
SECRET = "bench-secret-key-0123456789"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
WARMUP_SECONDS = 3


@dataclass
class Result:
    """One wrk measurement."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    stored: int | None = None
    ratio: float | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers, if only with 405
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def wrk(port: int, requests: Path, args: argparse.Namespace, seconds: float) -> dict[str, int]:
    env = {**os.environ, "BENCH_REQUESTS": str(requests), "BENCH_THREADS": str(args.threads)}
    out = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s",
         "--timeout", "5s", "-s", str(HERE / "wrk.lua"), f"http://127.0.0.1:{port}/wechat"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def measure(name: str, port: int, warmup: Path, requests: Path, args: argparse.Namespace
            ) -> Result:
    wrk(port, warmup, args, WARMUP_SECONDS)
    raw = wrk(port, requests, args, args.duration)
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return Result(name, raw["requests"] / (raw["duration_us"] / 1e6), raw["p50_us"] / 1000,
                  raw["p99_us"] / 1000, errors, raw["requests"])


def run_hello(args: argparse.Namespace, work: Path) -> Result:
    port = free_port()
    requests = work / "hello.txt"
    if not requests.exists():
        write_requests(requests, 20_000, TOKEN, None, seed=1)
    server = subprocess.Popen([sys.executable, str(HERE / "hello.py"), str(port)])
    try:
        wait_listening(port, server, "/wechat")
        return measure("aiohttp hello-world", port, requests, requests, args)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()


def run_tipline(name: str, args: argparse.Namespace, work: Path, safe: bool, expected_rps: float,
                round_: int) -> Result:
    crypto = wire.Crypto(TOKEN, AES_KEY, APP_ID) if safe else None
    tag = f"{'safe' if safe else 'plain'}-{round_}"
    warmup, requests = work / f"{tag}-warmup.txt", work / f"{tag}.txt"
    # Fresh requests (unique MsgIds and nonces), more than the fastest possible run needs,
    # signed just now: none is replayed as a retry or refused as stale.
    seed = 10 + 4 * round_ + (2 if safe else 0)
    write_requests(warmup, int(expected_rps * WARMUP_SECONDS * 1.3), TOKEN, crypto, seed=seed)
    write_requests(requests, int(expected_rps * args.duration * 1.3), TOKEN, crypto,
                   seed=seed + 1)
    port = free_port()
    db = work / f"{tag}.db"
    log = work / f"{tag}.log"
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "TIPLINE_SECRET_KEY": SECRET,
           "TIPLINE_DB": str(db), "TIPLINE_PORT": str(port),
           "WECHAT_ENCODING_AES_KEY": AES_KEY if safe else "",
           "WECHAT_APP_ID": APP_ID if safe else ""}
    with log.open("wb") as errors:
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--workers", str(args.workers)],
            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=errors,
        )
    try:
        wait_listening(port, server, "/healthz")
        result = measure(name, port, warmup, requests, args)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    with sqlite3.connect(db) as conn:
        result.stored = conn.execute("SELECT count(*) FROM inbound").fetchone()[0]
    problems = [line for line in log.read_text().splitlines() if " ERROR " in line
                or "refused" in line]
    result.errors += len(problems)
    return result


def _median_result(samples: list[Result]) -> Result:
    """The round with the median ratio (or rate, for the baseline); errors summed."""
    key = (lambda r: r.ratio or 0.0) if samples[0].ratio is not None else (lambda r: r.rps)
    middle = sorted(samples, key=key)[len(samples) // 2]
    return Result(middle.name, middle.rps, middle.p50_ms,
                  max(r.p99_ms for r in samples), sum(r.errors for r in samples),
                  middle.requests, middle.stored, middle.ratio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="turns each server takes")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="tipline serve --workers")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="tipline-bench-"))
    rounds: list[list[Result]] = []
    try:
        for round_ in range(args.rounds):
            hello = run_hello(args, work)
            measured = [hello]
            for name, safe in (("tipline plaintext, durable", False),
                               ("tipline safe mode", True)):
                result = run_tipline(name, args, work, safe, hello.rps, round_)
                result.ratio = result.rps / hello.rps
                measured.append(result)
            rounds.append(measured)
            print(f"round {round_ + 1}: " + ", ".join(
                f"{r.name} {r.rps:.0f} req/s" + (f" ({r.ratio:.2f}x)" if r.ratio else "")
                for r in measured), file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results = [_median_result([measured[i] for measured in rounds]) for i in range(3)]

    targets = {"tipline plaintext, durable": 0.5, "tipline safe mode": 0.4}
    print(f"\nwebhook benchmark: {args.connections} connections, wrk -t{args.threads}, "
          f"{args.duration}s x {args.rounds} rounds (medians), tipline --workers "
          f"{args.workers}, {os.cpu_count()} cores")
    print(f"{'server':<28}{'req/s':>9}{'ratio':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}"
          f"{'stored':>9}  target")
    failed = False
    for r in results:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "1.00"
        stored = str(r.stored) if r.stored is not None else "-"
        verdict = ""
        if r.name in targets:
            ok = (r.ratio or 0) >= targets[r.name] and r.errors == 0
            if r.name.startswith("tipline plaintext"):
                ok = ok and r.p99_ms < 50
            # Every answered request is one unique message: stored must cover them all.
            ok = ok and (r.stored or 0) >= r.requests
            failed |= not ok
            p99 = ", p99 < 50 ms" if r.name.startswith("tipline plaintext") else ""
            verdict = f">= {targets[r.name]}x{p99}, no errors: {'met' if ok else 'MISSED'}"
        print(f"{r.name:<28}{r.rps:>9.0f}{ratio:>8}{r.p50_ms:>8.1f}{r.p99_ms:>8.1f}"
              f"{r.errors:>8}{stored:>9}  {verdict}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"webhook-{stamp}.json").write_text(
        json.dumps({"args": vars(args), "results": [asdict(r) for r in results],
                    "rounds": [[asdict(r) for r in measured] for measured in rounds]},
                   indent=2))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
