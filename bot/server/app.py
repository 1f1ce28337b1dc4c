"""The aiohttp application factory: routes, and the link to the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from bot.config import Settings
from bot.server.engine import EngineThread
from bot.server.gate import Intake
from bot.server.link import EngineLink
from bot.server.webhook import (
    MAX_BODY,
    WEBHOOK,
    Webhook,
    healthz,
    receive,
    unexpected_errors,
    verify_url,
)
from bot.wechat.fetcher import Schedule, fetcher_ctx
from bot.wechat.notifier import notifier_ctx


def init_app(settings: Settings, engine_socket: Path | None = None,
             fetch: Schedule | None = None) -> web.Application:
    """Build the webhook application; without `engine_socket` it runs its own engine.

    With API credentials the application also runs a media fetcher (see bot.wechat.fetcher).
    """
    app = web.Application(client_max_size=MAX_BODY, middlewares=[unexpected_errors])
    app.cleanup_ctx.append(_engine_ctx(settings, engine_socket))
    if settings.api_enabled:
        app.cleanup_ctx.append(fetcher_ctx(settings, fetch or Schedule()))
        if settings.contact_key:  # without it no OpenID is kept: replies carry the news
            app.cleanup_ctx.append(notifier_ctx(settings))
    app.router.add_get("/wechat", verify_url)
    app.router.add_post("/wechat", receive)
    app.router.add_get("/healthz", healthz)
    return app


def _engine_ctx(
    settings: Settings, engine_socket: Path | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def engine_ctx(app: web.Application) -> AsyncIterator[None]:
        own = None
        socket = engine_socket
        if socket is None:  # tests and embedding: an engine on a thread of this process
            own = EngineThread(settings)
            await asyncio.to_thread(own.start)
            socket = own.path
        link = EngineLink(socket)
        await link.connect()
        app[WEBHOOK] = Webhook(Intake(settings), link)
        try:
            yield
        finally:
            await link.close()
            if own is not None:
                await asyncio.to_thread(own.stop)

    return engine_ctx
