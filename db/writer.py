"""Group commit: one thread owns the write connection and commits jobs in batches.

Each job is a function of the database run inside its own SAVEPOINT, so a job that
raises undoes only itself. A batch is one `BEGIN IMMEDIATE … COMMIT` with
synchronous=FULL; every job's future resolves only after that commit returned, so a
caller never answers before its effects are on disk. While one batch commits (an
fsync), the next one gathers: durability costs one fsync per batch, not per message,
and the event loop never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from db.connection import connect
from db.migrations import migrate

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[sqlite_utils.Database], Any]

# Enough to amortise an fsync; small enough that one batch stays a few milliseconds.
MAX_BATCH = 256


class WriterClosed(RuntimeError):
    """The writer was closed; no new jobs are accepted."""


@dataclass(slots=True)
class _Pending:
    job: Job
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


_STOP = object()


class Writer:
    """The one writer of a process: run jobs in durable, batched transactions."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.batches = 0
        self.jobs = 0

    def start(self) -> None:
        """Open the database, apply migrations, and start the writer thread."""
        db = connect(self.path)
        migrate(db)
        self._thread = threading.Thread(
            target=self._run, args=(db,), name="tipline-writer", daemon=True
        )
        self._thread.start()

    async def run(self, job: Callable[..., T], *args: Any) -> T:
        """Run `job(db, *args)` in the next batch; return its result once committed."""
        if self._closed:
            raise WriterClosed("the database writer is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        call: Job = (lambda db: job(db, *args)) if args else job
        self._queue.put(_Pending(call, future, loop))
        return await future

    async def close(self) -> None:
        """Finish the jobs already queued, then stop the thread and close the database."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    def _run(self, db: sqlite_utils.Database) -> None:
        try:
            while True:
                batch, stop = self._gather()
                if batch:
                    self._commit(db, batch)
                if stop:
                    return
        finally:
            db.close()

    def _gather(self) -> tuple[list[_Pending], bool]:
        """Block for one job, then take whatever else is already waiting."""
        batch: list[_Pending] = []
        item = self._queue.get()
        while True:
            if item is _STOP:
                return batch, True
            assert isinstance(item, _Pending)
            batch.append(item)
            if len(batch) >= MAX_BATCH:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _commit(self, db: sqlite_utils.Database, batch: list[_Pending]) -> None:
        """Run a batch in one transaction and resolve every future after the commit."""
        outcomes: list[tuple[bool, Any]] = []
        conn = db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                conn.execute("SAVEPOINT job")
                try:
                    outcomes.append((True, pending.job(db)))
                except Exception as error:  # one job's failure must not sink its batch
                    conn.execute("ROLLBACK TO job")
                    outcomes.append((False, error))
                conn.execute("RELEASE job")
            conn.execute("COMMIT")
        except Exception as error:
            log.exception("a batch of %d database writes failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, error)] * len(batch)
        self.batches += 1
        self.jobs += len(batch)
        # One wake-up per event loop per batch, not one per job.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        by_loop = {}
        for pending, (ok, value) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, ok, value))
        for loop, results in by_loop.items():
            # RuntimeError: the loop closed while we committed, so nobody is waiting.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, results)


def _resolve(results: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in results:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
