"""What every server process does at start: logging, file limits, dying with its parent, a
frozen heap, and a quiet loop when the system runs out of sockets."""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import resource
import signal
import sys
import time
from typing import Any

from triage.times import log_stamp

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# The engine stops only on this, sent by the supervisor once the workers have drained:
# a SIGTERM to the whole group (Ctrl-C, systemd) must not cut the workers off from it.
ENGINE_STOP = signal.SIGUSR1
# One line per this many seconds when accept() keeps failing (out of file descriptors):
# asyncio logs a traceback for every failed accept, hundreds of megabytes in seconds.
ACCEPT_ERROR_INTERVAL = 10.0

log = logging.getLogger(__name__)


class BeijingFormatter(logging.Formatter):
    """Log times in Beijing time with their offset, like every time Tipline shows.

    The machine's zone (UTC on most servers) would put the log eight hours off the
    receipts, exports and console an investigator compares it with.
    """

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as 2024-05-01 09:30:00.123+08:00."""
        return log_stamp(record.created)


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with times and process ids (several processes share the stream)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        BeijingFormatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # aiohttp logs a malformed HTTP request with its raw request line, query string (and
    # so the OpenID) included; our handlers catch everything else themselves.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Ask Linux to send `signum` to this process if the supervisor dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signum)


def freeze_startup_objects() -> None:
    """Exempt everything built at start-up from the garbage collector's full passes.

    Modules, the suffix list, the extractor's tables: a quarter of a million objects that
    live as long as the process. A full collection walked them all, ~0.1 s during which
    nothing was answered (the slowest 1% of replies).
    """
    gc.collect()
    gc.freeze()




def raise_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (systemd's soft default is 1,024).

    Every idle or slow connection holds a descriptor: at 1,024, a thousand half-sent
    requests starved real ones. Returns the limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


class AcceptErrorLog:
    """A loop exception handler that logs failed accepts as one line per interval.

    Everything else goes to the loop's default handler, unchanged.
    """

    def __init__(self, interval: float = ACCEPT_ERROR_INTERVAL) -> None:
        self.interval = interval
        self.last = -interval
        self.suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Handle one exception the loop reports."""
        if not str(context.get("message", "")).startswith("socket.accept() out of"):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self.last < self.interval:
            self.suppressed += 1
            return
        error = context.get("exception")
        log.error("cannot accept connections: %s (%d more since the last line; raise "
                  "LimitNOFILE)", error, self.suppressed)
        self.last, self.suppressed = now, 0
