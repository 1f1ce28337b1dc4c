"""Sizing bulk write transactions so that each holds the write lock about as long as wanted.

The chat's engine waits up to 2 s for the write lock (db.connection.BUSY_TIMEOUT_MS), so
bulk work (an import, triage's catch-up) commits in pieces. What a row costs varies tenfold
with the size of the tables, whose pages it writes at random, so a piece's number of rows
follows from the time of the last full piece rather than from a constant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

_clock = time.perf_counter


@dataclass(slots=True)
class Pace:
    """How many rows the next transaction takes (`size`), learnt from the last ones."""

    size: int  # the first transaction's: a guess
    seconds: float  # the hold of the write lock aimed at
    low: int
    high: int
    growth: float = 4.0  # at most this many times the last size: one fast piece is no proof

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.size <= self.high:
            raise ValueError(f"pace sizes out of order: {self.low} {self.size} {self.high}")

    def start(self) -> float:
        """Note when a transaction starts (pass it to `done`)."""
        return _clock()

    def done(self, started: float, rows: int, full: bool | None = None) -> None:
        """Learn from a transaction that started at `started` and wrote `rows` rows.

        Only a full piece tells what a piece costs: `full` says whether it was given all
        `size` rows (by default, whether it wrote them all).
        """
        if rows <= 0 or not (rows >= self.size if full is None else full):
            return
        wanted = rows * self.seconds / max(_clock() - started, 1e-3)
        self.size = round(max(self.low, min(self.high, self.size * self.growth, wanted)))
