"""The aiohttp application factory: routes, the database writer, housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from bot import wechat
from bot.config import Settings
from bot.pipeline import housekeeping
from bot.pseudonym import pseudonymiser
from bot.webhook import MAX_BODY, WEBHOOK, Webhook, healthz, receive, verify_url
from db.writer import Writer

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60.0
# With the timestamp check off, nonces are still remembered this long.
DEFAULT_NONCE_WINDOW = 300


def init_app(settings: Settings) -> web.Application:
    """Build the webhook application for `settings`."""
    app = web.Application(client_max_size=MAX_BODY)
    app.cleanup_ctx.append(_webhook_ctx(settings))
    app.router.add_get("/wechat", verify_url)
    app.router.add_post("/wechat", receive)
    app.router.add_get("/healthz", healthz)
    return app


def _webhook_ctx(settings: Settings):  # type: ignore[no-untyped-def]
    async def webhook_ctx(app: web.Application) -> AsyncIterator[None]:
        writer = Writer(settings.db_path)
        await writer.start()
        crypto = None
        if settings.safe_mode:
            crypto = wechat.Crypto(
                settings.wechat_token, settings.wechat_encoding_aes_key, settings.wechat_app_id
            )
        app[WEBHOOK] = Webhook(settings, writer, crypto, pseudonymiser(settings.secret_key))
        keeper = asyncio.create_task(_housekeep(writer, settings))
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await writer.close()

    return webhook_ctx


async def _housekeep(writer: Writer, settings: Settings) -> None:
    window = settings.wechat_timestamp_tolerance or DEFAULT_NONCE_WINDOW
    while True:
        try:
            await writer.run(housekeeping, int(time.time()), window)
        except Exception:
            log.exception("housekeeping failed")
        await asyncio.sleep(HOUSEKEEPING_EVERY)
