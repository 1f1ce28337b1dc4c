"""The HTTP side: GET /wechat (echostr), POST /wechat (messages), GET /healthz.

A worker reads the body within its size limit, verifies, decrypts and parses it
(bot/server/gate.py), has the engine (bot/server/engine.py) run the message against the database,
and renders (and encrypts) the reply: only the middle step is serial across workers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from bot.server.gate import Intake
from bot.server.link import EngineLink, EngineUnavailable
from bot.server.protocol import Answer, Refusal

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
# A body not complete this long after its headers is refused: WeChat gives up at 5 s,
# and a slow sender must not hold a connection (and a file descriptor) for minutes.
BODY_SECONDS = 3.0
HEALTH_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Webhook:
    """What the request path needs, built once at start-up."""

    intake: Intake
    engine: EngineLink


WEBHOOK = web.AppKey("webhook", Webhook)


async def verify_url(request: web.Request) -> web.Response:
    """Answer WeChat's URL check: echo `echostr` when the signature is right (nonce spent)."""
    return await _forward(request, b"", "GET")


async def receive(request: web.Request) -> web.Response:
    """Forward one message to the engine and return its answer."""
    try:
        async with asyncio.timeout(BODY_SECONDS):
            body = await _read_body(request)
    except TimeoutError:
        log.warning("refused a request (408): its body took over %.0f s", BODY_SECONDS)
        slow = web.Response(status=408, text="request timeout")
        slow.force_close()  # the rest of that body is not waited for
        return slow
    return await _forward(request, body, "POST")


async def _forward(request: web.Request, body: bytes, method: str) -> web.Response:
    hook = request.app[WEBHOOK]
    opened = hook.intake.open(request.rel_url.raw_query_string, body, int(time.time()), method)
    if isinstance(opened, Refusal):
        return _response(opened.answer)  # forgeries never reach the engine
    try:
        verdict = await hook.engine.answer(opened.ticket)
    except EngineUnavailable:
        # Nothing was answered, so nothing is lost: WeChat retries, and a retry of a
        # message the engine did commit gets the stored reply.
        log.error("the engine is unavailable; answering 503")
        return web.Response(status=503, text="try again")
    return _response(hook.intake.render(opened, verdict))


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
    try:
        return await request.read()  # client_max_size refuses longer chunked bodies with 413
    except (RequestPayloadError, HttpProcessingError) as error:
        # A body that is not what its Content-Encoding says (gzip that is not gzip): the
        # sender's fault, before any signature could be checked.
        log.warning("refused a request (400): its body cannot be read (%s)",
                    type(error).__name__)
        raise web.HTTPBadRequest(text="bad request") from None


@web.middleware
async def unexpected_errors(request: web.Request,
                            handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                            ) -> web.StreamResponse:
    """Log any unexpected error with its traceback (the path only: the query has OpenIDs).

    aiohttp's own request log stays silenced, for it logs the query string.
    """
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return web.Response(status=500, text="try again")


def _response(answer: Answer) -> web.Response:
    return web.Response(status=answer.status, body=answer.body,
                        content_type=answer.content_type)
