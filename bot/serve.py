"""`tipline serve`: one or more worker processes on one port and one database."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from aiohttp import web

from bot.access_log import SafeAccessLogger
from bot.app import init_app
from bot.config import Settings
from db.connection import connect
from db.migrations import migrate

log = logging.getLogger(__name__)

# Seconds SIGTERM gives in-flight requests to finish: WeChat's own patience.
DRAIN_SECONDS = 5.0
# A worker that keeps dying is restarted no faster than this.
RESTART_PAUSE = 1.0
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with times and process ids (several workers share the stream)."""
    logging.basicConfig(
        level=level, stream=sys.stderr,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )


def run_worker(settings: Settings, reuse_port: bool, access_log: bool = False) -> None:
    """Serve the webhook in this process until SIGTERM or SIGINT, then drain."""
    configure_logging()
    if reuse_port:
        _die_with_parent()
    web.run_app(
        init_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        # Off by default: nginx in front keeps one; ours never logs query strings (OpenIDs).
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        access_log_class=SafeAccessLogger,
        shutdown_timeout=DRAIN_SECONDS,
        print=None,
    )


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this worker if the supervisor dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def serve(settings: Settings, workers: int, access_log: bool = False) -> None:
    """Run `workers` processes sharing the port (SO_REUSEPORT) and the database."""
    migrate(connect(settings.db_path))  # once, here, so a bad database fails before forking
    log.info("serving http://%s:%d/wechat with %d worker(s), database %s",
             settings.host, settings.port, workers, settings.db_path)
    if workers == 1:
        run_worker(settings, False, access_log)
        return
    _supervise(settings, workers, access_log)


def _supervise(settings: Settings, workers: int, access_log: bool) -> None:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=run_worker, args=(settings, True, access_log))
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [start() for _ in range(workers)]
    while not stopping:
        time.sleep(0.2)
        for index, child in enumerate(children):
            if not child.is_alive() and not stopping:
                log.error("worker %s exited with %s; restarting it", child.pid, child.exitcode)
                time.sleep(RESTART_PAUSE)
                children[index] = start()
    log.info("draining %d worker(s)", len(children))
    for child in children:
        if child.is_alive():
            child.terminate()  # SIGTERM: the worker stops accepting and drains
    for child in children:
        child.join(DRAIN_SECONDS + 5)
        if child.is_alive():
            child.kill()
