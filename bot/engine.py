"""The engine: the one process that owns the database and runs the conversation.

HTTP workers (bot/webhook.py) forward each POST /wechat here as it came (query string
and body) over a Unix socket. The engine takes whatever has arrived as one batch and,
for each request, in order:

    verify → decrypt → parse → [nonce → claim → state → handler → store] → render → encrypt

where the bracket of every message of the batch is one durable transaction
(db/batch.py). Answers go back only after that commit returned.

Why a process of its own: Python runs one thread at a time, and the HTTP side alone
costs as much CPU as a hello-world server. Verification, parsing, SQLite and the
conversation moved here run on the second core; the HTTP workers stay thin. One writer
per database also means workers never fight over SQLite's write lock.
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
from typing import NamedTuple
from urllib.parse import parse_qsl

import sqlite_utils

from bot import frames, wechat
from bot.config import Settings
from bot.errors import BadRequest, Forbidden, WebhookError
from bot.pipeline import Stamp, housekeeping, process
from bot.pseudonym import pseudonymiser
from db.batch import Job, Outcome, run_batch
from db.connection import connect
from db.migrations import migrate
from handlers.context import Policy
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
Answer = tuple[int, bytes, str]
SUCCESS: Answer = (200, b"success", PLAIN)


class Delivery(NamedTuple):
    """One POST /wechat as a worker received it (a tuple: it crosses the socket)."""

    query: str  # the raw query string: signature, timestamp, nonce, encrypt_type…
    body: bytes
    now: int


@dataclass(slots=True)
class _Verified:
    """What the query string proved about a request."""

    timestamp: int
    raw_timestamp: str
    nonce: str
    encrypted: bool


@dataclass(slots=True)
class _Prepared:
    """A delivery parsed into a message, waiting for its transaction."""

    envelope: wechat.Envelope
    job: Job
    verified: _Verified
    now: int


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
        self.policy = Policy(
            draft_ttl=settings.draft_ttl,
            # Media are fetched by the API client; without credentials they cannot be.
            media_status="pending" if settings.api_enabled else "not fetched: no API credentials",
        )
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
        """Prove the database takes a write transaction; the body is the engine's pid."""
        (ok, _), = run_batch(self.db, [lambda db: db.execute("SELECT 1").fetchone()])
        return (200 if ok else 503), str(os.getpid()).encode(), PLAIN

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
        """Verify, decrypt and parse a delivery, or answer it at once (refusal, unknown)."""
        try:
            q = dict(parse_qsl(delivery.query))
            verified = self._verify(q, delivery.now)
            fields = wechat.parse_xml(delivery.body)
            if verified.encrypted:
                if self.crypto is None:
                    raise BadRequest("encrypted request, but WECHAT_ENCODING_AES_KEY is not set")
                # Compatible mode also sends plaintext fields: only the decrypted payload counts.
                fields = wechat.parse_xml(self.crypto.open(
                    fields, q.get("msg_signature", ""), verified.raw_timestamp, verified.nonce))
            parsed = wechat.to_inbound(fields, self.pseudonymise)
        except WebhookError as error:
            return refusal(error)
        if parsed is None:
            return SUCCESS  # a type we do not handle: no reply, nothing stored
        envelope, inbound = parsed
        stamp = Stamp(verified.timestamp, verified.nonce,
                      hashlib.sha256(delivery.body).digest())
        job = functools.partial(process, inbound=inbound, stamp=stamp, now=delivery.now,
                                default_lang=self.settings.lang, policy=self.policy)
        return _Prepared(envelope, job, verified, delivery.now)

    def _verify(self, q: dict[str, str], now: int) -> _Verified:
        """Check the plaintext signature, the timestamp window and the nonce's shape."""
        raw_ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = q.get("encrypt_type", "raw").lower() == "aes"
        # Safe mode signs the payload instead (msg_signature), checked when decrypting.
        if not encrypted and not wechat.signature_ok(
            q.get("signature", ""), self.settings.wechat_token, raw_ts, nonce
        ):
            raise Forbidden("signature does not match")
        timestamp = check_timestamp(raw_ts, now, self.settings.wechat_timestamp_tolerance)
        if not nonce or len(nonce) > 64:
            raise Forbidden("nonce is missing or too long")
        return _Verified(timestamp, raw_ts, nonce, encrypted)

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
        verified = item.verified
        xml = wechat.render_text(item.envelope, str(value), item.now)
        if verified.encrypted and self.crypto is not None:
            xml = self.crypto.seal(xml, verified.nonce, verified.raw_timestamp)
        return 200, xml.encode(), XML


def check_timestamp(raw: str, now: int, tolerance: int) -> int:
    """Return the request's timestamp, refusing one outside the tolerance window."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Forbidden("timestamp is missing or not a number")
    timestamp = int(raw)
    if tolerance and abs(now - timestamp) > tolerance:
        raise Forbidden("timestamp outside the allowed window")
    return timestamp


def refusal(error: WebhookError) -> Answer:
    """The answer to a refused request: why goes to the operator's log, not the sender."""
    log.warning("refused a request (%d): %s", error.status, error)
    return error.status, b"forbidden" if error.status == 403 else b"bad request", PLAIN


class _EngineProtocol(asyncio.Protocol):
    """One worker's connection: frames in, onto the shared queue."""

    def __init__(self, pending: list[tuple[asyncio.Transport, frames.Item]],
                 arrived: asyncio.Event) -> None:
        self.pending = pending
        self.arrived = arrived
        self.reader = frames.FrameReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for item in self.reader.feed(data):
            self.pending.append((self.transport, item))
        self.arrived.set()


async def serve_engine(engine: Engine, path: Path, stop: asyncio.Event) -> None:
    """Answer workers on the Unix socket at `path` until `stop` is set."""
    pending: list[tuple[asyncio.Transport, frames.Item]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()
    server = await loop.create_unix_server(lambda: _EngineProtocol(pending, arrived),
                                           path=str(path))
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
                continue
            batch = pending[:]
            pending.clear()
            _answer(engine, batch)
            engine.housekeep(time.time())
            # Let the event loop read what arrived meanwhile: it becomes the next batch.
            await asyncio.sleep(0)
    finally:
        stopping.cancel()
        server.close()


def _answer(engine: Engine, batch: list[tuple[asyncio.Transport, frames.Item]]) -> None:
    """Answer one batch (this process's only work, so SQLite may block it)."""
    messages = [(transport, item) for transport, item in batch if item[0] == MESSAGE]
    answers = engine.answer_batch([item[2] for _, item in messages])
    replies: dict[asyncio.Transport, list[frames.Item]] = {}
    for (transport, item), answer in zip(messages, answers, strict=True):
        replies.setdefault(transport, []).append((item[1], *answer))
    for transport, item in batch:
        if item[0] == PING:
            replies.setdefault(transport, []).append((item[1], *engine.ping()))
    for transport, items in replies.items():
        if not transport.is_closing():
            transport.write(frames.encode(items))  # one write per worker per batch


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
