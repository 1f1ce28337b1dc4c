"""The engine: the one process that owns the database and runs the conversation.

HTTP workers (bot/server/webhook.py) verify and parse each POST /wechat themselves
(bot/server/gate.py) and send the engine a `Ticket` over a Unix socket. The engine takes
whatever has arrived as one batch and, for each ticket, in order:

    [nonce → claim → state → handler → store]

where the bracket of every ticket of the batch is one transaction (`Engine.apply`). Each
worker gets back its verdicts (a reply text, or an answer such as 403 or 503) only once
that commit is on disk: the write-ahead log is fsynced after the COMMIT (db/wal.py),
while the next batch already runs.

Why a process of its own: Python runs one thread at a time, and one writer per database
means workers never fight over SQLite's write lock. Since every request passes through
this one process, it does only what needs the database: everything else (signature,
decryption, XML, identifiers, rendering) runs in the workers, which scale with --workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from bot.config import Settings
from bot.errors import WebhookError
from bot.server import protocol
from bot.server.pipeline import housekeeping, process
from bot.server.protocol import (
    MESSAGE,
    NONCE_REUSED,
    PING,
    PLAIN,
    UNSTORED,
    Answer,
    Reply,
    Ticket,
    Verdict,
    refusal,
)
from db.batch import begin, commit, in_transaction, rollback, run_batch, savepoint
from db.checkpoint import WRITER_AUTOCHECKPOINT, Checkpointer
from db.connection import Database, connect
from db.migrations import migrate
from db.nonces import admit_nonces
from db.wal import ENGINE_SYNCHRONOUS, WalFile
from handlers.context import Policy
from handlers.texts import text
from triage.evidence import remove_unused
from triage.extract import extract

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 60
# Requests taken into one transaction at most. Smaller batches keep several in the
# pipeline at once (one being applied, one being fsynced, one on its way back), so the
# engine is not left idle while a single big batch makes its round trip.
MAX_BATCH = 32
# With the timestamp check off, nonces are still remembered this long.
DEFAULT_NONCE_WINDOW = 300


class Engine:
    """Answers batches of tickets against one database."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
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
        # Statement journals (and a re-run batch's savepoints) otherwise live in temporary
        # files: in memory they cost ~50 us a message less (and a few pages at most).
        db.execute("PRAGMA temp_store = MEMORY")
        engine = cls(settings, db)
        engine.checkpointer.start()
        # Texts the worker left unscanned (short ones, a trimmed answer, a voice message's
        # recognition) are scanned here: build the suffix list now, not inside a batch.
        extract("warm-up.example.com")
        return engine

    def apply(self, tickets: list[Ticket], between: Callable[[], None] | None = None
              ) -> list[Verdict]:
        """Run the tickets in one open transaction (`commit` follows); their verdicts.

        Every ticket spends its nonce first, outside any message's effects, so a refusal
        or a handler error cannot undo it: a nonce is good for one body. The messages run
        without a savepoint each (two statements a message); in the rare batch where one
        fails halfway, the whole batch is undone and run again with them. `between` runs
        after each ticket (the engine answers batches whose fsync returned meanwhile).
        """
        if not tickets:
            return []
        try:
            for guarded in (False, True):
                begin(self.db)  # the lock first: no upgrade races
                admitted = admit_nonces(
                    self.db, [(t.timestamp, t.replay_key, t.body_sha256) for t in tickets])
                verdicts = self._run(tickets, admitted, guarded, between)
                if verdicts is not None:
                    for _ in range(admitted.count(False)):  # logged once, whatever the passes
                        log.warning("refused a request (403): replay key reused with another body")
                    return verdicts
                rollback(self.db)  # a message failed with its effects half done
        except Exception:  # the write lock was not to be had, or the disk failed
            rollback(self.db)
            log.exception("a batch of %d requests could not be applied", len(tickets))
        return [UNSTORED] * len(tickets)

    def commit(self, verdicts: list[Verdict]) -> list[Verdict]:
        """Commit what `apply` did (to the log, not yet durably); all fail if it cannot."""
        if not in_transaction(self.db):
            return verdicts
        try:
            commit(self.db)
        except Exception:
            log.exception("a batch of %d messages could not be committed", len(verdicts))
            return [UNSTORED] * len(verdicts)
        return verdicts

    def make_durable(self) -> None:
        """Put every commit so far on disk (an fsync: run it off the loop)."""
        self.wal.sync()

    def ping(self) -> Answer:
        """Prove the database takes a write transaction; the body is the engine's pid."""
        (ok, _), = run_batch(self.db, [lambda db: db.execute("SELECT 1").fetchone()])
        return Answer(200 if ok else 503, str(os.getpid()).encode(), PLAIN)

    def housekeep(self, now: float) -> None:
        """Forget old nonces, claims, contacts and abandoned drafts, at most once a minute."""
        if now - self._housekept < HOUSEKEEPING_EVERY:
            return
        self._housekept = now
        window = self.settings.wechat_timestamp_tolerance or DEFAULT_NONCE_WINDOW
        (committed, unused), = run_batch(self.db, [functools.partial(
            housekeeping, now=int(now), nonce_window=window,
            draft_ttl=self.settings.draft_ttl)])
        if committed:  # only now may the files go: their rows are gone for good
            remove_unused(self.settings.evidence_dir, unused)

    def close(self) -> None:
        """Stop checkpointing and close the database."""
        if self.checkpointer.is_alive():
            self.checkpointer.stop()
        self.db.close()
        self.wal.close()

    def _run(self, tickets: list[Ticket], admitted: list[bool], guarded: bool,
             between: Callable[[], None] | None) -> list[Verdict] | None:
        """Each ticket's verdict; None if a message failed with no savepoint around it."""
        out: list[Verdict] = []
        db, lang, policy = self.db, self.settings.lang, self.policy
        for ticket, fresh in zip(tickets, admitted, strict=True):
            if not fresh:
                out.append(NONCE_REUSED)
            elif ticket.inbound is None:
                out.append(Reply(""))
            elif guarded:
                out.append(_guarded(db, ticket, lang, policy))
            else:
                try:
                    out.append(Reply(process(db, ticket.inbound, ticket.now, lang, policy)))
                except Exception:
                    return None
            if between is not None:
                between()
        return out


def _guarded(db: Database, ticket: Ticket, lang: str, policy: Policy) -> Verdict:
    """Run a message in a savepoint: if it fails, only its own effects go."""
    assert ticket.inbound is not None
    try:
        with savepoint(db, "message"):
            return Reply(process(db, ticket.inbound, ticket.now, lang, policy))
    except Exception as error:  # the message's effects go; its nonce stays spent
        if isinstance(error, WebhookError):
            return refusal(error)
        log.error("a message could not be handled", exc_info=error)
        return Reply(text(lang, "error"))


class _EngineProtocol(asyncio.Protocol):
    """One worker's connection: frames in, onto the shared queue."""

    def __init__(self, pending: list[tuple[asyncio.Transport, protocol.Item]],
                 arrived: asyncio.Event) -> None:
        self.pending = pending
        self.arrived = arrived
        self.reader = protocol.FrameReader()
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
    applied and committed; each is answered once its fsync returned.
    """
    pending: list[tuple[asyncio.Transport, protocol.Item]] = []
    arrived = asyncio.Event()
    loop = asyncio.get_running_loop()
    durability = _Durability(engine, wake=arrived.set)  # a failed fsync stops the loop
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
            # Answer the batches whose fsync returned meanwhile before starting on this
            # one: apply and commit hold the loop for milliseconds.
            durability.answer_synced()
            # No transaction is open here: health checks and housekeeping fit in.
            _answer_pings(engine, batch)
            engine.housekeep(time.time())
            messages = [(t, item) for t, item in batch if item[0] == MESSAGE]
            verdicts = engine.commit(engine.apply([item[2] for _, item in messages],
                                                  between=durability.answer_synced))
            if verdicts:
                durability.then(functools.partial(_answer, messages, verdicts))
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

    def __init__(self, engine: Engine, wake: Callable[[], None]) -> None:
        self.engine = engine
        self._wake = wake  # so that the engine's loop sees `check` fail even when idle
        self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tipline-fsync")
        self._waiting: list[Callable[[bool], None]] = []  # committed, no fsync started yet
        self._syncing: list[Callable[[bool], None]] = []  # covered by the fsync in flight
        self._sync: Future[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._error: OSError | None = None

    def then(self, answer: Callable[[bool], None]) -> None:
        """Call `answer(durable)` once everything committed so far is on disk (or not)."""
        if self._error is not None:
            answer(False)  # the disk failed: nothing committed since is known to be on it
            return
        self._waiting.append(answer)
        self._start()

    def answer_synced(self) -> None:
        """Answer the batches whose fsync has returned, and start the next fsync."""
        if self._sync is None or not self._sync.done():
            return
        error = self._sync.exception()
        syncing, self._syncing, self._sync = self._syncing, [], None
        if error is not None:
            log.critical("the write-ahead log could not be synced: %s", error)
            self._error = error if isinstance(error, OSError) else OSError(str(error))
            # No second fsync: after a failed one, Linux may report the next as a success
            # although the pages of the first were dropped. Everything waiting gets a 503.
            syncing += self._waiting
            self._waiting = []
            self._wake()
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


def _answer(messages: list[tuple[asyncio.Transport, protocol.Item]], verdicts: list[Verdict],
            durable: bool) -> None:
    """Send a committed batch's verdicts; 503 for all if its commit may not be on disk."""
    _send(messages, verdicts if durable else [UNSTORED] * len(verdicts))


def _send(messages: list[tuple[asyncio.Transport, protocol.Item]],
          answers: list[Verdict]) -> None:
    """One write per worker for all its answers in the batch."""
    replies: dict[asyncio.Transport, list[protocol.Item]] = {}
    for (transport, item), answer in zip(messages, answers, strict=True):
        replies.setdefault(transport, []).append((item[1], answer))
    for transport, items in replies.items():
        if not transport.is_closing():
            transport.write(protocol.encode(items))


def _answer_pings(engine: Engine, batch: list[tuple[asyncio.Transport, protocol.Item]]) -> None:
    pings = [(transport, item) for transport, item in batch if item[0] == PING]
    if pings:
        answer = engine.ping()
        _send(pings, [answer] * len(pings))


def run_engine(settings: Settings, path: Path) -> None:
    """The engine process: serve until SIGTERM, finishing the batch in hand."""
    import signal

    from bot.server.process import (
        ENGINE_STOP,
        configure_logging,
        die_with_parent,
        freeze_startup_objects,
    )

    configure_logging()
    die_with_parent(ENGINE_STOP)
    engine = Engine.open(settings)
    freeze_startup_objects()

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
