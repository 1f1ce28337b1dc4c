"""Where the CPU goes per message: the worker's open and render, the engine's apply and commit.

Usage: python bench/webhook/profile_engine.py [--messages 20000] [--batch 32] [--safe]
       [--cprofile]

Feeds the load benchmark's signed conversations through a worker's intake (verify,
decrypt, parse, identifiers; then render, encrypt) and the engine (the transaction),
without HTTP, and prints CPU microseconds per message for each step (process time, so a
busy machine changes the figures less than wall time would). The engine's steps are the
serial part: every worker waits on them. --cprofile adds the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.webhook.traffic import messages  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.server.engine import Engine  # noqa: E402
from bot.server.gate import Intake, Opened  # noqa: E402
from bot.wechat import wire  # noqa: E402

TOKEN = "benchtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"


def requests(count: int, crypto: wire.Crypto | None) -> list[tuple[str, bytes]]:
    """Signed requests (query string, body) as a worker receives them."""
    out = []
    for n, (openid, xml) in enumerate(messages(count, seed=11)):
        request = wire.sign_request(TOKEN, xml, openid=openid, crypto=crypto, nonce=str(n))
        out.append((urllib.parse.urlencode(request.params), request.body))
    return out


def main() -> None:
    """Run the engine over the traffic and print the per-step costs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--safe", action="store_true", help="safe mode (AES)")
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(wechat_token=TOKEN, secret_key="profile-secret-key-0123",
                            db_path=Path(folder) / "t.db",
                            wechat_encoding_aes_key=AES_KEY if args.safe else "",
                            wechat_app_id=APP_ID if args.safe else "")
        engine = Engine.open(settings)
        crypto = wire.Crypto(TOKEN, AES_KEY, APP_ID) if args.safe else None
        intake = Intake(settings)
        traffic = requests(args.messages, crypto)
        spent = dict.fromkeys(("open", "apply", "commit", "render"), 0.0)
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler:
            profiler.enable()
        for start in range(0, len(traffic), args.batch):
            now = int(time.time())
            t0 = time.process_time()
            opened = [intake.open(query, body, now) for query, body in
                      traffic[start:start + args.batch]]
            assert all(isinstance(item, Opened) for item in opened), opened[:3]
            tickets = [item.ticket for item in opened if isinstance(item, Opened)]
            t1 = time.process_time()
            verdicts = engine.apply(tickets)
            t2 = time.process_time()
            verdicts = engine.commit(verdicts)
            engine.make_durable()
            t3 = time.process_time()
            answers = [intake.render(item, verdict) for item, verdict in
                       zip(opened, verdicts, strict=True) if isinstance(item, Opened)]
            t4 = time.process_time()
            assert all(status == 200 for status, _, _ in answers), answers[:3]
            for name, cost in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                spent[name] += cost
        if profiler:
            profiler.disable()
        engine.close()

    total = sum(spent.values())
    mode = "safe mode" if args.safe else "plaintext"
    print(f"CPU per message ({mode}, {args.messages} messages, batches of {args.batch})")
    for name, cost in spent.items():
        side = "engine" if name in ("apply", "commit") else "worker"
        print(f"  {side} {name:<8} {cost / args.messages * 1e6:7.1f} us")
    print(f"  {'total':<15} {total / args.messages * 1e6:7.1f} us")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
