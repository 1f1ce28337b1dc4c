"""Shared fixtures: settings on a real SQLite file, a real server, a WeChat that signs."""

from __future__ import annotations

import dataclasses
import itertools
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.server.access_log import SafeAccessLogger
from bot.server.app import init_app
from bot.server.gate import Intake, Opened
from bot.server.protocol import Ticket
from bot.wechat import wire
from tests.desk import Desk

TOKEN = "tiplinetest"
SECRET = "test-secret-key-0123456789"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx2c2769f8efd9abc2"
ROOT = Path(__file__).resolve().parent.parent
# MsgIds are unique across WeChat: across every server a test starts, too.
_MSG_IDS = itertools.count(10_000_000_000_000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Plaintext-mode settings on a fresh database file."""
    return Settings(
        wechat_token=TOKEN,
        secret_key=SECRET,
        db_path=tmp_path / "tipline.db",
        evidence_dir=tmp_path / "evidence",
    )


@pytest.fixture
def safe_settings(settings: Settings) -> Settings:
    """Safe-mode settings (AES) on a fresh database file."""
    return dataclasses.replace(settings, wechat_encoding_aes_key=AES_KEY, wechat_app_id=APP_ID)


class WeChat:
    """WeChat's server as a test sees it: signs, encrypts and posts messages over HTTP."""

    def __init__(self, session: aiohttp.ClientSession, url: str, settings: Settings) -> None:
        self.session = session
        self.url = url
        self.settings = settings
        self.crypto = (
            wire.Crypto(TOKEN, settings.wechat_encoding_aes_key, settings.wechat_app_id)
            if settings.safe_mode else None
        )

    def text(self, content: str, openid: str = "o_alice", msg_id: int | None = None
             ) -> dict[str, Any]:
        """The fields of a text message."""
        if msg_id is None:
            msg_id = next(_MSG_IDS)
        return {"ToUserName": "gh_tipline", "FromUserName": openid,
                "CreateTime": int(time.time()), "MsgType": "text", "Content": content,
                "MsgId": msg_id}

    def event(self, event: str, openid: str = "o_alice", key: str = "") -> dict[str, Any]:
        """The fields of an event."""
        return {"ToUserName": "gh_tipline", "FromUserName": openid,
                "CreateTime": int(time.time()), "MsgType": "event", "Event": event,
                "EventKey": key}

    def sign(self, fields: dict[str, Any], **kwargs: Any) -> wire.SignedRequest:
        """Sign (and in safe mode encrypt) a message as WeChat's server does."""
        openid = str(fields.get("FromUserName", "o_nobody"))
        return wire.sign_request(TOKEN, wire.inbound_xml(fields), openid=openid,
                                   crypto=self.crypto, **kwargs)

    async def post(self, request: wire.SignedRequest) -> tuple[int, bytes]:
        """Post a signed request; return status and raw body."""
        async with self.session.post(self.url, params=request.params,
                                     data=request.body) as response:
            return response.status, await response.read()

    async def send(self, fields: dict[str, Any]) -> str:
        """Send a message and return the text the user would see (asserting a 200)."""
        status, body = await self.post(self.sign(fields))
        assert status == 200, body
        return reply_text(body, self.crypto)


async def post_fresh(weixin: WeChat, fields: dict[str, Any]) -> tuple[int, str]:
    """Send over a fresh connection (so SO_REUSEPORT may pick any worker)."""
    request = weixin.sign(fields)
    connector = aiohttp.TCPConnector(force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as s,
        s.post(weixin.url, params=request.params, data=request.body) as response,
    ):
        body = await response.read()
        return response.status, reply_text(body, weixin.crypto) if response.status == 200 else ""


def reply_text(body: bytes, crypto: wire.Crypto | None) -> str:
    """The text WeChat would show for a reply body ("" for `success`)."""
    from bot.cli.chat import reply_text as text

    return text(body, crypto)


def make_wechat(settings: Settings) -> Callable[[], Any]:
    async def start() -> AsyncIterator[WeChat]:
        server = TestServer(init_app(settings), host="127.0.0.1")
        # The access logger `tipline serve --access-log` uses, so its output is checked too.
        await server.start_server(access_log_class=SafeAccessLogger)
        async with aiohttp.ClientSession() as session:
            yield WeChat(session, str(server.make_url("/wechat")), settings)
        await server.close()

    return start


@pytest.fixture
async def weixin(settings: Settings) -> AsyncIterator[WeChat]:
    """A real server on a free port (plaintext mode), and a WeChat that talks to it."""
    async for client in make_wechat(settings)():
        yield client


@pytest.fixture
async def safe_weixin(safe_settings: Settings) -> AsyncIterator[WeChat]:
    """A real server on a free port in safe mode, and a WeChat that encrypts."""
    async for client in make_wechat(safe_settings)():
        yield client


def opened_ticket(settings: Settings, openid: str, content: str, msg_id: int,
                  nonce: str = "") -> Ticket:
    """A signed text message, opened as a worker opens it: what the engine is sent."""
    xml = wire.inbound_xml({"ToUserName": "gh_tipline", "FromUserName": openid,
                              "CreateTime": int(time.time()), "MsgType": "text",
                              "Content": content, "MsgId": msg_id})
    request = wire.sign_request(settings.wechat_token, xml, openid=openid,
                                  nonce=nonce or f"n{msg_id}")
    opened = Intake(settings).open(urllib.parse.urlencode(request.params), request.body,
                                   int(time.time()))
    assert isinstance(opened, Opened)
    return opened.ticket


def rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read rows from the database file directly, as an auditor would."""
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`tipline serve` as a real process, the way an operator starts it."""

    def __init__(self, settings: Settings, workers: int = 1, file_limit: int | None = None
                 ) -> None:
        self.settings = settings
        self.workers = workers
        self.file_limit = file_limit  # soft and hard RLIMIT_NOFILE, as a tight unit sets
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
        env.update(WECHAT_TOKEN=s.wechat_token, TIPLINE_SECRET_KEY=s.secret_key,
                   TIPLINE_DB=str(s.db_path), TIPLINE_PORT=str(self.port),
                   WECHAT_ENCODING_AES_KEY=s.wechat_encoding_aes_key,
                   WECHAT_APP_ID=s.wechat_app_id, WECHAT_APP_SECRET=s.wechat_app_secret,
                   WECHAT_API_BASE_URL=s.wechat_api_base_url,
                   TIPLINE_EVIDENCE_DIR=str(s.evidence_dir))
        return env

    def start(self) -> ServerProcess:
        self.log = self.settings.db_path.parent / f"server-{self.port}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--workers", str(self.workers)],
                env=self.env(), cwd=self.settings.db_path.parent,
                stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,  # its own process group: kill_all reaches workers
                preexec_fn=self._limit_files if self.file_limit else None,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(self.log.read_text()) from None
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def _limit_files(self) -> None:
        assert self.file_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.file_limit, self.file_limit))

    def kill_all(self) -> None:
        """SIGKILL the supervisor and every worker at once, like a power cut."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, sig: int = 15) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)


@pytest.fixture
def server_process(settings: Settings) -> Iterator[Callable[..., ServerProcess]]:
    """Start `tipline serve` processes on the test's database; all are stopped at the end."""
    started: list[ServerProcess] = []

    def start(workers: int = 1, settings_: Settings | None = None,
              file_limit: int | None = None) -> ServerProcess:
        server = ServerProcess(settings_ or settings, workers, file_limit).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process and server.process.poll() is None:
            server.kill_all()


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    """A tip line's database, filled through the code paths the chat files with."""
    return Desk(tmp_path / "tipline.db")
