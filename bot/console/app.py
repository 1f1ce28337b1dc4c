"""The console's aiohttp application: routes in one list, the middlewares, start and stop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot.config import Settings
from bot.console import auth, pages
from bot.console.web import CONSOLE, Console, Pool, templates
from db import console as accounts_db
from triage import accounts

STATIC = Path(__file__).with_name("static")
PRUNE_EVERY = 600  # seconds
log = logging.getLogger(__name__)

async def _style(request: web.Request) -> web.StreamResponse:
    """The style sheet (the only static file)."""
    return web.FileResponse(STATIC / "console.css")


ROUTES = [
    web.get("/login", auth.login_page),
    web.post("/login", auth.login),
    web.post("/logout", auth.logout),
    web.post("/lang", auth.switch_lang),
    web.get("/", pages.triage_page),
    web.get("/reports/{receipt}", pages.report_page),
    web.post("/reports/{receipt}", pages.update_report),
    web.get(r"/entities/{kind}/{value:.+}", pages.entity_page),
    web.get("/evidence/{sha256}", pages.evidence_file),
    web.get("/search", pages.search),
    web.get("/assigned", pages.assigned),
    web.get("/audit", pages.audit_page),
    web.get("/export", pages.export_page),
    web.post("/export", pages.export_csv),
    web.get("/static/console.css", _style),
]


def init_console(settings: Settings) -> web.Application:
    """Build the console application over the settings' database."""
    app = web.Application(middlewares=[auth.security_headers, auth.same_site_only,
                                       auth.signed_in], client_max_size=64 * 1024)
    app.router.add_routes(ROUTES)
    app.cleanup_ctx.append(_console_ctx(settings))
    return app


def _console_ctx(settings: Settings):  # type: ignore[no-untyped-def]
    async def console_ctx(app: web.Application) -> AsyncIterator[None]:
        secure = settings.console_secure_cookie
        pool = Pool(settings.db_path)
        # __Host-: the browser keeps it only if Secure, for this host, with Path=/.
        cookie = "__Host-tipline" if secure else "tipline"
        app[CONSOLE] = Console(settings, pool, templates(), cookie, secure)
        pruning = asyncio.create_task(_prune_forever(pool))
        try:
            yield
        finally:
            pruning.cancel()
            await asyncio.gather(pruning, return_exceptions=True)
            pool.close()

    return console_ctx


async def _prune_forever(pool: Pool) -> None:
    """Forget expired sessions and old login failures: at start, then every few minutes."""
    while True:
        try:
            await pool.run(accounts_db.prune_sessions,
                           int(time.time()) - accounts.ABSOLUTE_SECONDS)
        except Exception:  # a busy database: the next round tries again
            log.exception("console: pruning sessions failed")
        await asyncio.sleep(PRUNE_EVERY)


def run_console(settings: Settings) -> None:
    """Serve the console until SIGTERM or Ctrl-C."""
    web.run_app(init_console(settings), host=settings.console_host,
                port=settings.console_port, access_log=None, print=None)
