"""Measure "possibly the same platform" suggestions (triage.similar) on 20,000 entities.

The entities are generated, deterministic for a seed, to look like what reports name:
scam domains built from brand fragments, crypto words, pinyin syllables, digits and
cheap TLDs (huobi-vip8.cc, okxpro-global.top, coinbit-888.com…), typosquats of real
brands (blnance.com), and Chinese and Latin platform names (火币, 币赢国际, BitKing).
Prints the time (reading included: folding, pinyin), the number of suggestions and of
pairs scored after candidate generation, against all pairs.

Example:
  .venv/bin/python bench/similar/run.py
  .venv/bin/python bench/similar/run.py --entities 50000 --format json
"""

from __future__ import annotations

import argparse
import json
import random
import time

from triage import similar as similar_module
from triage.similar import similar

BRANDS = ("huobi", "binance", "okx", "okex", "gate", "bybit", "bitget", "kucoin", "mexc",
          "htx", "coinbase", "kraken", "bitfinex", "poloniex", "bithumb", "upbit")
WORDS = ("coin", "bit", "ex", "trade", "vip", "pro", "global", "chain", "token", "swap",
         "defi", "usdt", "wallet", "asia", "club", "app", "hk", "cn", "fx", "cash", "meta")
SYLLABLES = ("bi", "jin", "cai", "fu", "hui", "xin", "long", "tian", "hong", "da", "bao",
             "shun", "ying", "li", "an", "tai", "xing", "yuan", "rui", "kang", "zhong")
TLDS = ("com", "net", "cc", "io", "vip", "top", "xyz", "co", "org", "info", "pro", "app")
HANZI = "币火安欧易赢金财富汇鑫龙天鸿大宝顺盈利泰星源瑞康中链通网交易所国际数字资产"


def domain(rng: random.Random) -> str:
    """Return one plausible scam domain."""
    roll = rng.random()
    if roll < 0.25:
        parts = [rng.choice(BRANDS), rng.choice(WORDS)]
    elif roll < 0.3:
        brand = rng.choice(BRANDS)
        i = rng.randrange(len(brand))
        parts = [brand[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + brand[i + 1 :]]
    elif roll < 0.65:
        parts = [rng.choice(WORDS), "".join(rng.choices(SYLLABLES, k=rng.randint(1, 2)))]
    else:
        parts = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 9)))]
    if rng.random() < 0.3:
        parts.append(str(rng.randint(1, 999)))
    sep = rng.choice(("", "-"))
    return f"{sep.join(parts)}.{rng.choice(TLDS)}"


def name(rng: random.Random) -> str:
    """Return one plausible platform name, Chinese or Latin."""
    if rng.random() < 0.6:
        return "".join(rng.choices(HANZI, k=rng.randint(2, 5)))
    return rng.choice(BRANDS + WORDS).capitalize() + rng.choice(("", "Pro", "King", "X", "Chain"))


def entities(count: int, seed: int) -> list[tuple[str, str]]:
    """Return about `count` distinct entities, three domains for each name."""
    rng = random.Random(seed)
    found: set[tuple[str, str]] = set()
    while len(found) < count:
        found.add(("domain", domain(rng)) if rng.random() < 0.75 else ("name", name(rng)))
    return sorted(found)


def main() -> None:
    """Generate entities, time similar() on them, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args()
    data = entities(args.entities, args.seed)
    readings = [r for e in data if (r := similar_module.read(e)) is not None]
    candidate_pairs = len(similar_module._candidates(readings))
    started = time.perf_counter()
    found = similar(data)
    seconds = time.perf_counter() - started
    result = {"entities": len(data), "seconds": round(seconds, 2),
              "suggestions": len(found), "pairs_compared": candidate_pairs,
              "all_pairs": len(data) * (len(data) - 1) // 2}
    if args.format == "json":
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:16} {value:,}" if isinstance(value, int) else f"{key:16} {value}")
        for s in found[:: max(1, len(found) // 12)][:12]:
            print(f"  {s.score:5.1f}  {s.a[1]}  ~  {s.b[1]}   {s.why}")


if __name__ == "__main__":
    main()
