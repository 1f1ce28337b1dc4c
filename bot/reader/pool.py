"""The parent's side of a reader child: send an image, wait with a deadline and a memory cap.

Outcomes are named: `Read` (what was read), `Unreadable` (the image itself cannot be
read: final), `Lost` (the child crashed, hung past the time limit or grew past the
memory limit: it is killed, and the job may be tried again).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

from bot.reader import child
from db.reads import ReadResult

log = logging.getLogger(__name__)

POLL = 0.05  # seconds between looks at the child's answer and its memory
START_SECONDS = 120.0  # a child loads its models in a second or two; a cold disk is slower
_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")
WALL_FACTOR = 10  # wall-clock seconds allowed per second of CPU time


@dataclass(frozen=True, slots=True)
class Read:
    """The image was read."""

    result: ReadResult
    qr: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The image cannot be read, whoever tries: the reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Lost:
    """The child died or was killed while reading: the reason."""

    reason: str


Outcome = Read | Unreadable | Lost


@dataclass(frozen=True, slots=True)
class Limits:
    """What one image may cost."""

    max_bytes: int
    max_pixels: int
    seconds: float  # of CPU time
    memory_bytes: int


class ChildReader:
    """One child process reading images, restarted whenever it is lost."""

    def __init__(self, limits: Limits, threads: int = 1) -> None:
        self.limits = limits
        self.threads = threads
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def read(self, path: Path) -> Outcome:
        """Read one image within the limits."""
        ready = self._ready()
        if isinstance(ready, Lost):
            return ready
        conn, process = ready
        try:
            conn.send(str(path))
        except OSError:
            return self._lose(f"the reader crashed ({_exit(process)})")
        # The limit is CPU time: the child runs at idle priority, so under load it may wait
        # long for a core without being stuck. The wall clock only catches a child that
        # waits on nothing at all.
        cpu_limit = _cpu(process) + self.limits.seconds
        deadline = time.monotonic() + self.limits.seconds * WALL_FACTOR
        while True:
            try:
                if conn.poll(POLL):
                    kind, payload = conn.recv()
                    break
            except (EOFError, OSError):
                return self._lose(f"the reader crashed ({_exit(process)})")
            if not process.is_alive():
                return self._lose(f"the reader crashed ({_exit(process)})")
            if _cpu(process) > cpu_limit:
                return self._lose(f"needed more than {self.limits.seconds:g} s of CPU time")
            if time.monotonic() > deadline:
                return self._lose(
                    f"took longer than {self.limits.seconds * WALL_FACTOR:g} s")
            if _rss(process) > self.limits.memory_bytes:
                return self._lose(
                    f"needed more than {self.limits.memory_bytes // (1024 * 1024)} MB")
        if kind == child.UNREADABLE:
            return Unreadable(str(payload))
        found, text, qr, phash = payload
        return Read(ReadResult([tuple(f) for f in found], text, phash), tuple(qr))

    def pid(self) -> int | None:
        """The child's process id, while it runs."""
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """Stop the child."""
        if self._conn is not None:
            self._conn.close()
        if self._process is not None:
            self._process.join(2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._process = self._conn = None

    def _ready(self) -> tuple[Connection, BaseProcess] | Lost:
        """The running child, started (models loaded) if need be."""
        if self._process is not None and self._conn is not None and self._process.is_alive():
            return self._conn, self._process
        self.close()
        parent, child_end = self._context.Pipe()
        process = self._context.Process(
            target=child.serve, name="tipline-reader-child", daemon=True,
            args=(child_end, self.limits.max_bytes, self.limits.max_pixels, self.threads))
        process.start()
        child_end.close()
        self._process, self._conn = process, parent
        deadline = time.monotonic() + START_SECONDS
        try:
            while not parent.poll(POLL):
                if not process.is_alive() or time.monotonic() > deadline:
                    return self._lose(f"the reader did not start ({_exit(process)})")
            parent.recv()
        except (EOFError, OSError):
            return self._lose(f"the reader did not start ({_exit(process)})")
        return parent, process

    def _lose(self, reason: str) -> Lost:
        """Kill the child (it may be stuck in native code) and say why it was lost."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        self.close()
        log.warning("an image reader was lost: %s", reason)
        return Lost(reason)


def _rss(process: BaseProcess) -> int:
    """The child's resident memory in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{process.pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _cpu(process: BaseProcess) -> float:
    """The child's CPU time so far in seconds, all its threads (0 once it is gone)."""
    try:
        with open(f"/proc/{process.pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _exit(process: BaseProcess) -> str:
    """How a child ended, in words."""
    process.join(0.5)
    code = process.exitcode
    if code is None:
        return "still running"
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
