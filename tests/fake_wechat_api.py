"""A local stand-in for api.weixin.qq.com over real HTTP, which also misbehaves on cue.

Tests script it per media id: `fake.script("m1", "500", "hang", "ok")` makes the first
download answer 500, the second never answer, the third serve the bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "fake-app-secret-0123456789abcdef"


class FakeWeChatAPI:
    """Tokens, media and the menu, as WeChat serves them (and as it fails)."""

    def __init__(self) -> None:
        self.base = ""
        self.media: dict[str, tuple[bytes, str]] = {}  # media id -> (bytes, content type)
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
        if media_id not in self.media:
            return _json({"errcode": 40007, "errmsg": "invalid media_id rid: 2"})
        data, content_type = self.media[media_id]
        self.downloads[media_id] += 1
        return web.Response(body=data, content_type=content_type, headers={
            "Content-disposition": f'attachment; filename="{media_id}.bin"'})

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
