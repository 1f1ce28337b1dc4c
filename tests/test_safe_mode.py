"""Safe and compatible mode: msg_signature, AES, Tencent's own test vector."""

from __future__ import annotations

import dataclasses
import time

from bot.config import Settings
from bot.wechat import wire
from tests.conftest import AES_KEY, APP_ID, WeChat, make_wechat, rows

# Tencent's sample (WXBizMsgCrypt demo, also in wechatpy's tests): compatible mode, so the
# plaintext fields travel beside Encrypt.
VECTOR_PARAMS = {
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "encrypt_type": "aes",
}
VECTOR_BODY = (
    b"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    b"<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    b"<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    b"<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    b"<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPX"
    b"o87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41"
    b"IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4k"
    b"w6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYY"
    b"I1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9G"
    b"hglF2PE=]]></Encrypt></xml>"
)


def test_tencents_test_vector_decrypts_to_its_text_message() -> None:
    crypto = wire.Crypto("spamtest", AES_KEY, APP_ID)
    fields = wire.parse_xml(VECTOR_BODY)
    inner = wire.parse_xml(crypto.open(fields, VECTOR_PARAMS["msg_signature"],
                                         VECTOR_PARAMS["timestamp"], VECTOR_PARAMS["nonce"]))
    assert inner["Content"] == "abcdteT"
    assert inner["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


async def test_tencents_test_vector_is_accepted_over_http_and_answered_encrypted(
    safe_settings: Settings,
) -> None:
    vector = dataclasses.replace(safe_settings, wechat_token="spamtest",
                                 wechat_timestamp_tolerance=0)
    async for weixin in make_wechat(vector)():
        status, body = await weixin.post(wire.SignedRequest(dict(VECTOR_PARAMS), VECTOR_BODY))
        assert status == 200
        assert b"abcdteT" not in body and b"<Encrypt>" in body
        crypto = wire.Crypto("spamtest", AES_KEY, APP_ID)
        reply = wire.parse_xml(wire.open_reply(crypto, body))
        assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
        # "abcdteT" is Latin script, so the fallback is in English (issue 19, item 5).
        assert "report" in reply["Content"]


async def test_a_safe_mode_conversation_is_encrypted_both_ways(safe_weixin: WeChat) -> None:
    request = safe_weixin.sign(safe_weixin.text("帮助"))
    assert b"\xe5\xb8\xae" not in request.body  # the word 帮助 is not on the wire
    status, body = await safe_weixin.post(request)
    assert status == 200 and b"<Encrypt>" in body
    assert "使用说明" in wire.parse_xml(wire.open_reply(safe_weixin.crypto, body))[  # type: ignore[arg-type]
        "Content"]


async def test_a_wrong_msg_signature_is_refused_and_nothing_is_stored(
    safe_weixin: WeChat, safe_settings: Settings
) -> None:
    request = safe_weixin.sign(safe_weixin.text("帮助"))
    request.params["msg_signature"] = "f" * 40
    assert (await safe_weixin.post(request))[0] == 403
    assert rows(safe_settings.db_path, "SELECT count(*) FROM inbound") == [(0,)]
    assert rows(safe_settings.db_path, "SELECT count(*) FROM nonces") == [(0,)]


async def test_a_forger_cannot_spend_the_nonce_of_wechats_own_request(
    safe_weixin: WeChat, safe_settings: Settings
) -> None:
    """Regression (review): an unverified safe-mode request spent its nonce, so WeChat's
    genuine request with that timestamp and nonce was refused, and so were its retries."""
    genuine = safe_weixin.sign(safe_weixin.text("帮助"))
    for forged_body in (b"<xml><Encrypt>AAAA</Encrypt></xml>", b"<xml><broken>", b"<xml/>"):
        forged = {**genuine.params, "msg_signature": "f" * 40}
        assert (await safe_weixin.post(wire.SignedRequest(forged, forged_body)))[0] in (400, 403)
    assert rows(safe_settings.db_path, "SELECT count(*) FROM nonces") == [(0,)]
    status, body = await safe_weixin.post(genuine)
    assert status == 200 and b"<Encrypt>" in body


async def test_a_correctly_signed_garbage_payload_gets_400(safe_weixin: WeChat) -> None:
    for garbage in ("AAAA", "not base64!", "aGVsbG8gd29ybGQ=", "A" * 64):
        request = safe_weixin.sign(safe_weixin.text("x"))
        ts, nonce = request.params["timestamp"], request.params["nonce"]
        request.params["msg_signature"] = wire.sign("tiplinetest", ts, nonce, garbage)
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{garbage}</Encrypt></xml>".encode()
        assert (await safe_weixin.post(wire.SignedRequest(request.params, body)))[0] == 400


async def test_compatible_mode_trusts_only_the_decrypted_payload(safe_weixin: WeChat) -> None:
    """The plaintext copy says 帮助 (Chinese); the encrypted one says help (English)."""
    request = safe_weixin.sign(safe_weixin.text("help"))
    fields = wire.parse_xml(request.body)
    tampered = wire.inbound_xml({**safe_weixin.text("帮助"), "Encrypt": fields["Encrypt"]})
    status, body = await safe_weixin.post(wire.SignedRequest(request.params, tampered.encode()))
    assert status == 200
    reply = wire.parse_xml(wire.open_reply(safe_weixin.crypto, body))  # type: ignore[arg-type]
    assert "How to use" in reply["Content"]


async def test_an_encrypted_request_without_a_configured_key_gets_400(
    weixin: WeChat, safe_settings: Settings
) -> None:
    crypto = wire.Crypto("tiplinetest", AES_KEY, APP_ID)
    request = wire.sign_request("tiplinetest", wire.inbound_xml(weixin.text("帮助")),
                                  openid="o_alice", crypto=crypto)
    assert (await weixin.post(request))[0] == 400


async def test_a_safe_mode_request_stripped_of_its_encryption_is_refused(
    safe_weixin: WeChat, safe_settings: Settings
) -> None:
    """Regression (review): a captured safe-mode request also carries `signature`."""
    captured = safe_weixin.sign(safe_weixin.text("帮助"))
    params = {k: v for k, v in captured.params.items()
              if k not in ("encrypt_type", "msg_signature")}
    forged = wire.inbound_xml(safe_weixin.text("a body of the attacker's choosing"))
    assert (await safe_weixin.post(wire.SignedRequest(params, forged.encode())))[0] == 403
    assert rows(safe_settings.db_path, "SELECT count(*) FROM inbound") == [(0,)]


async def test_two_genuine_safe_mode_messages_sharing_a_second_and_a_nonce_are_both_kept(
    safe_weixin: WeChat, safe_settings: Settings
) -> None:
    """Regression (issue 18, item 16): the replay cache was keyed by (timestamp, nonce), so
    the second of two genuine messages that happened to share both was refused. In safe
    mode msg_signature covers the encrypted payload: it is the key."""
    stamp = {"timestamp": int(time.time()), "nonce": "424242"}
    alice = safe_weixin.sign(safe_weixin.text("帮助", openid="o_alice"), **stamp)
    bob = safe_weixin.sign(safe_weixin.text("帮助", openid="o_bob"), **stamp)
    assert (await safe_weixin.post(alice))[0] == 200
    assert (await safe_weixin.post(bob))[0] == 200
    assert rows(safe_settings.db_path, "SELECT count(*) FROM inbound") == [(2,)]
    # WeChat's own retry of the same request is answered again and stored once.
    assert (await safe_weixin.post(alice))[0] == 200
    assert rows(safe_settings.db_path, "SELECT count(*) FROM inbound") == [(2,)]


async def test_in_plaintext_mode_one_nonce_still_carries_one_body_only(
    weixin: WeChat, settings: Settings
) -> None:
    """The plaintext signature does not cover the body: two bodies on one (timestamp, nonce)
    must stay refused, whoever they claim to come from."""
    stamp = {"timestamp": int(time.time()), "nonce": "424242"}
    assert (await weixin.post(weixin.sign(weixin.text("帮助", openid="o_alice"), **stamp)))[0] \
        == 200
    assert (await weixin.post(weixin.sign(weixin.text("帮助", openid="o_bob"), **stamp)))[0] \
        == 403
