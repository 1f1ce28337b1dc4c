"""Generate realistic tips from other channels as a `tipline import` JSONL file.

Deterministic for a seed. About 20,000 platforms, each with a domain and, for many, a
Chinese or Latin name, WeChat IDs, a QQ number, a phone, a Telegram handle and
checksum-valid TRON/EVM/BTC addresses. Tips pick a platform with a long-tailed
(Zipf-like) popularity, as real tip lines see a few big scams and many small ones; the
"who" field names the platform the way reporters do (a URL, "客服微信：…", a name and a
domain, a wallet), the description is a Chinese or English story assembled from
fragments (amounts, days, apps, sometimes an address or a link), so almost every
description is distinct. Reporters are phone numbers, e-mail addresses or absent.

Example:
  .venv/bin/python bench/scale/tips.py --tips 10000 > tips.jsonl
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import hashlib
import itertools
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import base58  # noqa: E402

from tests.corpus.make_wallets import segwit  # noqa: E402
from triage.wallets import eip55  # noqa: E402

BRANDS = ("huobi", "binance", "okx", "okex", "gate", "bybit", "bitget", "kucoin", "mexc",
          "htx", "coinbase", "kraken", "bitfinex", "poloniex", "bithumb", "upbit")
WORDS = ("coin", "bit", "ex", "trade", "vip", "pro", "global", "chain", "token", "swap",
         "defi", "usdt", "wallet", "asia", "club", "app", "hk", "cn", "fx", "cash", "meta")
SYLLABLES = ("bi", "jin", "cai", "fu", "hui", "xin", "long", "tian", "hong", "da", "bao",
             "shun", "ying", "li", "an", "tai", "xing", "yuan", "rui", "kang", "zhong")
TLDS = ("com", "net", "cc", "io", "vip", "top", "xyz", "co", "org", "info", "pro", "app")
HANZI = "币火安欧易赢金财富汇鑫龙天鸿大宝顺盈利泰星源瑞康中链通数字资产"
ENDINGS = ("交易所", "国际", "平台", "", "", "Pro", "钱包")
MOBILE_PREFIXES = ("139", "138", "137", "136", "135", "188", "187", "186", "158", "159",
                   "150", "151", "152", "157", "182", "183", "177", "180", "181", "189")
CHANNELS = ("hotline", "email", "letter", "hotline", "email")
TARGETS = ("exchange", "ico", "wechat_account", "payment", "app", "other",
           "1", "2", "3", "4", "5", "6")
EPOCH = dt.datetime(2023, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
SPAN_SECONDS = 2 * 365 * 86400


@dataclass(frozen=True, slots=True)
class Platform:
    """One scam platform as reporters see it."""

    name: str
    domain: str
    wechat: str
    qq: str
    phone: str
    telegram: str
    wallet: str


def _domain(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        parts = [rng.choice(BRANDS), rng.choice(WORDS)]
    elif roll < 0.6:
        parts = [rng.choice(WORDS), "".join(rng.choices(SYLLABLES, k=rng.randint(1, 2)))]
    else:
        parts = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(4, 9)))]
    if rng.random() < 0.4:
        parts.append(str(rng.randint(1, 999)))
    return f"{rng.choice(('', '-')).join(parts)}.{rng.choice(TLDS)}"


def _name(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return "".join(rng.choices(HANZI, k=rng.randint(2, 4))) + rng.choice(ENDINGS)
    return rng.choice(BRANDS + WORDS).capitalize() + rng.choice(("", "Pro", "King", "X", "Ex"))


def _wallet(rng: random.Random, n: int) -> str:
    h20 = hashlib.sha256(f"wallet-{n}".encode()).digest()[:20]
    roll = rng.random()
    if roll < 0.6:
        return str(base58.b58encode_check(b"\x41" + h20).decode("ascii"))  # TRON
    if roll < 0.85:
        return "0x" + eip55(h20.hex())
    return segwit(0, h20)  # a v0 (P2WPKH) address


def platforms(count: int, rng: random.Random) -> list[Platform]:
    """`count` platforms with distinct domains."""
    seen: set[str] = set()
    found: list[Platform] = []
    while len(found) < count:
        domain = _domain(rng)
        if domain in seen:
            continue
        seen.add(domain)
        n = len(found)
        label = domain.split(".")[0].replace("-", "")
        found.append(Platform(
            name=_name(rng),
            domain=domain,
            wechat=f"{rng.choice(('kefu', 'vip', 'hb', 'coin', 'kf'))}{label[:6]}{n % 997}",
            qq=str(rng.randint(10_000_000, 2_999_999_999)),
            phone=rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}",
            telegram=f"{label[:10]}_support",
            wallet=_wallet(rng, n),
        ))
    return found


WHO_ZH = (
    "{name} {domain}",
    "{name}官网 https://www.{domain}/#/register?code={code}",
    "{name}，客服微信：{wechat}",
    "网址 {domain}  客服电话 {phone}",
    "{name} 收款地址 {wallet}",
    "QQ群 {qq}，{name}",
    "{name}",
    "{domain}",
    "www.{domain} 加V：{wechat}",
    "https://{domain}/h5/#/login 电报 @{telegram}",
)
WHO_EN = (
    "{name} at {domain}",
    "site https://{domain}/invite/{code}, Telegram @{telegram}",
    "{name} exchange, deposit address {wallet}",
    "{domain}",
)
STORY_ZH = (
    "群里有人推荐USDT理财，说日收益{pct}%，让我转账{amount}元。",
    "{days}天前在抖音上看到广告，加了客服后被拉进一个投资群。",
    "带单老师每天发截图，说跟着操作稳赚不赔。",
    "一开始小额提现成功了，后来充了{amount}元就提不出来了。",
    "客服说要先交{fee}元的保证金才能解冻账户。",
    "他们让我下载一个App，注册时要求实名认证和银行卡。",
    "充值要先转到支付宝个人账户，再由他们换成USDT。",
    "平台说是新加坡的交易所，有美国牌照。",
    "我一共损失了{amount}元，已经报警了。",
    "收款地址是{wallet}，转了{usdt}个USDT。",
    "网站 https://www.{domain}/#/assets 现在打不开了。",
    "对方让我把钱转到这个微信：{wechat}。",
    "他们在朋友圈发合约交易的收益截图，拉人头有返佣。",
    "说是新币首发，认购价{price}元，上线后翻{times}倍。",
)
STORY_EN = (
    "Someone in a WeChat group promised {pct}% daily returns on USDT.",
    "I deposited {amount} yuan and cannot withdraw since {days} days.",
    "They asked for a {fee} yuan unlock fee before any withdrawal.",
    "The deposit address was {wallet}, I sent {usdt} USDT.",
    "The site https://{domain}/login no longer opens.",
    "A teacher posts screenshots of profits every day.",
    "The token presale price was {price} yuan, they said it would go up {times} times.",
)
LETTER_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"


def _fill(template: str, p: Platform, rng: random.Random) -> str:
    return template.format(
        name=p.name, domain=p.domain, wechat=p.wechat, qq=p.qq, phone=p.phone,
        telegram=p.telegram, wallet=p.wallet, code=rng.randint(1000, 999_999),
        pct=rng.choice((1, 2, 3, 5, 8)), amount=rng.randint(5, 2000) * 100,
        fee=rng.randint(1, 50) * 100, days=rng.randint(2, 60), usdt=rng.randint(50, 20000),
        price=round(rng.uniform(0.01, 2), 2), times=rng.choice((5, 10, 50, 100)),
    )


def _reporter(rng: random.Random, channel: str, pool: int) -> str | None:
    n = rng.randrange(pool)
    if rng.random() < 0.15:
        return None
    if channel == "email":
        return f"user{n}@{rng.choice(('qq.com', '163.com', 'gmail.com', '126.com'))}"
    if channel == "letter":
        return f"{LETTER_NAMES[n % len(LETTER_NAMES)]}某（{n}号来信）"
    return "+86" + MOBILE_PREFIXES[n % len(MOBILE_PREFIXES)] + f"{n:08d}"[-8:]


def tips(count: int, seed: int, domains: int = 20_000) -> Iterator[dict[str, Any]]:
    """Yield `count` import rows (dicts) for a seed."""
    rng = random.Random(seed)
    known = platforms(domains, rng)
    # Zipf-like popularity: platform i is chosen with weight 1/(i+1)^0.8.
    cumulative = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(len(known))))
    total = cumulative[-1]
    reporters = max(10, count // 3)
    step = SPAN_SECONDS / max(count, 1)
    for n in range(count):
        p = known[min(bisect.bisect(cumulative, rng.random() * total), len(known) - 1)]
        english = rng.random() < 0.25
        who = _fill(rng.choice(WHO_EN if english else WHO_ZH), p, rng)
        stories = STORY_EN if english else STORY_ZH
        parts = rng.sample(stories, rng.randint(2, 4))
        description = (" " if english else "").join(_fill(s, p, rng) for s in parts)
        channel = rng.choice(CHANNELS)
        # Files from other channels are logs: in time order, give or take an hour.
        at = EPOCH + dt.timedelta(seconds=int(n * step) + rng.randrange(3600))
        row: dict[str, Any] = {
            "description": description,
            "who": who,
            "target_type": rng.choice(TARGETS),
            "received_at": at.isoformat(),
            "channel": channel,
        }
        reporter = _reporter(rng, channel, reporters)
        if reporter is not None:
            row["reporter"] = reporter
        yield row


def write(out: IO[str], count: int, seed: int, domains: int = 20_000) -> None:
    """Write `count` rows as JSON lines."""
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    batch: list[str] = []
    for row in tips(count, seed, domains):
        batch.append(dumps(row))
        if len(batch) == 10_000:
            out.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        out.write("\n".join(batch) + "\n")


def main() -> None:
    """Print generated tips as JSONL on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tips", type=int, default=1_000_000)
    parser.add_argument("--domains", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    write(sys.stdout, args.tips, args.seed, args.domains)


if __name__ == "__main__":
    main()
