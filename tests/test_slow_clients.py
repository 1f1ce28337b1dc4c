"""Slow and idle connections: they are cut off in time, and running out of sockets is quiet."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest

from bot.server.process import AcceptErrorLog
from bot.wechat import wire
from tests.conftest import TOKEN, ServerProcess, WeChat


def _read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(20)  # far above the body deadline: only a hang gets here
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


async def test_a_body_that_never_completes_is_answered_408_within_wechats_patience(
    weixin: WeChat,
) -> None:
    """Regression (issue 18, item 8): a body that never completed was never timed out."""
    request = weixin.sign(weixin.text("帮助"))
    query = "&".join(f"{k}={v}" for k, v in request.params.items())
    host, port = weixin.url.split("//")[1].split("/")[0].split(":")

    def slow_sender() -> bytes:
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"POST /wechat?{query} HTTP/1.1\r\nHost: x\r\n"
                         f"Content-Length: {len(request.body)}\r\n\r\n".encode()
                         + request.body[:10])  # and the rest never comes
            return _read_answer(sock)

    answer = await asyncio.to_thread(slow_sender)
    assert answer.startswith(b"HTTP/1.1 408")
    # The genuine message, sent whole, is still answered.
    assert (await weixin.post(request))[0] == 200


def test_failed_accepts_are_logged_as_one_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Regression (issue 18, item 8): asyncio logged a traceback for every failed accept."""
    loop = asyncio.new_event_loop()
    try:
        handler = AcceptErrorLog(interval=3600)
        error = OSError(24, "Too many open files")
        with caplog.at_level(logging.ERROR):
            for _ in range(5000):
                handler(loop, {"message": "socket.accept() out of system resource",
                               "exception": error})
        lines = [r for r in caplog.records if "cannot accept" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
        assert "Too many open files" in lines[0].getMessage()
        assert handler.suppressed == 4999
        # Anything else still reaches asyncio's own handler.
        with caplog.at_level(logging.ERROR):
            handler(loop, {"message": "something else broke"})
        assert any("something else broke" in r.getMessage() for r in caplog.records)
    finally:
        loop.close()


def test_a_flood_of_idle_connections_at_a_tight_file_limit_logs_a_line_and_passes(
    server_process: Callable[..., ServerProcess],
) -> None:
    """At a limit that a flood exhausts, the log stays a few lines and service comes back."""
    server = server_process(file_limit=128)
    flood = []
    try:
        for _ in range(400):
            try:
                flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break
        time.sleep(3)
    finally:
        for sock in flood:
            sock.close()
    request = wire.sign_request(TOKEN, wire.inbound_xml({
        "ToUserName": "gh_tipline", "FromUserName": "o_alice", "CreateTime": int(time.time()),
        "MsgType": "text", "Content": "帮助", "MsgId": 77}), openid="o_alice")
    deadline = time.monotonic() + 20
    status = 0
    while time.monotonic() < deadline and status != 200:
        status = _post(server.url, request)
        time.sleep(0.2)
    assert status == 200
    log = server.log.read_text()
    assert log.count("cannot accept connections") <= 2
    assert "Traceback" not in log


def _post(url: str, request: wire.SignedRequest) -> int:
    query = urllib.parse.urlencode(request.params)
    try:
        with urllib.request.urlopen(urllib.request.Request(
                f"{url}/wechat?{query}", data=request.body, method="POST"), timeout=5) as answer:
            return int(answer.status)
    except (urllib.error.URLError, OSError):
        return 0


def test_serve_raises_its_open_file_limit_to_the_hard_limit() -> None:
    """systemd's soft default of 1,024 files is raised to what the unit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"needs a finite hard limit above 256 (have {hard})")
    script = ("from bot.server.process import raise_file_limit\n"
              "import resource\nprint(raise_file_limit(), "
              "resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    ).stdout.split()
    assert out == [str(hard), str(hard)]
