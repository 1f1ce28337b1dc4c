"""The HTTP side: GET /wechat (echostr), POST /wechat (messages), GET /healthz.

A worker reads the body within its size limit and has the engine (bot/engine.py) do the
rest, top to bottom: verify → decrypt → parse → claim → state → handler → store →
render → encrypt. Keeping the worker this thin is what leaves it fast (see engine.py).
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

from aiohttp import web

from bot import wechat
from bot.config import Settings
from bot.engine import Answer, Delivery, check_timestamp, refusal
from bot.engine_link import EngineLink, EngineUnavailable
from bot.errors import BadRequest, Forbidden, WebhookError

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
_ECHOSTR = re.compile(r"[A-Za-z0-9_\-+/=]{1,512}")


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the request path needs, built once at start-up."""

    settings: Settings
    engine: EngineLink


WEBHOOK = web.AppKey("webhook", Webhook)


async def verify_url(request: web.Request) -> web.Response:
    """Answer WeChat's URL check: echo `echostr` when the signature is right."""
    settings = request.app[WEBHOOK].settings
    q = request.query
    try:
        check_timestamp(q.get("timestamp", ""), int(time.time()),
                        settings.wechat_timestamp_tolerance)
        if not wechat.signature_ok(q.get("signature", ""), settings.wechat_token,
                                   q.get("timestamp", ""), q.get("nonce", "")):
            raise Forbidden("signature does not match")
        echostr = q.get("echostr", "")
        if not _ECHOSTR.fullmatch(echostr):
            raise BadRequest("echostr is missing or malformed")
    except WebhookError as error:
        return _response(refusal(error))
    return web.Response(text=echostr, content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    """Forward one message to the engine and return its answer."""
    body = await _read_body(request)
    delivery = Delivery(request.query_string, body, int(time.time()))
    try:
        return _response(await request.app[WEBHOOK].engine.answer(delivery))
    except EngineUnavailable:
        # Nothing was answered, so nothing is lost: WeChat retries, and a retry of a
        # message the engine did commit gets the stored reply.
        log.error("the engine is unavailable; answering 503")
        return web.Response(status=503, text="try again")


async def healthz(request: web.Request) -> web.Response:
    """Report whether the engine's database commits, and which worker answered."""
    engine_pid = None
    try:
        status, body, _ = await request.app[WEBHOOK].engine.ping()
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
