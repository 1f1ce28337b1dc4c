"""Realistic, unique, correctly signed WeChat requests for the load benchmark."""

from __future__ import annotations

import itertools
import random
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from bot.wechat import wire

# What reporters send, step by step: the report conversation of DESIGN.md. Every
# reporter names other platforms, accounts and phones ({n}), as real tips do.
CONVERSATION = (
    ("text", "举报"),
    ("text", "1"),
    ("text", "币安国际{n} https://www.coin{n}-vip.cc 客服微信 VX：coinvip{n} 电话 139{n:08d}"),
    ("text", "群里有人推荐USDT理财，说日收益3%，让我先转{n}元到支付宝账户，后来提不了现。"
             "客服QQ {qq}"),
    ("image", ""),
    ("image", ""),
    ("link", "https://mp.weixin.qq.com/s?__biz=MzA5NzQy{n}==&mid=2650&idx=1"),
    ("text", "完成"),
    ("text", "提交"),
    ("text", "查询"),
)


def messages(count: int, seed: int = 7) -> Iterator[tuple[str, str]]:
    """Yield (openid, inbound XML) for `count` unique messages of many reporters."""
    rng = random.Random(seed)
    msg_ids = itertools.count(7_000_000_000_000_000_000 + rng.randrange(10**12))
    reporters = (f"oTipBench{n:08d}{rng.randrange(16**8):08x}" for n in itertools.count())
    made = 0
    now = int(time.time())
    while made < count:
        openid = next(reporters)
        n = rng.randrange(10**7)
        for kind, template in CONVERSATION:
            content = template.format(n=n, qq=10000 + n)
            fields: dict[str, str | int | float] = {
                "ToUserName": "gh_tipline", "FromUserName": openid, "CreateTime": now,
                "MsgType": kind,
            }
            if kind == "text":
                fields["Content"] = content
            elif kind == "image":
                media = f"{rng.randrange(16**32):032x}"
                fields.update(PicUrl=f"http://mmbiz.qpic.cn/{media}", MediaId=media)
            else:
                fields.update(Title="高收益数字货币理财", Description="", Url=content)
            fields["MsgId"] = next(msg_ids)
            yield openid, wire.inbound_xml(fields)
            made += 1
            if made == count:
                return


def write_requests(
    path: Path, count: int, token: str, crypto: wire.Crypto | None, seed: int
) -> None:
    """Write `count` signed requests as `path-with-query<TAB>body` lines for wrk."""
    with path.open("w", encoding="utf-8") as out:
        for n, (openid, xml) in enumerate(messages(count, seed)):
            # Nonces unique across files: a reused nonce with another body is refused.
            request = wire.sign_request(token, xml, openid=openid, crypto=crypto,
                                          nonce=str(seed * 10_000_000 + n))
            query = urllib.parse.urlencode(request.params)
            out.write(f"/wechat?{query}\t{request.body.decode()}\n")
