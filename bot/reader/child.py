"""The reader's child process: reads one image at a time, sent over a pipe, until the pipe closes.

It holds the OCR models (about 450 MB) and runs native decoders on untrusted files: a
crash, a hang or a memory blow-up here ends this process only, and the parent
(bot/reader/pool.py) reports the job and starts another child.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bot.server.process import die_with_parent
from triage.pictures.decode import Unreadable

# Messages back to the parent: ("done", (found, text, qr, phash)) or ("unreadable", reason).
DONE, UNREADABLE, READY = "done", "unreadable", "ready"


def serve(conn: Connection, max_bytes: int, max_pixels: int, threads: int) -> None:
    """Read each image path received; answer with what was read, or why it cannot be."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    die_with_parent(signal.SIGKILL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash on a hostile file: no core
    background()
    from triage.pictures.ocr import Ocr
    from triage.pictures.read import read_picture

    ocr = Ocr(threads=threads)
    conn.send((READY, None))
    while True:
        try:
            path = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_read(Path(path), max_bytes, max_pixels, read_picture, ocr))


def background() -> None:
    """Run only on time the webhook leaves idle: reading is background work.

    SCHED_IDLE gives the CPU to this process only when nothing else wants it, so a
    backlog of images never takes a core from the engine or a worker (bench/reading).
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or not allowed: the lowest niceness
        with contextlib.suppress(OSError):
            os.nice(19)


def _read(path: Path, max_bytes: int, max_pixels: int, read_picture: Any, ocr: Any
          ) -> tuple[str, Any]:
    """One image's answer."""
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except FileNotFoundError:
        return UNREADABLE, "the file is missing from the evidence store"
    except OSError as error:
        return UNREADABLE, f"the file cannot be opened ({error.strerror})"
    try:
        reading = read_picture(data, max_bytes=max_bytes, max_pixels=max_pixels,
                               lines=ocr.lines)
    except Unreadable as error:
        return UNREADABLE, str(error)
    except MemoryError:
        return UNREADABLE, "out of memory"
    found = [(f.kind, f.value, f.raw, f.source) for f in reading.found]
    return DONE, (found, reading.text, list(reading.qr), reading.phash)
