"""What every server process does at start: logging, dying with its parent, a frozen heap."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# The engine stops only on this, sent by the supervisor once the workers have drained:
# a SIGTERM to the whole group (Ctrl-C, systemd) must not cut the workers off from it.
ENGINE_STOP = signal.SIGUSR1


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with times and process ids (several processes share the stream)."""
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
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


