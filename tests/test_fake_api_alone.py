"""Trying evidence downloads on one machine: the fake WeChat API run on its own, as the
README says, answers `tipline chat`'s /photo with a real picture."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bot.config import Settings
from tests.conftest import ROOT, ServerProcess, free_port, rows
from tests.images import WECHAT_PAY
from tests.test_cli import run
from triage.evidence import evidence_path
from triage.pictures.qr import decode_qr


@dataclasses.dataclass
class Alone:
    """The fake as a terminal runs it: its process and the .env lines it printed."""

    process: subprocess.Popen[str]
    lines: dict[str, str]


@pytest.fixture
def fake_alone(tmp_path: Path) -> Iterator[Alone]:
    """`python -m tests.fake_wechat_api --port N`, started from the project folder."""
    said = tmp_path / "fake.err"
    with said.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fake_wechat_api", "--port", str(free_port())],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert process.stdout is not None
    printed = [process.stdout.readline().strip() for _ in range(3)]
    try:
        assert all("=" in line for line in printed), (printed, said.read_text())
        yield Alone(process, dict(line.split("=", 1) for line in printed))
    finally:
        process.terminate()
        process.wait(timeout=30)


class QuietServer(ServerProcess):
    """`tipline serve` with the background reader off: only the download is under test."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "TIPLINE_READERS": "0"}


def fetch(url: str, body: dict[str, str] | None = None) -> tuple[str, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as answer:
        return answer.headers.get_content_type(), answer.read()


def test_the_fake_api_run_on_its_own_prints_its_env_lines_and_serves_pictures(
    fake_alone: Alone
) -> None:
    lines = fake_alone.lines
    assert set(lines) == {"WECHAT_API_BASE_URL", "WECHAT_APP_ID", "WECHAT_APP_SECRET"}
    base = lines["WECHAT_API_BASE_URL"]
    _, token = fetch(base + "/cgi-bin/stable_token",
                     {"grant_type": "client_credential", "appid": lines["WECHAT_APP_ID"],
                      "secret": lines["WECHAT_APP_SECRET"]})
    access = json.loads(token)["access_token"]
    # Any media id gets a picture (a random one is what /photo sends); the same id, the same.
    mime, picture = fetch(f"{base}/cgi-bin/media/get?access_token={access}&media_id=3f9a0c")
    assert mime.startswith("image/")
    assert Image.open(io.BytesIO(picture)).size[0] > 0
    assert fetch(f"{base}/cgi-bin/media/get?access_token={access}&media_id=3f9a0c")[1] == picture
    _, code = fetch(f"{base}/cgi-bin/media/get?access_token={access}&media_id=pay-qr")
    assert decode_qr(Image.open(io.BytesIO(code))) == [WECHAT_PAY]


def test_a_photo_sent_from_tipline_chat_is_downloaded_from_the_fake_api(
    fake_alone: Alone, settings: Settings, tmp_path: Path
) -> None:
    """Regression (issue 19, item 15): evidence downloads could not be tried without an AppID."""
    lines = fake_alone.lines
    api = dataclasses.replace(settings, wechat_api_base_url=lines["WECHAT_API_BASE_URL"],
                              wechat_app_id=lines["WECHAT_APP_ID"],
                              wechat_app_secret=lines["WECHAT_APP_SECRET"])
    server = QuietServer(api).start()
    try:
        typed = "".join(f"{line}\n" for line in (
            "举报", "4", f"收款码 {WECHAT_PAY}", "让我扫码充值。", "/photo pay-qr", "完成"))
        chat = run(["chat", "--url", server.url + "/wechat", "--user", "o_photo"],
                   server.env(), tmp_path, stdin=typed)
        assert chat.returncode == 0, chat.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            [(status, sha)] = rows(api.db_path, "SELECT fetch_status, sha256 FROM evidence "
                                                "WHERE media_id = 'pay-qr'")
            if status != "pending":
                break
            time.sleep(0.2)
    finally:
        server.stop()
    assert status == "fetched", (status, server.log.read_text())
    stored = evidence_path(api.evidence_dir, sha)
    assert decode_qr(Image.open(stored)) == [WECHAT_PAY]  # what the reader will find in it
