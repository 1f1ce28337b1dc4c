"""Image reading benchmark: the reader's speed and memory, and what it costs the webhook.

Usage: python bench/reading/run.py [--images 30] [--duration 8] [--rounds 3] [--latency 20]

1. Reader throughput: one reader child (one core) reads a mix of real images (the
   committed Chinese chat, drawn chats with QR codes, photos of payment codes): images
   per minute, p50/p95 seconds an image, and the child's peak resident memory (VmHWM).
2. Webhook under a backlog: `tipline serve` (one worker, its reader on) is loaded by wrk
   with signed messages, first with an empty read queue, then while the reader drains a
   backlog of 500 images: the ratio busy/idle, per round, measured in the same run.
   Target >= 0.8.
3. Photo to `tipline show`: a reporter sends one photo of a payment code at a time
   through the webhook; the fake WeChat API (tests/fake_wechat_api.py, local, over real
   HTTP) serves it; the time until its identifiers are in the report (median, p95).

Nothing leaves the machine: the WeChat API is the local fake.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.webhook.run import (  # noqa: E402
    APP_ID,
    SECRET,
    TOKEN,
    free_port,
    wait_listening,
    wrk,
)
from bench.webhook.traffic import write_requests  # noqa: E402
from bot.reader.pool import ChildReader, Limits, Read  # noqa: E402
from tests.images import ALIPAY, CHAT_ZH, GROUP, TRON, WECHAT_PAY, encoded, qr, screenshot  # noqa: E402
from triage.evidence import evidence_path  # noqa: E402

BACKLOG = 500
TARGET = 0.8


def corpus(count: int) -> list[bytes]:
    """A mix of what reporters send: chats with text and codes, photos of codes."""
    kinds = [
        lambda n: CHAT_ZH.read_bytes(),
        lambda n: encoded(screenshot([f"Customer service {n}", f"USDT TRC20: {TRON}",
                                      "WeChat: huobi_kefu88"], [WECHAT_PAY]), quality=85),
        lambda n: encoded(qr([WECHAT_PAY, ALIPAY, GROUP][n % 3], scale=6 + n % 4)),
    ]
    return [kinds[n % 3](n) for n in range(count)]


def reader_throughput(work: Path, images: list[bytes]) -> dict[str, float]:
    """Read every image once in one child; rate, per-image times, peak memory."""
    paths = []
    for n, data in enumerate(images):
        path = work / f"image-{n}"
        path.write_bytes(data)
        paths.append(path)
    child = ChildReader(Limits(20 * 1024 * 1024, 40_000_000, 120, 8 * 1024**3))
    child.read(paths[0])  # start it and load the models: not part of the rate
    times = []
    started = time.monotonic()
    for path in paths:
        t0 = time.monotonic()
        outcome = child.read(path)
        times.append(time.monotonic() - t0)
        assert isinstance(outcome, Read), outcome
    elapsed = time.monotonic() - started
    peak = _peak_rss(child.pid())
    child.close()
    times.sort()
    return {"images": len(paths), "per_minute": len(paths) / elapsed * 60,
            "p50_s": statistics.median(times), "p95_s": times[int(len(times) * 0.95) - 1],
            "peak_rss_mb": peak / 1024}


def _peak_rss(pid: int | None) -> float:
    """A process's peak resident memory in KB (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return 0.0


def serve(work: Path, name: str, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], int,
                                                                    Path, Path]:
    """Start `tipline serve` on a fresh database; its process, port, database, evidence."""
    port = free_port()
    db, evidence = work / f"{name}.db", work / f"{name}-evidence"
    env = {**os.environ, "WECHAT_TOKEN": TOKEN, "TIPLINE_SECRET_KEY": SECRET,
           "TIPLINE_DB": str(db), "TIPLINE_PORT": str(port),
           "TIPLINE_EVIDENCE_DIR": str(evidence), **extra}
    log = (work / f"{name}.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=work,
                               stdout=subprocess.DEVNULL, stderr=log)
    wait_listening(port, process, "/healthz")
    return process, port, db, evidence


def queue_backlog(db: Path, evidence: Path, images: list[bytes], count: int) -> None:
    """File `count` fetched images straight into the read queue, as fetches would."""
    conn = sqlite3.connect(db, timeout=30)
    now = int(time.time())
    with conn:
        for n in range(count):
            data = images[n % len(images)] + n.to_bytes(4, "big")  # distinct files
            sha = hashlib.sha256(data).hexdigest()
            path = evidence_path(evidence, sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            cursor = conn.execute(
                "INSERT INTO evidence (draft_id, reporter, kind, details, fetch_status, sha256,"
                " size, mime, received_at, read_status) VALUES ('bench', 'bench', 'image', "
                "'{}', 'fetched', ?, ?, 'image/png', ?, 'pending')", (sha, len(data), now))
            conn.execute("INSERT INTO read_jobs (evidence_id, due_at) VALUES (?, ?)",
                         (cursor.lastrowid, now))
    conn.close()


def webhook_ratio(work: Path, images: list[bytes], args: argparse.Namespace
                  ) -> list[dict[str, float]]:
    """Webhook req/s idle and while the reader drains a backlog, round by round."""
    rounds = []
    for round_ in range(args.rounds):
        process, port, db, evidence = serve(work, f"webhook-{round_}", {})
        try:
            measured = {}
            for phase in ("idle", "backlog"):
                if phase == "backlog":
                    queue_backlog(db, evidence, images, BACKLOG)
                    time.sleep(3)  # the reader's child starts and loads its models
                warmup, requests = work / f"{phase}-{round_}-w.txt", work / f"{phase}-{round_}.txt"
                write_requests(warmup, 6000, TOKEN, None, seed=100 + round_ * 4 + len(measured))
                write_requests(requests, int(3000 * args.duration), TOKEN, None,
                               seed=101 + round_ * 4 + len(measured))
                wrk(port, warmup, args, 2)
                raw = wrk(port, requests, args, args.duration)
                errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
                measured[phase] = raw["requests"] / (raw["duration_us"] / 1e6)
                measured[f"{phase}_errors"] = errors
            with sqlite3.connect(db) as conn:
                left = conn.execute("SELECT count(*) FROM read_jobs").fetchone()[0]
            measured["read_during"] = BACKLOG - left
            measured["ratio"] = measured["backlog"] / measured["idle"]
            rounds.append(measured)
            print(f"round {round_ + 1}: idle {measured['idle']:.0f} req/s, backlog "
                  f"{measured['backlog']:.0f} req/s ({measured['ratio']:.2f}x), "
                  f"{measured['read_during']} images read meanwhile", file=sys.stderr)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait()
    return rounds


async def latency(work: Path, count: int) -> dict[str, float]:
    """Seconds from a photo's POST to its identifiers in the report, one photo at a time."""
    import aiohttp

    from bot.wechat import wire
    from tests.fake_wechat_api import APP_SECRET, running_fake

    async with running_fake() as fake:
        process, port, db, _ = serve(work, "latency", {
            "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_API_BASE_URL": fake.base})
        times = []
        try:
            async with aiohttp.ClientSession() as session:
                for n in range(count + 1):  # the first loads the models: not counted
                    media_id = f"code-{n}"
                    fake.media[media_id] = (encoded(qr(WECHAT_PAY, scale=6 + n % 4)),
                                            "image/jpeg")
                    xml = wire.inbound_xml({
                        "ToUserName": "gh_tipline", "FromUserName": f"o_bench_{n}",
                        "CreateTime": int(time.time()), "MsgType": "image",
                        "MediaId": media_id, "PicUrl": "http://mmbiz.qpic.cn/x",
                        "MsgId": 10_000 + n})
                    request = wire.sign_request(TOKEN, xml, openid=f"o_bench_{n}",
                                                nonce=f"n{n}")
                    started = time.monotonic()
                    async with session.post(f"http://127.0.0.1:{port}/wechat",
                                            params=request.params, data=request.body) as r:
                        assert r.status == 200
                    while True:
                        with sqlite3.connect(db) as conn:
                            row = conn.execute(
                                "SELECT e.read_status FROM evidence AS e JOIN "
                                "evidence_identifiers AS i ON i.evidence_id = e.id "
                                "WHERE e.media_id = ?", (media_id,)).fetchone()
                        if row:
                            break
                        await asyncio.sleep(0.02)
                    if n:
                        times.append(time.monotonic() - started)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait()
    times.sort()
    return {"photos": len(times), "median_s": statistics.median(times),
            "p95_s": times[max(0, int(len(times) * 0.95) - 1)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30, help="images read for the rate")
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--latency", type=int, default=20, help="photos timed end to end")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="tipline-bench-reading-"))
    try:
        images = corpus(args.images)
        rate = reader_throughput(work, images)
        print(f"reader: {rate['per_minute']:.0f} images/min on one core "
              f"(p50 {rate['p50_s']:.2f} s, p95 {rate['p95_s']:.2f} s an image), "
              f"peak {rate['peak_rss_mb']:.0f} MB", file=sys.stderr)
        rounds = webhook_ratio(work, images, args)
        delay = asyncio.run(latency(work, args.latency))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ratio = statistics.median(r["ratio"] for r in rounds)
    errors = sum(r["idle_errors"] + r["backlog_errors"] for r in rounds)
    print(f"\nimage reading benchmark ({os.cpu_count()} cores)")
    print(f"  reader, one core: {rate['per_minute']:.0f} images/min, p50 {rate['p50_s']:.2f} s,"
          f" p95 {rate['p95_s']:.2f} s, peak memory {rate['peak_rss_mb']:.0f} MB "
          f"({rate['images']} images)")
    print(f"  webhook while reading a backlog of {BACKLOG}: {ratio:.2f}x its idle rate "
          f"(median of {len(rounds)} rounds; target >= {TARGET}), {errors} errors: "
          f"{'met' if ratio >= TARGET and errors == 0 else 'MISSED'}")
    print(f"  photo to show: median {delay['median_s']:.2f} s, p95 {delay['p95_s']:.2f} s "
          f"({delay['photos']} photos, no backlog)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"reading-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(
        {"args": vars(args), "reader": rate, "webhook_rounds": rounds,
         "webhook_ratio": ratio, "latency": delay}, indent=2))
    sys.exit(0 if ratio >= TARGET and errors == 0 else 1)


if __name__ == "__main__":
    main()
