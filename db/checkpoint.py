"""Background WAL checkpoints, so the writer's commits never pay for them.

In WAL mode SQLite copies the log back into the database (a checkpoint, with its own
fsyncs) inside whichever COMMIT crosses the threshold. Under synchronous=FULL that made
one batch in a few hundred wait several times longer than the rest. A thread with its
own connection checkpoints instead, PASSIVE (it never blocks the writer); the writer's
automatic checkpoint stays as a safety net at a much higher threshold.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from db.connection import connect

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.5
# Pages the writer lets the log grow to before checkpointing itself (about 80 MB).
WRITER_AUTOCHECKPOINT = 20000


class Checkpointer:
    """A daemon thread checkpointing one database's WAL every half second."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tipline-checkpoint",
                                        daemon=True)

    def start(self) -> None:
        """Start checkpointing."""
        self._thread.start()

    def is_alive(self) -> bool:
        """Whether the thread runs."""
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop after the checkpoint in progress."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        db = connect(self.path)
        try:
            while not self._stop.wait(INTERVAL_SECONDS):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.exception("WAL checkpoint failed; the writer's own will take over")
        finally:
            db.close()
