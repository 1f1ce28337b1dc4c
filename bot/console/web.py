"""What every console request shares: the database pool, templates, the signed-in user.

Database work runs on a small thread pool, one connection per thread (SQLite in WAL
mode: readers never wait for the webhook's writer), so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.config import Settings
from bot.console.texts import words
from db.connection import Database, connect
from db.console import Session
from triage import views

T = TypeVar("T")
THREADS = 4
TEMPLATES = Path(__file__).with_name("templates")


class Pool:
    """Runs database functions on worker threads, each with its own connection."""

    def __init__(self, path: Path, threads: int = THREADS) -> None:
        self.path = path
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=threads,
                                            thread_name_prefix="tipline-console-db")
        self._connections: list[Database] = []
        self._lock = threading.Lock()

    def _db(self) -> Database:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(db, *args)` on a pool thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._db(), *args))

    def close(self) -> None:
        """Stop the threads and close their connections."""
        self._executor.shutdown(wait=True)
        for db in self._connections:
            db.close()


@dataclass(frozen=True, slots=True)
class Console:
    """What the console's handlers need, built once at start-up."""

    settings: Settings
    pool: Pool
    templates: jinja2.Environment
    cookie: str  # the session cookie's name
    secure: bool


CONSOLE = web.AppKey("console", Console)
# The signed-in session, or None.
SESSION: web.RequestKey[Session | None] = web.RequestKey("session")


def templates() -> jinja2.Environment:
    """The templates, autoescaping everything (reporter text is never marked safe)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(iso=views.iso, short=views.short, receipt=views.display_receipt,
                       defang=views.defang, size=views.human_size, segment=segment)
    return env


def segment(value: object) -> str:
    """A value as one path segment: its slashes and dots cannot climb out of the path."""
    return quote(str(value), safe="")


def local_path(back: str) -> str:
    """Where a form may send the user back to: a path on this site, else the start page.

    Browsers read a backslash as a slash, so "/\\evil.example" would leave the site.
    """
    ok = back.startswith("/") and not back.startswith("//") and "\\" not in back \
        and back.isprintable()
    return back if ok else "/"


def render(request: web.Request, template: str, status: int = 200, **context: Any
           ) -> web.Response:
    """A page from a template, in the session's language."""
    console = request.app[CONSOLE]
    session = request.get(SESSION)
    lang = session.lang if session is not None else "zh"
    html = console.templates.get_template(template).render(
        t=words(lang), lang=lang, session=session, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def address(request: web.Request) -> str:
    """Where a request came from (the peer; behind nginx, nginx's X-Real-IP)."""
    peer = request.remote or ""
    if peer in ("127.0.0.1", "::1"):
        return request.headers.get("X-Real-IP", peer)[:64]
    return peer
