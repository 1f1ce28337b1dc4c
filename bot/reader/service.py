"""The reader: claim a queued image → read it in a child → record what was read.

`tipline serve` runs it as a process of its own (never in the engine, never on the
webhook's path); `tipline evidence read` runs the same loop in the foreground. Each of
`TIPLINE_READERS` threads owns one child process (bot/reader/pool.py) and its own
database connection, and takes one job at a time under a lease.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.reader.pool import ChildReader, Limits, Lost, Read, Unreadable
from db import reads
from db.connection import connect
from triage.evidence import evidence_path

log = logging.getLogger(__name__)

IDLE_POLL = 0.25  # seconds between looks at an empty queue: the photo-to-show latency floor
ATTEMPTS = 2  # a crash or a timeout is tried once more, in a fresh child, then failed
RETRY_AFTER = 5  # seconds before a lost job is tried again


def limits_of(settings: Settings) -> Limits:
    """The per-image limits from the settings."""
    return Limits(max_bytes=settings.read_max_bytes, max_pixels=settings.read_max_pixels,
                  seconds=float(settings.read_seconds),
                  memory_bytes=settings.read_memory_mb * 1024 * 1024)


class Reader:
    """One reading thread's loop: a database connection and a child process."""

    def __init__(self, settings: Settings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.db = connect(settings.db_path)
        self.child = ChildReader(limits_of(settings))
        # Long enough for the slowest read plus a child's restart, so no lease runs out
        # while its job is still being read.
        self.lease = settings.read_seconds * 2 + 60

    def run_once(self, now: Callable[[], float] = time.time) -> str | None:
        """Read one queued image: "done", "failed" or "retry"; None if nothing is due."""
        job = reads.claim(self.db, self.name, int(now()), self.lease)
        if job is None:
            return None
        path = evidence_path(self.settings.evidence_dir, job.sha256)
        outcome = self.child.read(Path(path))
        if isinstance(outcome, Read):
            reads.done(self.db, job, self.name, outcome.result, int(now()))
            return "done"
        if isinstance(outcome, Unreadable):
            reads.failed(self.db, job, self.name, outcome.reason, int(now()))
            return "failed"
        assert isinstance(outcome, Lost)
        if job.attempts >= ATTEMPTS:
            reads.failed(self.db, job, self.name, outcome.reason, int(now()))
            return "failed"
        reads.retry_later(self.db, job, self.name, int(now()) + RETRY_AFTER, outcome.reason)
        return "retry"

    def run(self, stop: threading.Event) -> None:
        """Read until `stop` is set, resting while the queue is empty."""
        try:
            while not stop.is_set():
                try:
                    handled = self.run_once()
                except Exception:  # the database failed: wait, then carry on
                    log.exception("the image reader could not take or record a job")
                    handled = None
                if handled is None:
                    stop.wait(IDLE_POLL)
        finally:
            self.close()

    def close(self) -> None:
        """Give back what this reader holds, stop its child, close its connection."""
        try:
            reads.release(self.db, self.name)
        except Exception:  # the database is gone: the leases run out by themselves
            log.exception("the image reader could not give back its jobs")
        self.child.close()
        self.db.close()


def run_reader(settings: Settings) -> None:
    """The reader process of `tipline serve`: read until SIGTERM."""
    from bot.server.process import configure_logging, die_with_parent

    configure_logging()
    die_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides when we stop
    threads = [threading.Thread(target=Reader(settings, f"reader-{os.getpid()}-{n}").run,
                                args=(stop,), name=f"tipline-reader-{n}")
               for n in range(settings.readers)]
    for thread in threads:
        thread.start()
    log.info("reading images with %d reader(s)", len(threads))
    for thread in threads:
        thread.join()


class ReaderProcess:
    """The reader as a child of this process: for `tipline serve` and for embedding."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: multiprocessing.process.BaseProcess | None = None

    def start(self) -> None:
        """Start the reader process."""
        context = multiprocessing.get_context("spawn")
        self.process = context.Process(target=run_reader, name="tipline-reader",
                                       args=(self.settings,))
        self.process.start()

    def alive(self) -> bool:
        """Whether the reader process runs."""
        return self.process is not None and self.process.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the reader to finish the image in hand and stop; kill it if it does not."""
        process = self.process
        if process is None:
            return
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
