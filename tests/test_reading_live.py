"""The whole path, live: a reporter's photos through `tipline serve` to `tipline show`.

A real server process (engine, worker, fetcher, reader), the fake WeChat API over real
HTTP serving real images, signed messages from a reporter, and the investigator's CLI.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.config import Settings
from tests.conftest import ServerProcess, WeChat
from tests.desk import tipline
from tests.fake_wechat_api import FakeWeChatAPI
from tests.images import CHAT_ZH, WECHAT_PAY, encoded, png_bomb, qr
from tests.test_conversation import Reporter, receipt_in
from tests.test_evidence import api_settings, fake  # noqa: F401 (fixtures)

READ_WITHIN = 60.0  # seconds: a first read loads the models; later ones take about one


async def test_a_scam_chat_and_a_payment_code_show_every_identifier_while_a_bomb_fails_alone(
    api_settings: Settings, fake: FakeWeChatAPI,  # noqa: F811
    server_process: Callable[..., ServerProcess],
) -> None:
    fake.media["chat"] = (CHAT_ZH.read_bytes(), "image/png")
    fake.media["code"] = (encoded(qr(WECHAT_PAY)), "image/jpeg")
    fake.media["bomb"] = (png_bomb(), "image/png")
    server = server_process(settings_=api_settings)
    async with aiohttp.ClientSession() as session:
        reporter = Reporter(WeChat(session, server.url + "/wechat", api_settings), "o_amy")
        await reporter.say("举报")
        await reporter.say("4")
        await reporter.say("币安国际 www.example-ex.com")
        await reporter.say("客服让我转USDT到这个地址，还发了收款码")
        for media_id in ("bomb", "chat", "code"):
            assert "证据" in await reporter.photo(media_id)  # the chat keeps answering
        await reporter.say("完成")
        receipt = receipt_in(await reporter.say("提交"))
        started = time.monotonic()
        case = await _until_read(api_settings, receipt)
        took = time.monotonic() - started

    bomb, chat, code = case["evidence"]
    assert bomb["read_status"].startswith("failed: image too large (30,000 x 30,000 pixels")
    assert chat["read_status"] == code["read_status"] == "done"
    named = {(i["kind"], i["value"]): i["evidence_id"] for i in case["identifiers"]}
    assert named[("wechat_pay", WECHAT_PAY)] == code["id"]
    assert named[("evm", "0x8ba1f109551bd432803012645ac136ddd64dba72")] == chat["id"]
    assert named[("wechat_id", "huobi_kefu88")] == chat["id"]
    assert named[("domain", "example-ex.com")] is None  # the reporter's own words
    assert took < READ_WITHIN
    server.stop()
    assert "Traceback" not in server.log.read_text()


async def _until_read(settings: Settings, receipt: str) -> dict[str, Any]:
    """`tipline show --json` once no image of the report is pending."""
    deadline = time.monotonic() + READ_WITHIN
    while True:
        result = tipline(settings.db_path, "show", receipt, "--json")
        case: dict[str, Any] = json.loads(result.output)
        statuses = [e["read_status"] for e in case["evidence"]]
        if statuses and "pending" not in statuses:
            return case
        assert time.monotonic() < deadline, statuses
        await asyncio.sleep(0.2)
