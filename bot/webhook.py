"""The webhook: GET /wechat (echostr), POST /wechat (messages), GET /healthz.

The request path reads top to bottom in `receive`: verify → decrypt → parse →
[nonce → claim → state → handler → store, one durable transaction] → render → encrypt.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot import wechat
from bot.config import Settings
from bot.errors import BadRequest, Forbidden, WebhookError
from bot.pipeline import Stamp, process
from db.writer import Writer
from handlers.texts import text

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
_ECHOSTR = re.compile(r"[A-Za-z0-9_\-+/=]{1,512}")
_XML = "application/xml"


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the request path needs, built once at start-up."""

    settings: Settings
    writer: Writer
    crypto: wechat.Crypto | None
    pseudonymise: Callable[[str], str]


WEBHOOK = web.AppKey("webhook", Webhook)


def check_timestamp(raw: str, now: int, tolerance: int) -> int:
    """Return the request's timestamp, refusing one outside the tolerance window."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Forbidden("timestamp is missing or not a number")
    timestamp = int(raw)
    if tolerance and abs(now - timestamp) > tolerance:
        raise Forbidden("timestamp outside the allowed window")
    return timestamp


async def verify_url(request: web.Request) -> web.Response:
    """Answer WeChat's URL check: echo `echostr` when the signature is right."""
    hook = request.app[WEBHOOK]
    q = request.query
    try:
        check_timestamp(q.get("timestamp", ""), int(time.time()),
                        hook.settings.wechat_timestamp_tolerance)
        if not wechat.signature_ok(q.get("signature", ""), hook.settings.wechat_token,
                                   q.get("timestamp", ""), q.get("nonce", "")):
            raise Forbidden("signature does not match")
        echostr = q.get("echostr", "")
        if not _ECHOSTR.fullmatch(echostr):
            raise BadRequest("echostr is missing or malformed")
    except WebhookError as error:
        return _refusal(error)
    return web.Response(text=echostr, content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    """Take one message from WeChat and answer it, exactly once."""
    hook = request.app[WEBHOOK]
    settings = hook.settings
    q = request.query
    now = int(time.time())
    envelope: wechat.Envelope | None = None
    try:
        raw_ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = q.get("encrypt_type", "raw").lower() == "aes"
        if not encrypted and not wechat.signature_ok(
            q.get("signature", ""), settings.wechat_token, raw_ts, nonce
        ):
            raise Forbidden("signature does not match")
        timestamp = check_timestamp(raw_ts, now, settings.wechat_timestamp_tolerance)
        if not nonce or len(nonce) > 64:
            raise Forbidden("nonce is missing or too long")
        body = await _read_body(request)
        fields = wechat.parse_xml(body)
        if encrypted:
            if hook.crypto is None:
                raise BadRequest("encrypted request, but WECHAT_ENCODING_AES_KEY is not set")
            # Compatible mode also sends plaintext fields: only the decrypted payload counts.
            fields = wechat.parse_xml(
                hook.crypto.open(fields, q.get("msg_signature", ""), raw_ts, nonce)
            )
        parsed = wechat.to_inbound(fields, hook.pseudonymise)
        if parsed is None:
            return web.Response(text="success")  # a type we do not handle: no reply
        envelope, inbound = parsed
        stamp = Stamp(timestamp, nonce, hashlib.sha256(body).digest())
        reply = await hook.writer.run(process, inbound, stamp, now, settings.lang)
    except WebhookError as error:
        return _refusal(error)
    except web.HTTPException:  # 413 from the body limit
        raise
    except Exception:
        log.exception("unexpected error while handling a message")
        if envelope is None:
            return web.Response(status=400, text="bad request")
        reply = text(settings.lang, "error")
    if not reply:
        return web.Response(text="success")
    xml = wechat.render_text(envelope, reply, now)
    if encrypted and hook.crypto is not None:
        xml = hook.crypto.seal(xml, nonce, raw_ts)
    return web.Response(text=xml, content_type=_XML)


async def healthz(request: web.Request) -> web.Response:
    """Report whether the database writer commits."""
    hook = request.app[WEBHOOK]
    try:
        await hook.writer.run(lambda db: db.execute("SELECT 1").fetchone())
    except Exception:
        log.exception("health check failed")
        return web.json_response({"status": "error", "database": "unavailable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "pid": os.getpid()})


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                            actual_size=request.content_length)
    return await request.read()  # client_max_size refuses longer chunked bodies with 413


def _refusal(error: WebhookError) -> web.Response:
    # Why a request was refused is useful to the operator, never to the sender.
    log.warning("refused a request (%d): %s", error.status, error)
    reason = "forbidden" if isinstance(error, Forbidden) else "bad request"
    return web.Response(status=error.status, text=reason)
