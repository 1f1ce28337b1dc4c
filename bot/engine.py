"""The engine: the one process that owns the database and runs the conversation.

HTTP workers (bot/webhook.py) check what the query string alone can prove and forward
each request here over a Unix socket. The engine takes whatever has arrived as one batch
and, for each request, in order:

    decrypt → parse → [nonce → claim → state → handler → store] → render → encrypt

where the bracket of every message of the batch is one durable transaction
(db/batch.py). Answers go back only after that commit returned.

Why a process of its own: Python runs one thread at a time, and the HTTP side alone
costs as much CPU as a hello-world server. Parsing, SQLite and the conversation moved
here run on the second core; the HTTP workers stay thin. One writer per database also
means workers never fight over SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from bot import frames, wechat
from bot.config import Settings
from bot.errors import BadRequest, WebhookError
from bot.pipeline import Stamp, housekeeping, process
from bot.pseudonym import pseudonymiser
from db.batch import Job, Outcome, run_batch
from db.connection import connect
from db.migrations import migrate
from handlers.texts import text

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60
# With the timestamp check off, nonces are still remembered this long.
DEFAULT_NONCE_WINDOW = 300
# Frame kinds: a message to answer, or a health check.
MESSAGE, PING = "m", "p"

XML = "application/xml"
PLAIN = "text/plain"
# (HTTP status, body, content type)
Answer = tuple[int, str, str]
SUCCESS: Answer = (200, "success", PLAIN)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST /wechat as the worker received it (signature and timestamp checked)."""

    timestamp: int
    raw_timestamp: str
    nonce: str
    encrypted: bool
    msg_signature: str
    body: bytes
    now: int


@dataclass(slots=True)
class _Prepared:
    """A delivery parsed into a message, waiting for its transaction."""

    envelope: wechat.Envelope
    job: Job
    delivery: Delivery


class Engine:
    """Answers batches of deliveries against one database."""

    def __init__(self, settings: Settings, db: sqlite_utils.Database) -> None:
        self.settings = settings
        self.db = db
        self.crypto = (
            wechat.Crypto(settings.wechat_token, settings.wechat_encoding_aes_key,
                          settings.wechat_app_id)
            if settings.safe_mode else None
        )
        self.pseudonymise = pseudonymiser(settings.secret_key)
        self._housekept = 0.0

    @classmethod
    def open(cls, settings: Settings) -> Engine:
        """Open the database (applying migrations) and build the engine."""
        db = connect(settings.db_path)
        migrate(db)
        return cls(settings, db)

    def answer_batch(self, deliveries: list[Delivery]) -> list[Answer]:
        """Answer deliveries in order; their effects commit together before this returns."""
        prepared = [self._prepare(delivery) for delivery in deliveries]
        jobs = [item.job for item in prepared if isinstance(item, _Prepared)]
        outcomes = iter(run_batch(self.db, jobs) if jobs else [])
        return [
            self._finish(item, next(outcomes)) if isinstance(item, _Prepared) else item
            for item in prepared
        ]

    def ping(self) -> Answer:
        """Prove the database takes a write transaction."""
        (ok, _), = run_batch(self.db, [lambda db: db.execute("SELECT 1").fetchone()])
        return (200, "ok", PLAIN) if ok else (503, "database unavailable", PLAIN)

    def housekeep(self, now: float) -> None:
        """Forget old nonces and claims, at most once a minute."""
        if now - self._housekept < HOUSEKEEPING_EVERY:
            return
        self._housekept = now
        window = self.settings.wechat_timestamp_tolerance or DEFAULT_NONCE_WINDOW
        run_batch(self.db, [functools.partial(housekeeping, now=int(now), nonce_window=window)])

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def _prepare(self, delivery: Delivery) -> _Prepared | Answer:
        """Decrypt and parse a delivery, or answer it at once (refusal, unknown type)."""
        try:
            fields = wechat.parse_xml(delivery.body)
            if delivery.encrypted:
                if self.crypto is None:
                    raise BadRequest("encrypted request, but WECHAT_ENCODING_AES_KEY is not set")
                # Compatible mode also sends plaintext fields: only the decrypted payload counts.
                fields = wechat.parse_xml(self.crypto.open(
                    fields, delivery.msg_signature, delivery.raw_timestamp, delivery.nonce))
            parsed = wechat.to_inbound(fields, self.pseudonymise)
        except WebhookError as error:
            return refusal(error)
        if parsed is None:
            return SUCCESS  # a type we do not handle: no reply, nothing stored
        envelope, inbound = parsed
        stamp = Stamp(delivery.timestamp, delivery.nonce,
                      hashlib.sha256(delivery.body).digest())
        job = functools.partial(process, inbound=inbound, stamp=stamp, now=delivery.now,
                                default_lang=self.settings.lang)
        return _Prepared(envelope, job, delivery)

    def _finish(self, item: _Prepared, outcome: Outcome) -> Answer:
        """Render (and encrypt) the reply of a committed message."""
        ok, value = outcome
        if not ok:
            if isinstance(value, WebhookError):
                return refusal(value)
            log.error("a message could not be handled", exc_info=value)
            value = text(self.settings.lang, "error")
        if not value:
            return SUCCESS
        delivery = item.delivery
        xml = wechat.render_text(item.envelope, str(value), delivery.now)
        if delivery.encrypted and self.crypto is not None:
            xml = self.crypto.seal(xml, delivery.nonce, delivery.raw_timestamp)
        return 200, xml, XML


def refusal(error: WebhookError) -> Answer:
    """The answer to a refused request: why goes to the operator's log, not the sender."""
    log.warning("refused a request (%d): %s", error.status, error)
    return error.status, "forbidden" if error.status == 403 else "bad request", PLAIN


async def serve_engine(engine: Engine, path: Path, stop: asyncio.Event) -> None:
    """Answer workers on the Unix socket at `path` until `stop` is set."""
    pending: list[tuple[asyncio.StreamWriter, tuple[Any, ...]]] = []
    arrived = asyncio.Event()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                pending.append((writer, await frames.read(reader)))
                arrived.set()
        writer.close()

    server = await asyncio.start_unix_server(connection, path=str(path))
    path.chmod(0o600)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            if not pending:
                if stop.is_set():
                    return
                arrived.clear()
                woke = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({woke, stopping}, return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                # One more turn lets every connection hand over what has arrived: one batch.
                await asyncio.sleep(0)
                continue
            batch = pending[:]
            pending.clear()
            _answer(engine, batch)
            engine.housekeep(time.time())
    finally:
        stopping.cancel()
        server.close()


def _answer(engine: Engine, batch: list[tuple[asyncio.StreamWriter, tuple[Any, ...]]]) -> None:
    """Answer one batch (this process's only work, so SQLite may block it)."""
    messages = [(writer, frame) for writer, frame in batch if frame[0] == MESSAGE]
    answers = engine.answer_batch([Delivery(*frame[2:]) for _, frame in messages])
    for (writer, frame), answer in zip(messages, answers, strict=True):
        writer.write(frames.encode((frame[1], *answer)))
    for writer, frame in batch:
        if frame[0] == PING:
            writer.write(frames.encode((frame[1], *engine.ping())))


def run_engine(settings: Settings, path: Path) -> None:
    """The engine process: serve until SIGTERM, finishing the batch in hand."""
    import signal

    from bot.serve import configure_logging, die_with_parent

    configure_logging()
    die_with_parent()
    engine = Engine.open(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Only the supervisor's SIGTERM stops the engine, after the workers drained; a
        # Ctrl-C reaches the whole process group and must not cut the workers off.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await serve_engine(engine, path, stop)

    try:
        asyncio.run(main())
    finally:
        engine.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class EngineThread:
    """An engine on a thread of this process: for tests and single-process embedding."""

    def __init__(self, settings: Settings) -> None:
        import tempfile
        import threading

        self._folder = tempfile.TemporaryDirectory(prefix="tipline-")
        self.path = Path(self._folder.name) / "engine.sock"
        self._settings = settings
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tipline-engine", daemon=True)

    def start(self) -> None:
        """Start the engine and wait until its socket listens."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._folder.cleanup()

    def _run(self) -> None:
        try:
            engine = Engine.open(self._settings)
        except BaseException as error:
            self._error = error
            self._ready.set()
            return

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            serving = asyncio.create_task(serve_engine(engine, self.path, self._stop))
            while not self.path.exists() and not serving.done():
                await asyncio.sleep(0.005)
            self._ready.set()
            await serving

        try:
            asyncio.run(main())
        finally:
            self._ready.set()
            engine.close()
