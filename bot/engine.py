"""The engine: the one process that owns the database and runs the conversation.

HTTP workers (bot/webhook.py) forward each POST /wechat here as it came (query string
and body) over a Unix socket. The engine takes whatever has arrived as one batch and,
for each request, in order:

    verify → decrypt → parse → [nonce → claim → state → handler → store] → render → encrypt

where the bracket of every message of the batch is one transaction (db/batch.py).
Answers go back only once that commit is on disk: the write-ahead log is fsynced after
the COMMIT (db/wal.py), while the next batch already runs.

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
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils

from bot import frames, wechat
from bot.config import Settings
from bot.errors import BadRequest, Forbidden, WebhookError
from bot.pipeline import housekeeping, process
from bot.pseudonym import pseudonymiser
from db.batch import Job, Outcome, commit, run_batch, run_jobs
from db.checkpoint import WRITER_AUTOCHECKPOINT, Checkpointer
from db.connection import connect
from db.migrations import migrate
from db.nonces import admit_nonce
from db.wal import ENGINE_SYNCHRONOUS, WalFile
from handlers.context import Policy
from handlers.report import message_text
from handlers.texts import text
from triage.extract import extract

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60
# Requests taken into one transaction at most. Smaller batches keep several in the
# pipeline at once (one being applied, one being fsynced, one on its way back), so the
# engine is not left idle while a single big batch makes its round trip.
MAX_BATCH = 32
# With the timestamp check off, nonces are still remembered this long.
DEFAULT_NONCE_WINDOW = 300
# Frame kinds: a message to answer, or a health check.
MESSAGE, PING = "m", "p"

_ECHOSTR = re.compile(r"[A-Za-z0-9_\-+/=]{1,512}")
XML = "application/xml"
PLAIN = "text/plain"
# (HTTP status, body, content type)
Answer = tuple[int, bytes, str]
SUCCESS: Answer = (200, b"success", PLAIN)


class Delivery(NamedTuple):
    """One request to /wechat as a worker received it (a tuple: it crosses the socket)."""

    query: str  # the raw query string: signature, timestamp, nonce, encrypt_type…
    body: bytes
    now: int
    method: str = "POST"  # GET is WeChat's URL check (echostr)


class BatchFailed(RuntimeError):
    """The batch's transaction could not be had or kept: nobody's message was stored."""


@dataclass(slots=True)
class Stamp:
    """What identifies one delivery of a request: its timestamp, nonce and body digest."""

    timestamp: int
    nonce: str
    body_sha256: bytes


@dataclass(slots=True)
class _Verified:
    """What the query string proved about a request."""

    timestamp: int
    raw_timestamp: str
    nonce: str
    encrypted: bool


@dataclass(slots=True)
class _Prepared:
    """A verified delivery waiting for its transaction: its nonce, and its message if any."""

    verified: _Verified
    stamp: Stamp  # recorded for every verified request, whatever comes of it
    now: int
    early: Answer | None = None  # known before the transaction: 400, success, echostr
    envelope: wechat.Envelope | None = None
    job: Job | None = None
    admitted: bool = False  # set once the nonce was recorded as this request's
    failure: Exception | None = None  # what the message's handler raised, if anything


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
        self.checkpointer = Checkpointer(settings.db_path)
        self.wal = WalFile(settings.db_path)

    @classmethod
    def open(cls, settings: Settings) -> Engine:
        """Open the database (applying migrations) and build the engine."""
        db = connect(settings.db_path)
        migrate(db)
        db.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
        # COMMIT writes the log; `make_durable` fsyncs it before anyone is answered.
        db.execute(f"PRAGMA synchronous = {ENGINE_SYNCHRONOUS}")
        # Each message runs in a savepoint, whose undo journal otherwise lives in a temporary
        # file: in memory it is ~50 us a message cheaper (and a few pages at most).
        db.execute("PRAGMA temp_store = MEMORY")
        engine = cls(settings, db)
        engine.checkpointer.start()
        extract("warm-up.example.com")  # builds the suffix list now, not in a request
        return engine

    def prepare(self, deliveries: list[Delivery]) -> list[_Prepared | Answer]:
        """Verify, decrypt and parse: all that needs no database (step one of three)."""
        return [self._prepare(delivery) for delivery in deliveries]

    def apply(self, batch: list[_Prepared | Answer]) -> list[Outcome]:
        """Run the batch's jobs in one open transaction (step two; `commit` follows).

        Every verified request records its nonce outside its message's savepoint, so a
        refusal or a handler error later on cannot undo it: a nonce is good for one body.
        """
        jobs: list[Job] = [functools.partial(_handle, item) for item in batch
                           if isinstance(item, _Prepared)]
        if not jobs:
            return []
        try:
            # _handle keeps its own savepoint around the message: none needed around it.
            return run_jobs(self.db, jobs, savepoints=False)
        except Exception as error:  # the write lock was not to be had, or the disk failed
            log.exception("a batch of %d requests could not be applied", len(batch))
            return [(False, BatchFailed(str(error)))] * len(jobs)

    def commit(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Commit what `apply` did (to the log, not yet durably); all fail if it cannot."""
        if not self.db.conn.in_transaction:
            return outcomes
        try:
            commit(self.db)
        except Exception as error:
            log.exception("a batch of %d messages could not be committed", len(outcomes))
            return [(False, BatchFailed(str(error)))] * len(outcomes)
        return outcomes

    def make_durable(self) -> None:
        """Put every commit so far on disk (an fsync: run it off the loop)."""
        self.wal.sync()

    def finish(self, batch: list[_Prepared | Answer], outcomes: list[Outcome]
               ) -> list[Answer]:
        """Render the answers, once their transaction has committed (step three)."""
        results = iter(outcomes)
        answers: list[Answer] = []
        for item in batch:
            if not isinstance(item, _Prepared):
                answers.append(item)
                continue
            answers.append(self._finish(item, next(results)))
        return answers

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
        """Stop checkpointing and close the database."""
        if self.checkpointer.is_alive():
            self.checkpointer.stop()
        self.db.close()
        self.wal.close()

    def _prepare(self, delivery: Delivery) -> _Prepared | Answer:
        """Verify, decrypt and parse a delivery, or answer it at once (refusal, unknown)."""
        try:
            q = wechat.query_fields(delivery.query)
            verified = self._verify(q, delivery, self.crypto is not None)
        except WebhookError as error:
            return refusal(error)
        stamp = Stamp(verified.timestamp, verified.nonce,
                      hashlib.sha256(delivery.method.encode() + delivery.body).digest())
        prepared = _Prepared(verified, stamp, delivery.now)
        if delivery.method == "GET":
            echostr = q.get("echostr", "")
            prepared.early = ((200, echostr.encode(), PLAIN) if _ECHOSTR.fullmatch(echostr)
                              else refusal(BadRequest("echostr is missing or malformed")))
            return prepared
        try:
            fields = wechat.parse_xml(delivery.body)
            if verified.encrypted:
                assert self.crypto is not None
                # Compatible mode also sends plaintext fields: only the decrypted payload counts.
                fields = wechat.parse_xml(self.crypto.open(
                    fields, q.get("msg_signature", ""), verified.raw_timestamp, verified.nonce))
            parsed = wechat.to_inbound(fields, self.pseudonymise)
        except WebhookError as error:
            prepared.early = refusal(error)
            return prepared
        if parsed is None:
            prepared.early = SUCCESS  # a type we do not handle: no reply, nothing stored
            return prepared
        prepared.envelope, inbound = parsed
        text_ = message_text(inbound) if inbound.kind in ("text", "link") else ""
        if len(text_) >= 4:  # shorter ("1", "完成") holds no identifier: skip the scan
            # Pure CPU work on the text: done here, it overlaps the last batch's fsync.
            inbound.identifiers = tuple(extract(text_))
        prepared.job = functools.partial(process, inbound=inbound, now=delivery.now,
                                         default_lang=self.settings.lang, policy=self.policy)
        return prepared

    def _verify(self, q: dict[str, str], delivery: Delivery, safe_mode: bool) -> _Verified:
        """Check the signature, the timestamp window and the nonce's shape."""
        raw_ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = delivery.method == "POST" and q.get("encrypt_type", "").lower() == "aes"
        if delivery.method == "POST" and safe_mode and not encrypted:
            # A safe-mode request also carries `signature`: stripping its encryption must
            # not turn it into a plaintext request with a body of the attacker's choosing.
            raise Forbidden("plaintext request, but the account is in safe mode")
        if encrypted and not safe_mode:
            raise BadRequest("encrypted request, but WECHAT_ENCODING_AES_KEY is not set")
        # Safe mode signs the payload instead (msg_signature), checked when decrypting.
        if not encrypted and not wechat.signature_ok(
            q.get("signature", ""), self.settings.wechat_token, raw_ts, nonce
        ):
            raise Forbidden("signature does not match")
        timestamp = check_timestamp(raw_ts, delivery.now,
                                    self.settings.wechat_timestamp_tolerance)
        if not nonce or len(nonce) > 64:
            raise Forbidden("nonce is missing or too long")
        return _Verified(timestamp, raw_ts, nonce, encrypted)

    def _finish(self, item: _Prepared, outcome: Outcome) -> Answer:
        """The answer to a verified request, once its transaction has committed."""
        ok, value = outcome
        if not ok:
            # Nothing was stored: 503 makes WeChat retry; a polite 200 would lose it.
            if not isinstance(value, BatchFailed):
                log.error("a request could not be recorded", exc_info=value)
            return 503, b"try again", PLAIN
        if not item.admitted:
            return refusal(Forbidden("nonce reused with a different body"))
        if item.early is not None:
            return item.early
        assert item.envelope is not None
        if item.failure is not None:
            value = item.failure
        if isinstance(value, BaseException):
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


def _handle(item: _Prepared, db: sqlite_utils.Database) -> Any:
    """Spend the request's nonce, then run its message (if any) in a savepoint of its own."""
    stamp = item.stamp
    item.admitted = admit_nonce(db, stamp.timestamp, stamp.nonce, stamp.body_sha256)
    if not item.admitted or item.job is None:
        return None
    conn = db.conn
    conn.execute("SAVEPOINT message")
    try:
        result = item.job(db)
    except Exception as error:  # the message's effects go; its nonce stays spent
        conn.execute("ROLLBACK TO message")
        item.failure = error
        result = None
    conn.execute("RELEASE message")
    return result


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
    """Answer workers on the Unix socket at `path` until `stop` is set.

    Batches overlap: while one batch's log is fsynced on a thread, the next batch is
    verified, parsed, applied and committed; each is answered once its fsync returned.
    """
    pending: list[tuple[asyncio.Transport, frames.Item]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()
    durability = _Durability(engine)
    server = await loop.create_unix_server(lambda: _EngineProtocol(pending, arrived),
                                           path=str(path))
    path.chmod(0o600)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            durability.check()
            if not pending:
                if stop.is_set():
                    return
                arrived.clear()
                woke = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({woke, stopping}, return_when=asyncio.FIRST_COMPLETED)
                woke.cancel()
                continue
            batch = pending[:MAX_BATCH]
            del pending[:MAX_BATCH]
            messages = [(t, item) for t, item in batch if item[0] == MESSAGE]
            prepared = engine.prepare([item[2] for _, item in messages])
            # Answer the batches whose fsync returned meanwhile before starting on this
            # one: apply and commit hold the loop for milliseconds.
            durability.answer_synced()
            # No transaction is open here: health checks and housekeeping fit in.
            _answer_pings(engine, batch)
            engine.housekeep(time.time())
            outcomes = engine.commit(engine.apply(prepared))
            if outcomes:
                durability.then(functools.partial(_answer, engine, messages, prepared,
                                                  outcomes))
            else:
                _send(messages, engine.finish(prepared, []))
            # Let the event loop read what arrived meanwhile: it becomes the next batch.
            await asyncio.sleep(0)
    finally:
        await durability.drain()
        stopping.cancel()
        server.close()


class _Durability:
    """Answers batches once their commits are on disk: one fsync covers all that wait.

    The fsync runs on a thread. Its end is polled (`answer_synced`) by the engine's loop
    between steps rather than awaited: awaiting takes two turns of the event loop, and a
    turn can be a whole batch's transaction, which left answers on disk but unsent.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tipline-fsync")
        self._waiting: list[Callable[[bool], None]] = []  # committed, no fsync started yet
        self._syncing: list[Callable[[bool], None]] = []  # covered by the fsync in flight
        self._sync: Future[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._error: OSError | None = None

    def then(self, answer: Callable[[bool], None]) -> None:
        """Call `answer(durable)` once everything committed so far is on disk (or not)."""
        self._waiting.append(answer)
        self._start()

    def answer_synced(self) -> None:
        """Answer the batches whose fsync has returned, and start the next fsync."""
        if self._sync is None or not self._sync.done():
            return
        error = self._sync.exception()
        if error is not None:
            log.critical("the write-ahead log could not be synced: %s", error)
            self._error = error if isinstance(error, OSError) else OSError(str(error))
        syncing, self._syncing, self._sync = self._syncing, [], None
        for answer in syncing:
            answer(error is None)
        self._start()

    def check(self) -> None:
        """Stop the engine if the disk failed: after a failed fsync nothing is certain."""
        if self._error is not None:
            raise self._error

    async def drain(self) -> None:
        """Answer every batch still waiting, then stop the thread."""
        await self._idle.wait()
        self._syncer.shutdown(wait=True)

    def _start(self) -> None:
        if self._sync is not None or not self._waiting:
            if self._sync is None:
                self._idle.set()
            return
        # Only what was committed before this fsync starts counts as covered by it.
        self._syncing, self._waiting = self._waiting, []
        self._idle.clear()
        loop = asyncio.get_running_loop()
        self._sync = self._syncer.submit(self.engine.make_durable)
        # Wakes the loop when it has nothing else to do; when busy, it polls first.
        self._sync.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self.answer_synced))


def _answer(engine: Engine, messages: list[tuple[asyncio.Transport, frames.Item]],
            prepared: list[_Prepared | Answer], outcomes: list[Outcome], durable: bool) -> None:
    """Send a committed batch's answers; 503 for all if its commit may not be on disk."""
    if not durable:
        outcomes = [(False, BatchFailed("the commit is not known to be on disk"))] * len(
            outcomes)
    _send(messages, engine.finish(prepared, outcomes))


def _send(messages: list[tuple[asyncio.Transport, frames.Item]], answers: list[Answer]) -> None:
    """One write per worker for all its answers in the batch."""
    replies: dict[asyncio.Transport, list[frames.Item]] = {}
    for (transport, item), answer in zip(messages, answers, strict=True):
        replies.setdefault(transport, []).append((item[1], *answer))
    for transport, items in replies.items():
        if not transport.is_closing():
            transport.write(frames.encode(items))


def _answer_pings(engine: Engine, batch: list[tuple[asyncio.Transport, frames.Item]]) -> None:
    pings = [(transport, item) for transport, item in batch if item[0] == PING]
    if pings:
        answer = engine.ping()
        _send(pings, [answer] * len(pings))


def run_engine(settings: Settings, path: Path) -> None:
    """The engine process: serve until SIGTERM, finishing the batch in hand."""
    import signal

    from bot.serve import ENGINE_STOP, configure_logging, die_with_parent

    configure_logging()
    die_with_parent(ENGINE_STOP)
    engine = Engine.open(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Only the supervisor stops the engine, after the workers drained: SIGINT and
        # SIGTERM reach the whole process group (Ctrl-C, systemd) and are not for us.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        loop.add_signal_handler(ENGINE_STOP, stop.set)
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
