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
# Courtesy to the webhook. Even at idle priority a reading child cost the webhook a third
# of its rate on this 2-core machine (caches, memory bandwidth: bench/reading, 0.61-0.74x).
# So while the rest of the machine keeps more than BUSY of its cores busy, an image waits
# up to DEFER_MAX seconds for a quieter moment, looking again every DEFER_STEP.
BUSY = 0.5
DEFER_STEP = 0.5
DEFER_MAX = 5.0


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
        self.courtesy = Courtesy()

    def run_once(self, now: Callable[[], float] = time.time) -> str | None:
        """Read one queued image: "done", "failed" or "retry"; None if nothing is due."""
        if reads.pending(self.db) == 0:
            return None
        self.courtesy.wait_for_quiet(self.child.pid())
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


class Courtesy:
    """Tells how busy the machine is without us, from /proc/stat, and waits while it is."""

    def __init__(self, busy: float = BUSY, step: float = DEFER_STEP,
                 longest: float = DEFER_MAX) -> None:
        self.busy, self.step, self.longest = busy, step, longest
        self._cores = os.cpu_count() or 1
        self._last = _machine_ticks()
        self._own_last = 0.0

    def wait_for_quiet(self, child: int | None) -> None:
        """Wait (at most `longest` seconds) until the rest of the machine is not busy."""
        waited = 0.0
        # The first look covers the time since the last one (the previous image's reading).
        while self.others_busy(child) > self.busy and waited < self.longest:
            time.sleep(self.step)
            waited += self.step

    def others_busy(self, child: int | None) -> float:
        """The share of all cores busy since the last look, not counting us or our child."""
        busy, total = _machine_ticks()
        own = _process_ticks(os.getpid()) + (_process_ticks(child) if child else 0.0)
        (last_busy, last_total), last_own = self._last, self._own_last
        self._last, self._own_last = (busy, total), own
        elapsed = total - last_total
        if elapsed <= 0:
            return 0.0
        others = (busy - last_busy) - max(0.0, own - last_own)
        return max(0.0, others) / elapsed


def _machine_ticks() -> tuple[float, float]:
    """All cores' busy and total clock ticks since boot (/proc/stat's first line)."""
    try:
        with open("/proc/stat", "rb") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle, iowait
    total = sum(fields[:8])
    return float(total - idle), float(total)


def _process_ticks(pid: int) -> float:
    """A process's CPU clock ticks, all threads (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return float(int(fields[11]) + int(fields[12]))
    except (OSError, IndexError, ValueError):
        return 0.0


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
