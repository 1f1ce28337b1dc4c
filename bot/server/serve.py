"""`tipline serve`: the engine process and N HTTP workers on one port, supervised.

    supervisor ─┬─ engine      owns the database, answers batches (bot/server/engine.py)
                ├─ worker 1 ┐  HTTP on the shared port (SO_REUSEPORT), forwarding
                ├─ worker N ┘  to the engine over a private Unix socket
                └─ reader      reads queued images, each in a child it can kill
                               (bot/reader/)

SIGTERM drains: workers stop accepting and finish their in-flight requests, then the
engine finishes its batch. A child that dies is restarted; if the supervisor dies, Linux
sends its children SIGTERM.

One server per database: the supervisor holds an exclusive flock on `<database>.lock` for
its lifetime. The kernel drops it when the process ends, however it ends, so a server
killed with SIGKILL leaves no stale lock; the file only names the holder for the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from aiohttp import web

from bot.config import Settings
from bot.reader.service import ReaderProcess
from bot.server.access_log import SafeAccessLogger
from bot.server.app import init_app
from bot.server.process import (
    ENGINE_STOP,
    AcceptErrorLog,
    configure_logging,
    die_with_parent,
    freeze_startup_objects,
    raise_file_limit,
)
from db import fetch_jobs, reads
from db.connection import connect
from db.migrations import migrate

log = logging.getLogger(__name__)

# Seconds SIGTERM gives in-flight requests to finish: WeChat's own patience.
DRAIN_SECONDS = 5.0
# Seconds an idle connection stays open.
KEEPALIVE_SECONDS = 75.0
# Fewer open files than this and a burst of slow connections starves real requests.
MIN_FILES = 4096
# A child that keeps dying is restarted no faster than this.
RESTART_PAUSE = 1.0
async def _freeze_startup_objects(_: web.Application) -> None:
    freeze_startup_objects()


async def _quiet_accept_errors(_: web.Application) -> None:
    asyncio.get_running_loop().set_exception_handler(AcceptErrorLog())


def run_worker(settings: Settings, engine_socket: Path, reuse_port: bool,
               access_log: bool) -> None:
    """An HTTP worker: serve until SIGTERM or SIGINT, then drain."""
    configure_logging()
    die_with_parent()
    app = init_app(settings, engine_socket)
    app.on_startup.append(_freeze_startup_objects)  # after the engine link and intake
    app.on_startup.append(_quiet_accept_errors)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        reuse_port=reuse_port,
        # Off by default: nginx in front keeps one; ours never logs query strings (OpenIDs).
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        access_log_class=SafeAccessLogger,
        shutdown_timeout=DRAIN_SECONDS,
        # An idle connection, or one whose headers never finish, is closed after this
        # (aiohttp's default is an hour); longer than nginx's upstream keep-alive (60 s).
        keepalive_timeout=KEEPALIVE_SECONDS,
        print=None,
    )


def serve(settings: Settings, workers: int, access_log: bool = False) -> None:
    """Run the engine and `workers` HTTP workers until SIGTERM or SIGINT."""
    limit = raise_file_limit()  # children inherit it
    if limit < MIN_FILES:
        log.warning("only %d open files allowed: raise LimitNOFILE (see README)", limit)
    db = connect(settings.db_path)
    with serving_lock(settings):  # before releasing jobs a running server still holds
        migrate(db)  # here, so a bad database fails before any child
        # No fetcher or reader runs yet: jobs a killed one held are free to take at once.
        fetch_jobs.release(db)
        reads.release(db)
        db.conn.close()
        _check_port(settings)
        with tempfile.TemporaryDirectory(prefix="tipline-") as folder:  # 0700: private
            Supervisor(settings, Path(folder) / "engine.sock", workers, access_log).run()


def lock_path(db_path: Path) -> Path:
    """The lock file `serve` holds beside the database."""
    return db_path.with_name(db_path.name + ".lock")


@contextlib.contextmanager
def serving_lock(settings: Settings) -> Iterator[None]:
    """Hold the database's serve lock, or stop with one line naming the server holding it."""
    path = lock_path(settings.db_path)
    try:
        # O_CLOEXEC: the children are not holders; only the supervisor's lifetime counts.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise SystemExit(f"Error: cannot create {path}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "another server"
            raise SystemExit(f"Error: {settings.db_path} is already served by {holder}; "
                             "stop it first, or point TIPLINE_DB at another file") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"tipline serve pid {os.getpid()} on "
                     f"http://{settings.host}:{settings.port}/wechat\n".encode())
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _check_port(settings: Settings) -> None:
    """Fail in the foreground, with one line, if the port is taken."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((settings.host, settings.port))


class Supervisor:
    """Starts, watches, restarts and finally drains the engine and the workers."""

    def __init__(self, settings: Settings, socket_path: Path, workers: int,
                 access_log: bool) -> None:
        self.settings = settings
        self.socket_path = socket_path
        self.workers = workers
        self.access_log = access_log
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False

    def run(self) -> None:
        """Supervise until asked to stop, then drain workers first and the engine last."""
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        engine = self._start_engine()
        workers = [self._start_worker() for _ in range(self.workers)]
        reader = self._start_reader()
        log.info("serving http://%s:%d/wechat with %d worker(s), database %s",
                 self.settings.host, self.settings.port, self.workers, self.settings.db_path)
        while not self.stopping:
            time.sleep(0.2)
            if not engine.is_alive() and not self.stopping:
                log.error("the engine exited with %s; restarting it", engine.exitcode)
                time.sleep(RESTART_PAUSE)
                engine = self._start_engine()
            for index, worker in enumerate(workers):
                if not worker.is_alive() and not self.stopping:
                    log.error("worker %s exited with %s; restarting it", worker.pid,
                              worker.exitcode)
                    time.sleep(RESTART_PAUSE)
                    workers[index] = self._start_worker()
            if reader is not None and not reader.alive() and not self.stopping:
                log.error("the image reader exited; restarting it")
                time.sleep(RESTART_PAUSE)
                reader = self._start_reader()
        log.info("draining %d worker(s), then the engine", len(workers))
        if reader is not None:
            reader.stop()
        _terminate(workers, signal.SIGTERM, DRAIN_SECONDS + 5)  # all at once, then wait
        _terminate([engine], ENGINE_STOP, DRAIN_SECONDS + 5)

    def _start_engine(self) -> BaseProcess:
        from bot.server.engine import run_engine

        self.socket_path.unlink(missing_ok=True)
        process = self.context.Process(target=run_engine, name="tipline-engine",
                                       args=(self.settings, self.socket_path))
        process.start()
        deadline = time.monotonic() + 30
        while not self.socket_path.exists():
            if not process.is_alive() or time.monotonic() > deadline:
                raise SystemExit("Error: the engine did not start (see the log above)")
            time.sleep(0.02)
        return process

    def _start_worker(self) -> BaseProcess:
        process = self.context.Process(
            target=run_worker, name="tipline-worker",
            args=(self.settings, self.socket_path, self.workers > 1, self.access_log),
        )
        process.start()
        return process

    def _start_reader(self) -> ReaderProcess | None:
        """The image reader, unless TIPLINE_READERS=0."""
        if self.settings.readers == 0:
            return None
        reader = ReaderProcess(self.settings)
        reader.start()
        return reader

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True


def _terminate(processes: list[BaseProcess], signum: int, timeout: float) -> None:
    """Signal children, wait for them to drain, SIGKILL those that do not."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signum)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
