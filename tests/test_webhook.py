"""The webhook over real HTTP: verification, replies, retries, replays and hostile input."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings
from bot.wechat import wire
from tests.conftest import ROOT, TOKEN, WeChat, make_wechat, rows


def stored_messages(settings: Settings) -> int:
    return int(rows(settings.db_path, "SELECT count(*) FROM inbound")[0][0])


async def test_a_follower_who_asks_for_help_gets_the_instructions_in_chinese(
    weixin: WeChat,
) -> None:
    reply = await weixin.send(weixin.text("帮助"))
    assert "举报" in reply and "查询" in reply and "取消" in reply


async def test_an_english_command_word_switches_the_reply_language(weixin: WeChat) -> None:
    assert "How to use" in await weixin.send(weixin.text("HELP"))
    # The conversation stays in English for a message that is not a command word.
    assert "Received" in await weixin.send(weixin.text("hello there"))


async def test_a_new_follower_is_told_reports_are_confidential_and_free(weixin: WeChat) -> None:
    reply = await weixin.send(weixin.event("subscribe"))
    assert "保密" in reply and "不会向您收取任何费用" in reply and "追回损失" in reply


async def test_the_help_menu_button_answers_with_the_instructions(weixin: WeChat) -> None:
    assert "使用说明" in await weixin.send(weixin.event("CLICK", key="HELP"))


async def test_wechat_url_check_echoes_echostr_only_when_signed(weixin: WeChat) -> None:
    ts, nonce = str(int(time.time())), "77"
    good = {"signature": wire.sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
            "echostr": "5828937127593459281"}
    async with weixin.session.get(weixin.url, params=good) as response:
        assert response.status == 200
        assert await response.text() == "5828937127593459281"
    bad = {**good, "signature": "0" * 40}
    async with weixin.session.get(weixin.url, params=bad) as response:
        assert response.status == 403


async def test_a_forged_signature_is_refused_and_nothing_is_stored(
    weixin: WeChat, settings: Settings
) -> None:
    request = weixin.sign(weixin.text("帮助"))
    request.params["signature"] = wire.sign("anothertoken", request.params["timestamp"],
                                              request.params["nonce"])
    status, _ = await weixin.post(request)
    assert status == 403
    assert stored_messages(settings) == 0


async def test_a_stale_timestamp_is_refused(weixin: WeChat, settings: Settings) -> None:
    stale = weixin.sign(weixin.text("帮助"), timestamp=int(time.time()) - 301)
    assert (await weixin.post(stale))[0] == 403
    fresh = weixin.sign(weixin.text("帮助"), timestamp=int(time.time()) - 290)
    assert (await weixin.post(fresh))[0] == 200
    assert stored_messages(settings) == 1


async def test_tolerance_zero_turns_the_timestamp_check_off(settings: Settings) -> None:
    relaxed = dataclasses.replace(settings, wechat_timestamp_tolerance=0)
    async for weixin in make_wechat(relaxed)():
        old = weixin.sign(weixin.text("帮助"), timestamp=1409735669)
        assert (await weixin.post(old))[0] == 200


async def test_wechats_retry_gets_the_stored_reply_and_is_processed_once(
    weixin: WeChat, settings: Settings
) -> None:
    message = weixin.text("HELP", msg_id=123456789)
    first = await weixin.send(message)
    # Retries arrive with fresh nonces; the same identical request may come again too.
    retries = [weixin.send(message) for _ in range(3)]
    assert await asyncio.gather(*retries) == [first] * 3
    assert rows(settings.db_path, "SELECT count(*), reply FROM inbound") == [(1, first)]


async def test_the_same_msgid_from_two_senders_is_two_messages(
    weixin: WeChat, settings: Settings
) -> None:
    await weixin.send(weixin.text("帮助", openid="o_alice", msg_id=42))
    await weixin.send(weixin.text("帮助", openid="o_bob", msg_id=42))
    assert stored_messages(settings) == 2


async def test_a_replayed_nonce_with_another_body_is_refused(
    weixin: WeChat, settings: Settings
) -> None:
    original = weixin.sign(weixin.text("帮助"))
    assert (await weixin.post(original))[0] == 200
    forged = wire.SignedRequest(original.params,
                                  wire.inbound_xml(weixin.text("help")).encode())
    assert (await weixin.post(forged))[0] == 403
    # The identical request (WeChat's own retry) is answered again.
    assert (await weixin.post(original))[0] == 200
    assert stored_messages(settings) == 1


HOSTILE_BODIES = {
    "not xml": b"hello",
    "empty": b"",
    "unclosed": b"<xml><Content>hi</xml>",
    "wrong root": b"<html><body/></html>",
    "invalid utf-8": b"<xml><Content>\xff\xfe</Content></xml>",
    "billion laughs": (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<xml><Content>&lol2;</Content></xml>"
    ),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<xml><Content>&e;</Content></xml>"
    ),
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_a_malformed_body_gets_400_and_nothing_is_stored(
    weixin: WeChat, settings: Settings, body: bytes
) -> None:
    request = weixin.sign(weixin.text("x"))
    assert (await weixin.post(wire.SignedRequest(request.params, body)))[0] == 400
    assert stored_messages(settings) == 0


@pytest.mark.parametrize(
    "change",
    [
        {"MsgId": "12ab"},
        {"MsgId": "１２３"},  # full-width digits are not a MsgId
        {"CreateTime": "yesterday"},
        {"FromUserName": ""},
    ],
    ids=["letters in MsgId", "full-width MsgId", "CreateTime not a number", "empty sender"],
)
async def test_a_message_with_bad_fields_gets_400(weixin: WeChat, change: dict[str, str]
                                                  ) -> None:
    fields = {**weixin.text("帮助"), **change}
    assert (await weixin.post(weixin.sign(fields)))[0] == 400


@pytest.mark.parametrize("missing", ["FromUserName", "ToUserName", "MsgType", "MsgId",
                                     "CreateTime", "Content"])
async def test_a_message_missing_a_field_gets_400(weixin: WeChat, missing: str) -> None:
    fields = weixin.text("帮助")
    del fields[missing]
    assert (await weixin.post(weixin.sign(fields)))[0] == 400


async def test_a_body_over_one_mebibyte_gets_413(weixin: WeChat) -> None:
    request = weixin.sign(weixin.text("帮助"))
    huge = wire.SignedRequest(request.params, b"<xml>" + b" " * (1024 * 1024 + 1) + b"</xml>")
    assert (await weixin.post(huge))[0] == 413


async def test_unknown_types_are_answered_success_and_not_stored(
    weixin: WeChat, settings: Settings
) -> None:
    unknown_message = {**weixin.text("x"), "MsgType": "miniprogrampage"}
    unknown_event = weixin.event("TEMPLATESENDJOBFINISH")
    for fields in (unknown_message, unknown_event):
        status, body = await weixin.post(weixin.sign(fields))
        assert (status, body) == (200, b"success")
    assert stored_messages(settings) == 0


async def test_a_sender_id_containing_cdata_end_cannot_break_the_reply(weixin: WeChat) -> None:
    status, body = await weixin.post(weixin.sign(weixin.text("帮助", openid="o]]><x>evil")))
    assert status == 200
    fields = wire.parse_xml(body)  # still well-formed
    assert fields["ToUserName"] == "o]]><x>evil"


async def test_no_request_a_sender_can_make_yields_a_500(weixin: WeChat) -> None:
    good = weixin.sign(weixin.text("帮助"))
    attempts = [
        ({}, good.body),
        ({**good.params, "timestamp": "abc"}, good.body),
        ({**good.params, "timestamp": "9" * 40}, good.body),
        ({**good.params, "nonce": ""}, good.body),
        ({**good.params, "encrypt_type": "aes"}, good.body),
        ({**good.params, "signature": "é"}, good.body),
    ]
    for params, body in attempts:
        async with weixin.session.post(weixin.url, params=params, data=body) as response:
            assert 400 <= response.status < 500, (params, response.status)
    async with weixin.session.put(weixin.url, data=good.body) as response:
        assert response.status == 405


async def test_openids_and_message_text_never_reach_the_info_log(
    weixin: WeChat, caplog: pytest.LogCaptureFixture, settings: Settings
) -> None:
    caplog.set_level(logging.DEBUG)
    await weixin.send(weixin.text("帮助 my secret tip", openid="o_secret_reporter"))
    await weixin.post(wire.SignedRequest(weixin.sign(weixin.text("x")).params, b"<bad"))
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            message = record.getMessage()
            assert "o_secret_reporter" not in message and "secret tip" not in message


async def test_the_openid_is_stored_only_as_a_pseudonym(weixin: WeChat, settings: Settings
                                                      ) -> None:
    await weixin.send(weixin.text("help", openid="o_reporter_openid_1234"))
    for path in Path(settings.db_path).parent.glob("tipline.db*"):
        assert b"o_reporter_openid_1234" not in path.read_bytes()
    (sender,) = rows(settings.db_path, "SELECT sender FROM inbound")[0]
    assert len(sender) == 32


async def test_healthz_reports_the_database(weixin: WeChat) -> None:
    async with weixin.session.get(weixin.url.replace("/wechat", "/healthz")) as response:
        assert response.status == 200
        assert (await response.json())["database"] == "ok"


async def test_a_retried_subscribe_event_is_welcomed_once(weixin: WeChat, settings: Settings
                                                         ) -> None:
    event = weixin.event("subscribe")
    replies = [await weixin.send(event) for _ in range(3)]
    assert len(set(replies)) == 1
    assert stored_messages(settings) == 1


async def test_a_handler_error_gets_a_polite_reply_and_the_retry_is_handled_again(
    weixin: WeChat, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.server.pipeline

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.server.pipeline, "dispatch", broken)
    message = weixin.text("帮助")
    assert "稍后再试" in await weixin.send(message)
    assert stored_messages(settings) == 0  # not claimed: WeChat's retry gets another go
    monkeypatch.undo()
    assert "使用说明" in await weixin.send(message)
    assert stored_messages(settings) == 1


async def forged_after(weixin: WeChat, first: wire.SignedRequest) -> int:
    """Reuse `first`'s signature, timestamp and nonce with another body, as a forger would."""
    forged = wire.inbound_xml(weixin.text("帮助", openid="o_victim"))
    return (await weixin.post(wire.SignedRequest(first.params, forged.encode())))[0]


@pytest.mark.parametrize(
    "first_body",
    [
        b"<xml><broken>",  # refused with 400 after the signature passed
        b"<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1"
        b"</CreateTime><MsgType>miniprogrampage</MsgType><MsgId>1</MsgId></xml>",  # unknown
    ],
    ids=["after a 400", "after an unknown type"],
)
async def test_a_nonce_is_spent_by_any_verified_request(
    weixin: WeChat, settings: Settings, first_body: bytes
) -> None:
    """Regression (review): the nonce was recorded only for handled messages."""
    first = weixin.sign(weixin.text("x"))
    await weixin.post(wire.SignedRequest(first.params, first_body))
    assert await forged_after(weixin, first) == 403
    assert stored_messages(settings) == 0


async def test_a_nonce_survives_a_handler_error(
    weixin: WeChat, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.server.pipeline

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bot.server.pipeline, "dispatch", broken)
    first = weixin.sign(weixin.text("帮助"))
    await weixin.post(first)
    monkeypatch.undo()
    assert await forged_after(weixin, first) == 403


async def test_the_url_check_spends_its_nonce_too(weixin: WeChat) -> None:
    ts, nonce = str(int(time.time())), "4242"
    params = {"signature": wire.sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
              "echostr": "123"}
    async with weixin.session.get(weixin.url, params=params) as response:
        assert response.status == 200
    params.pop("echostr")
    assert await forged_after(weixin, wire.SignedRequest(params, b"")) == 403


async def test_a_timestamp_from_the_future_is_refused(weixin: WeChat) -> None:
    future = weixin.sign(weixin.text("帮助"), timestamp=int(time.time()) + 301)
    assert (await weixin.post(future))[0] == 403


async def test_two_menu_taps_in_one_second_are_two_events(weixin: WeChat) -> None:
    created = int(time.time())
    help_tap = {**weixin.event("CLICK", key="HELP"), "CreateTime": created}
    report_tap = {**weixin.event("CLICK", key="REPORT"), "CreateTime": created}
    assert "使用说明" in await weixin.send(help_tap)
    assert "举报对象是哪一类" in await weixin.send(report_tap)


async def test_an_overlong_sender_id_is_refused(weixin: WeChat) -> None:
    fields = weixin.text("帮助", openid="o" * 100_000)
    assert (await weixin.post(weixin.sign(fields)))[0] == 400


async def test_a_database_that_cannot_be_written_answers_503_so_wechat_retries(
    weixin: WeChat, settings: Settings
) -> None:
    """Regression (review): a failed batch answered 200 "try again" and lost the message."""
    import sqlite3

    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock past the busy timeout
    try:
        status, _ = await weixin.post(weixin.sign(weixin.text("帮助")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status == 503
    assert stored_messages(settings) == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_what_its_content_encoding_says_is_a_400(
    weixin: WeChat, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (hardening 3): an uncompressed body sent as gzip or deflate answered 500."""
    request = weixin.sign(weixin.text("帮助"))
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session, session.post(
            weixin.url, params=request.params, data=request.body,
            headers={"Content-Encoding": encoding}) as response:
        assert response.status == 400
    assert "body cannot be read" in caplog.text


async def test_an_unexpected_error_in_the_request_path_is_logged_with_its_traceback(
    weixin: WeChat, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (hardening 3): aiohttp.server was silenced, and the error with it."""
    from bot.server import gate

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gate.Intake, "open", broken)
    status, _ = await weixin.post(weixin.sign(weixin.text("帮助")))
    assert status == 500
    assert "unexpected error answering POST /wechat" in caplog.text
    assert "RuntimeError: a bug" in caplog.text
    assert "openid" not in caplog.text.lower()


async def test_the_access_log_writes_the_raw_path_so_a_newline_cannot_forge_a_line(
    weixin: WeChat, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (hardening 14): `--access-log` wrote the decoded path (%0A, a new line)."""
    import logging

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        async with weixin.session.get(
                weixin.url.replace("/wechat", "/wechat%0A2026-12-04%20INFO%20forged%1b[2J"),
                params={"openid": "o_secret_openid"}) as response:
            await response.read()
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert lines and all("\n" not in line and "\x1b" not in line for line in lines)
    assert any("/wechat%0A2026-12-04%20INFO%20forged" in line for line in lines)
    assert "o_secret_openid" not in caplog.text


WECHATPY_MESSAGES = sorted((ROOT / "tests" / "corpus" / "wechatpy_messages").glob("*.xml"))


@pytest.mark.parametrize("path", WECHATPY_MESSAGES, ids=lambda p: p.stem)
async def test_every_message_and_event_wechat_documents_is_answered(
    weixin: WeChat, path: Path
) -> None:
    """Regression (issue 18, item 4): repeated elements (two beacons, two photos, two
    articles) were a 400 and WeChat retried; wechatpy's own fixtures of every type."""
    body = path.read_text(encoding="utf-8")
    request = wire.sign_request(TOKEN, body, openid="fromUser", nonce=f"wx-{path.stem}")
    status, answer = await weixin.post(request)
    assert status == 200, answer
    assert answer == b"success" or answer.startswith(b"<xml>")
