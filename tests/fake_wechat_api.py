"""A local stand-in for api.weixin.qq.com over real HTTP, which also misbehaves on cue.

Tests script it per media id: `fake.script("m1", "500", "hang", "ok")` makes the first
download answer 500, the second never answer, the third serve the bytes.

Run on its own, it lets `make run` + `tipline chat` + `/photo` fetch real pictures
without a real AppID: it prints the .env lines that point Tipline at it, and answers any
media id with one of a few sample pictures (`/photo pay-qr` asks for a named one):

    .venv/bin/python -m tests.fake_wechat_api [--port 8090]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import signal
import sys
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "fake-app-secret-0123456789abcdef"
DEFAULT_PORT = 8090  # beside the webhook's 8080 and the console's 8081


class FakeWeChatAPI:
    """Tokens, media and the menu, as WeChat serves them (and as it fails)."""

    def __init__(self, samples: dict[str, tuple[bytes, str]] | None = None) -> None:
        self.base = ""
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, content type)
        # Served for a media id not in `media` (run on its own); tests leave it empty, so
        # an unknown id is WeChat's 40007.
        self.samples: dict[str, tuple[bytes, str]] = samples or {}
        self.videos: dict[str, bytes] = {}
        self.video_urls: dict[str, str] = {}  # media id -> the video_url answered (hostile)
        self.scripts: defaultdict[str, deque[str]] = defaultdict(deque)
        self.downloads: Counter[str] = Counter()  # bytes actually served, per media id
        self.requests: list[str] = []  # paths, in order
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.token_errcode = 42001
        self.menus: list[dict[str, Any]] = []
        # Messages pushed, as WeChat received them: (path, the JSON body).
        self.pushed: list[tuple[str, dict[str, Any]]] = []
        self.push_scripts: defaultdict[str, deque[str]] = defaultdict(deque)  # by OpenID
        self.hang_seconds = 30.0
        self._counter = itertools.count(1)

    def script(self, media_id: str, *steps: str) -> None:
        """What the next downloads of `media_id` do: 'ok', '500', 'hang', 'busy', 'expire'."""
        self.scripts[media_id].extend(steps)

    def script_push(self, openid: str, *steps: str) -> None:
        """What the next pushes to `openid` get: 'ok', an errcode ('45015'), '500', 'hang'."""
        self.push_scripts[openid].extend(steps)

    def expire_tokens(self, errcode: int = 42001) -> None:
        """Make every issued token invalid, answered with `errcode`."""
        self.valid_tokens.clear()
        self.token_errcode = errcode

    def app(self) -> web.Application:
        """The aiohttp application serving WeChat's endpoints."""
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_get("/cgi-bin/media/get", self.media_get)
        app.router.add_get("/video/{media_id}", self.video)
        app.router.add_post("/cgi-bin/menu/create", self.menu_create)
        app.router.add_post("/cgi-bin/message/custom/send", self.push)
        app.router.add_post("/cgi-bin/message/template/send", self.push)
        return app

    async def stable_token(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        body = await request.json()
        if body.get("appid") != APP_ID or body.get("secret") != APP_SECRET:
            return _json({"errcode": 40125, "errmsg": "invalid appsecret"})
        if body.get("force_refresh") or not self.valid_tokens:
            self.valid_tokens = {f"ACCESS_TOKEN_{next(self._counter)}"}
            self.tokens_issued += 1
        return _json({"access_token": next(iter(self.valid_tokens)), "expires_in": 7200})

    async def media_get(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        media_id = request.query.get("media_id", "")
        step = self.scripts[media_id].popleft() if self.scripts[media_id] else "ok"
        if step == "expire":
            self.expire_tokens()
        if request.query.get("access_token") not in self.valid_tokens:
            return _json({"errcode": self.token_errcode,
                          "errmsg": "access_token expired rid: 1"})
        if step == "500":
            return web.Response(status=502, text="Bad Gateway")
        if step == "hang":
            await asyncio.sleep(self.hang_seconds)
        if step == "busy":
            return _json({"errcode": -1, "errmsg": "system error"})
        if step == "forged-errmsg":  # a log line forged, a token echoed
            return _json({"errcode": 40007, "errmsg": (
                "invalid media\n2026-12-04 ERROR root: all fine, "
                "token=ACCESS_TOKEN_0123456789abcdefghijklmnopqrstuvwxyz\x1b[2J")})
        if step == "odd-errcode":
            return _json({"errcode": "forty", "errmsg": "?"})
        if step.startswith("redirect:"):  # a hostile answer: off to somewhere else
            raise web.HTTPFound(step.removeprefix("redirect:"))
        if step == "huge-text":  # a hostile answer: text/plain without end, unannounced size
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            await response.prepare(request)
            for _ in range(256):
                await response.write(b"x" * 65536)
            return response
        if step == "trickle":  # a byte every half second: never a stall, never an end
            data, content_type = self.media[media_id]
            response = web.StreamResponse(headers={"Content-Type": content_type,
                                                   "Content-Length": str(len(data))})
            await response.prepare(request)
            with contextlib.suppress(ConnectionError):
                for byte in data:
                    await response.write(bytes([byte]))
                    await asyncio.sleep(0.5)
            return response
        if media_id in self.video_urls:
            return _json({"video_url": self.video_urls[media_id]})
        if media_id in self.videos:
            return _json({"video_url": f"{self.base}/video/{media_id}"})
        known = self.media.get(media_id) or self.sample(media_id)
        if known is None:
            return _json({"errcode": 40007, "errmsg": "invalid media_id rid: 2"})
        data, content_type = known
        self.downloads[media_id] += 1
        return web.Response(body=data, content_type=content_type, headers={
            "Content-disposition": f'attachment; filename="{media_id}.bin"'})

    def sample(self, media_id: str) -> tuple[bytes, str] | None:
        """The sample named `media_id`, else one chosen by it (the same id, the same picture)."""
        if not self.samples:
            return None
        if media_id in self.samples:
            return self.samples[media_id]
        names = sorted(self.samples)
        pick = int.from_bytes(hashlib.sha256(media_id.encode()).digest()[:4], "big")
        return self.samples[names[pick % len(names)]]

    async def video(self, request: web.Request) -> web.Response:
        media_id = request.match_info["media_id"]
        self.requests.append(request.path)
        self.downloads[media_id] += 1
        return web.Response(body=self.videos[media_id], content_type="video/mp4")

    async def push(self, request: web.Request) -> web.Response:
        """A customer-service or template message, answered as its script says."""
        self.requests.append(request.path)
        if request.query.get("access_token") not in self.valid_tokens:
            return _json({"errcode": self.token_errcode, "errmsg": "access_token expired"})
        body = json.loads(await request.read())
        script = self.push_scripts[body.get("touser", "")]
        step = script.popleft() if script else "ok"
        if step == "500":
            return web.Response(status=502, text="Bad Gateway")
        if step == "hang":
            self.pushed.append((request.path, body))  # WeChat got it; the answer never comes
            await asyncio.sleep(self.hang_seconds)
        if step.isdigit():
            return _json({"errcode": int(step), "errmsg": f"scripted {step}"})
        self.pushed.append((request.path, body))
        return _json({"errcode": 0, "errmsg": "ok", "msgid": len(self.pushed)})

    async def menu_create(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        if request.query.get("access_token") not in self.valid_tokens:
            return _json({"errcode": self.token_errcode, "errmsg": "access_token expired"})
        self.menus.append(json.loads(await request.read()))
        return _json({"errcode": 0, "errmsg": "ok"})


def _json(answer: dict[str, Any]) -> web.Response:
    # WeChat sends its JSON answers as text/plain.
    return web.Response(text=json.dumps(answer), content_type="text/plain")


@asynccontextmanager
async def running_fake() -> AsyncIterator[FakeWeChatAPI]:
    """The fake on a free port of 127.0.0.1; `fake.base` is its URL."""
    fake = FakeWeChatAPI()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


def sample_pictures() -> dict[str, tuple[bytes, str]]:
    """Pictures a reporter sends: payment codes in phone screenshots, and a scam chat."""
    from tests.images import ALIPAY, CHAT_ZH, WECHAT_PAY, encoded, screenshot

    def shot(lines: list[str], code: str) -> tuple[bytes, str]:
        return encoded(screenshot(lines, [code]), "JPEG", quality=90), "image/jpeg"

    return {
        "pay-qr": shot(["Scan to pay me", "USDT 1:7.2, fast"], WECHAT_PAY),
        "alipay-qr": shot(["Alipay: pay the agent here"], ALIPAY),
        "chat-zh": (CHAT_ZH.read_bytes(), "image/png"),
    }


async def serve_alone(host: str, port: int) -> None:
    """Serve the fake with sample pictures until SIGINT or SIGTERM."""
    fake = FakeWeChatAPI(sample_pictures())
    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    fake.base = f"http://{host}:{port}"
    print(f"WECHAT_API_BASE_URL={fake.base}\nWECHAT_APP_ID={APP_ID}\n"
          f"WECHAT_APP_SECRET={APP_SECRET}", flush=True)
    print(f"A fake WeChat API on {fake.base}: put the three lines above in .env and start "
          f"`make run` again.\nIn `tipline chat`, /photo sends a sample picture (or ask for "
          f"one: /photo {' | '.join(sorted(fake.samples))}). Ctrl-C stops it.",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake on its own, for trying evidence downloads on one machine."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_wechat_api",
                                     description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve_alone(args.host, args.port))
    except OSError as error:
        sys.exit(f"Error: cannot listen on {args.host}:{args.port}: {error.strerror}")


if __name__ == "__main__":
    main()
