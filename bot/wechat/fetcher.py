"""The media fetcher: downloads queued photos, voice and video before WeChat deletes them.

Runs as a task in every `tipline serve` worker. Jobs are claimed under a lease in SQLite,
so two workers never download the same item; a failure is retried with backoff until the
media would have expired at WeChat, and a permanent one is recorded with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from bot.config import Settings
from bot.wechat.api import ApiError, ApiUnavailable, WeChatAPI
from bot.wechat.tasks import api_loop_ctx
from db import fetch_jobs
from db.connection import connect
from db.fetch_jobs import FetchJob
from triage.evidence import evidence_path

log = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds before the media expires at WeChat when the last attempt is made.
LAST_CALL = 600


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the fetcher looks for work and how it backs off."""

    poll: float = 1.0  # seconds between looks at an empty queue
    batch: int = 8  # downloads at once: a free slot is filled as soon as one ends
    # Seconds one job may take, its retries included: a download trickling a byte every
    # few seconds is given up and retried later, and never holds up the others.
    deadline: float = 300.0
    # Longer than a job's deadline, so a lease only runs out when its fetcher died.
    lease: int = 600
    retry_base: int = 30  # seconds before the first retry; doubles up to retry_max
    retry_max: int = 3600

    def retry_delay(self, attempts: int) -> int:
        """Seconds to wait after `attempts` failed attempts."""
        return int(min(self.retry_max, self.retry_base * 2 ** (attempts - 1)))


class Fetcher:
    """Claims due fetch jobs and settles each one: fetched, retry later, or failed."""

    def __init__(self, api: WeChatAPI, db_path: Path, evidence_dir: Path,
                 schedule: Schedule = Schedule(), clock: Callable[[], float] = time.time
                 ) -> None:
        self.api = api
        self.db = connect(db_path)
        self.evidence_dir = evidence_dir
        self.schedule = schedule
        self.clock = clock
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        # One thread owns the connection, so database calls run in the order they were
        # made: a release at shutdown cannot overtake a claim that is still committing.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-db")

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    async def run(self) -> None:
        """Fetch until cancelled, `batch` jobs at a time; then give back what is held.

        Each job is a task of its own with its own deadline: a free slot is claimed
        again at once, so one slow download never waits on, or holds up, the others.
        """
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self.schedule.batch - len(running)
                for job in await self._claim(free) if free else []:
                    running.add(asyncio.create_task(self.fetch_in_time(job),
                                                    name=f"fetch-{job.evidence_id}"))
                if not running:
                    await asyncio.sleep(self.schedule.poll)
                    continue
                done, _ = await asyncio.wait(running, timeout=self.schedule.poll,
                                             return_when=asyncio.FIRST_COMPLETED)
                running -= done
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        # A settle that found the database locked, say: the job comes
                        # back when its lease runs out.
                        log.error("fetcher: %s failed: %r", task.get_name(), task.exception())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            # Cancelled mid-download: the jobs go back to the queue for the next start.
            await asyncio.shield(self._db(fetch_jobs.release, self.db, self.worker))

    async def run_once(self) -> int:
        """Claim a batch of due jobs and settle them all; return how many there were."""
        jobs = await self._claim(self.schedule.batch)
        await asyncio.gather(*(self.fetch_in_time(job) for job in jobs))
        return len(jobs)

    async def _claim(self, limit: int) -> list[FetchJob]:
        try:
            return await self._db(fetch_jobs.claim, self.db, self.worker, int(self.clock()),
                                  self.schedule.lease, limit)
        except Exception as error:  # a locked or read-only database: try again later
            log.warning("fetch queue unavailable: %s", error)
            return []

    async def fetch_in_time(self, job: FetchJob) -> None:
        """Fetch one job within its deadline; past it, the job is retried later."""
        try:
            async with asyncio.timeout(self.schedule.deadline):
                await self.fetch(job)
        except TimeoutError:
            log.warning("evidence %d: the download took over %.0f s; retried later",
                        job.evidence_id, self.schedule.deadline)
            await self._later(job, f"download took over {self.schedule.deadline:.0f} s")

    async def fetch(self, job: FetchJob) -> None:
        """Download one media item and record the outcome."""
        try:
            stored = await self.api.download_media(job.media_id, self.evidence_dir)
        except ApiError as error:
            if error.permanent:
                log.warning("evidence %d cannot be fetched: %s", job.evidence_id, error)
                await self._settle(fetch_jobs.failed, job, self.worker, str(error))
            else:
                await self._later(job, f"WeChat error {error}")
            return
        except ApiUnavailable as error:
            await self._later(job, str(error))
            return
        except Exception as error:  # a full disk, say: keep the job, keep the fetcher alive
            log.exception("evidence %d: download failed", job.evidence_id)
            await self._later(job, type(error).__name__)
            return
        kept = await self._settle(fetch_jobs.fetched, job, self.worker, stored.sha256,
                                  stored.size, stored.mime, int(self.clock()))
        if kept:
            log.info("evidence %d fetched (%d bytes, %s)", job.evidence_id, stored.size,
                     stored.mime)
        else:
            await self._db(self._forget_unclaimed, stored.sha256)

    async def _later(self, job: FetchJob, error: str) -> None:
        now = int(self.clock())
        # The last try comes just before WeChat deletes the media, however long the backoff.
        due = min(now + self.schedule.retry_delay(job.attempts), job.expires_at - LAST_CALL)
        if due <= now:
            log.warning("evidence %d given up after %d attempts: %s", job.evidence_id,
                        job.attempts, error)
            reason = f"expired at WeChat before it could be fetched ({error})"
            await self._settle(fetch_jobs.failed, job, self.worker, reason)
            return
        log.info("evidence %d: attempt %d failed (%s); retry in %d s", job.evidence_id,
                 job.attempts, error, due - int(self.clock()))
        await self._db(fetch_jobs.retry_later, self.db, job, self.worker, due, error)

    async def _settle(self, settle: Callable[..., bool], *args: object) -> bool:
        return await self._db(settle, self.db, *args)

    def _forget_unclaimed(self, sha256: str) -> None:
        """Delete a file whose evidence was discarded (a cancelled draft) while it downloaded."""
        used = self.db.execute("SELECT 1 FROM evidence WHERE sha256 = ? LIMIT 1",
                               (sha256,)).fetchone()
        if used is None:
            with contextlib.suppress(FileNotFoundError):
                evidence_path(self.evidence_dir, sha256).unlink()

    def close(self) -> None:
        """Close the database connection (after any call still running)."""
        self._pool.shutdown(wait=True)
        self.db.conn.close()


def fetcher_ctx(settings: Settings, schedule: Schedule = Schedule()
                ) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running a fetcher beside the webhook."""
    return api_loop_ctx(settings, "fetcher", lambda api: Fetcher(
        api, settings.db_path, settings.evidence_dir, schedule))
