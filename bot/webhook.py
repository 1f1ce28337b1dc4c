"""The HTTP side: GET /wechat (echostr), POST /wechat (messages), GET /healthz.

A worker reads the body within its size limit and has the engine (bot/engine.py) do the
rest, top to bottom: verify → decrypt → parse → claim → state → handler → store →
render → encrypt. Keeping the worker this thin is what leaves it fast (see engine.py).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from bot import wechat
from bot.config import Settings
from bot.engine import Answer, Delivery, check_timestamp, refusal
from bot.engine_link import EngineLink, EngineUnavailable
from bot.errors import Forbidden, WebhookError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
HEALTH_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the request path needs, built once at start-up."""

    settings: Settings
    engine: EngineLink


WEBHOOK = web.AppKey("webhook", Webhook)


async def verify_url(request: web.Request) -> web.Response:
    """Answer WeChat's URL check: the engine echoes `echostr` when the signature is right."""
    return await _forward(request, b"", "GET")


async def receive(request: web.Request) -> web.Response:
    """Forward one message to the engine and return its answer."""
    return await _forward(request, await _read_body(request), "POST")


async def _forward(request: web.Request, body: bytes, method: str) -> web.Response:
    hook = request.app[WEBHOOK]
    now = int(time.time())
    try:
        _precheck(hook.settings, wechat.query_fields(request.rel_url.raw_query_string), now)
    except WebhookError as error:
        return _response(refusal(error))
    # The raw query: decoding it is the engine's job, and it must happen exactly once.
    delivery = Delivery(request.rel_url.raw_query_string, body, now, method)
    try:
        return _response(await hook.engine.answer(delivery))
    except EngineUnavailable:
        # Nothing was answered, so nothing is lost: WeChat retries, and a retry of a
        # message the engine did commit gets the stored reply.
        log.error("the engine is unavailable; answering 503")
        return web.Response(status=503, text="try again")


def _precheck(settings: Settings, q: Mapping[str, str], now: int) -> None:
    """Refuse here what the query string alone disproves, so forgeries never queue up.

    The engine checks everything again (and records the nonce): this is only a filter.
    """
    raw_ts = q.get("timestamp", "")
    check_timestamp(raw_ts, now, settings.wechat_timestamp_tolerance)
    if q.get("encrypt_type", "").lower() != "aes" and not wechat.signature_ok(
        q.get("signature", ""), settings.wechat_token, raw_ts, q.get("nonce", "")
    ):
        raise Forbidden("signature does not match")


async def healthz(request: web.Request) -> web.Response:
    """Report whether the engine's database commits, and which worker answered."""
    engine_pid = None
    try:
        status, body, _ = await request.app[WEBHOOK].engine.ping(timeout=HEALTH_SECONDS)
        engine_pid = int(body)
    except EngineUnavailable:
        status = 503
    ok = status == 200
    return web.json_response(
        {"status": "ok" if ok else "error", "database": "ok" if ok else "unavailable",
         "pid": os.getpid(), "engine_pid": engine_pid},
        status=200 if ok else 503,
    )


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY,
                                            actual_size=request.content_length)
    return await request.read()  # client_max_size refuses longer chunked bodies with 413


def _response(answer: Answer) -> web.Response:
    status, body, content_type = answer
    return web.Response(status=status, body=body, content_type=content_type)
