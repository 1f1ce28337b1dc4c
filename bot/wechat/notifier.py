"""The sender: claim a due notice → push it the best way WeChat allows → record how it went.

In order of preference: a customer-service message while the reporter's window is open
(they wrote in the last 48 hours, at most 5 messages a window); a template message when
TIPLINE_NOTIFY_TEMPLATE_ID is set (status changes only: a question needs the window);
otherwise the notice waits and rides at the top of the reply to their next message
(bot/server/pipeline.py). WeChat's refusals are respected: 45015/45047 close the window,
43101 (the user refused) stops pushes to that reporter. Not sent (5xx, busy, no
connection): tried again with capped backoff. Perhaps sent (a timeout mid-answer): never
sent again blindly; it is recorded as unconfirmed, and 查询 still shows the status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from bot.config import Settings
from bot.sealing import opener
from bot.wechat.api import ApiError, ApiUnavailable, SendUnknown, WeChatAPI
from bot.wechat.tasks import api_loop_ctx
from db import feedback
from db.connection import connect
from db.feedback import Notice
from handlers.notices import notice_text
from handlers.texts import name
from triage.vocabulary import display_receipt

log = logging.getLogger(__name__)
T = TypeVar("T")

WINDOW_CLOSED = frozenset({45015, 45047})  # out of the 48 h window / its 5 messages used
REFUSED = frozenset({43101, 43004, 40003})  # refused, not a follower, no such OpenID
UNCONFIRMED = "sent (unconfirmed: no answer from WeChat)"


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the sender looks for work and how it backs off."""

    poll: float = 1.0
    batch: int = 8
    lease: int = 120  # longer than a send may take, timeouts included
    retry_base: int = 30
    retry_max: int = 1800
    attempts: int = 8  # then the notice waits for the reporter's next message

    def retry_delay(self, attempts: int) -> int:
        """Seconds to wait after `attempts` failed attempts."""
        return int(min(self.retry_max, self.retry_base * 2 ** (attempts - 1)))


class Notifier:
    """Claims due notices and settles each: sent, left for the next reply, or retried."""

    def __init__(self, api: WeChatAPI, settings: Settings, schedule: Schedule = Schedule(),
                 clock: Callable[[], float] = time.time) -> None:
        self.api = api
        self.settings = settings
        self.schedule = schedule
        self.clock = clock
        self.open = opener(settings.contact_key)
        self.db = connect(settings.db_path)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:notify:{id(self):x}"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify-db")

    async def _db(self, call: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, self.db,
                                                                *args)

    async def run(self) -> None:
        """Send until cancelled; then give back what is still held."""
        try:
            while True:
                try:
                    worked = await self.run_once()
                except Exception:
                    log.exception("notifier: a round failed; its notices return after the lease")
                    worked = 0
                if not worked:
                    await asyncio.sleep(self.schedule.poll)
        finally:
            await asyncio.shield(self._db(feedback.release, self.worker))

    async def run_once(self) -> int:
        """Claim a batch of due notices and deliver them; return how many there were."""
        claimed = await self._db(feedback.claim, self.worker, int(self.clock()),
                                 self.schedule.lease, self.schedule.batch)
        await asyncio.gather(*(self.deliver(notice, reporter) for notice, reporter in claimed))
        return len(claimed)

    async def deliver(self, notice: Notice, reporter: str) -> None:
        """Push one notice, or leave it for the reporter's next message."""
        contact = await self._db(feedback.contact, reporter)
        if contact is None or contact.sealed_openid is None or contact.stopped \
                or contact.refused:
            await self._db(feedback.leave_for_reply, notice, self.worker, "no contact kept")
            return
        try:
            openid = self.open(contact.sealed_openid)
        except ValueError:
            await self._db(feedback.leave_for_reply, notice, self.worker,
                           "contact sealed with another TIPLINE_CONTACT_KEY")
            return
        text = notice_text(notice.kind, notice.body, notice.receipt, notice.lang,
                           notice.created_at)
        now = int(self.clock())
        open_window = (now - contact.last_message_at < feedback.WINDOW_SECONDS
                       and contact.window_sent < feedback.WINDOW_MESSAGES)
        if open_window and await self._push(notice, reporter, "custom",
                                            self.api.send_text(openid, text)):
            await self._db(feedback.count_send, reporter)
            return
        template = self.settings.notify_template_id
        if template and notice.kind == "status" and await self._push(
                notice, reporter, "template", self.api.send_template(openid, template, {
                    "first": text, "keyword1": display_receipt(notice.receipt),
                    "keyword2": name(notice.lang, notice.body)})):
            return
        await self._db(feedback.leave_for_reply, notice, self.worker,
                       "outside WeChat's window")

    async def _push(self, notice: Notice, reporter: str, via: str,
                    sending: Awaitable[None]) -> bool:
        """Await one send; True if the notice is settled (sent, perhaps sent, or retried)."""
        now = int(self.clock())
        try:
            await sending
        except asyncio.CancelledError:
            # Shut down mid-send: the message may have gone out. Settled as unconfirmed
            # before the lease is given back, so no later sender sends it again.
            await asyncio.shield(self._db(feedback.settle, notice, self.worker, UNCONFIRMED,
                                          via, now, "shut down before WeChat answered"))
            raise
        except SendUnknown as error:
            log.warning("notice %d: %s; not sent again", notice.id, error)
            await self._db(feedback.settle, notice, self.worker, UNCONFIRMED, via, now,
                           str(error))
            return True
        except ApiError as error:
            if error.errcode in WINDOW_CLOSED:
                await self._db(feedback.window_used, reporter)
            elif error.errcode in REFUSED:
                log.info("notice %d: the reporter refuses messages (%d)", notice.id,
                         error.errcode)
                await self._db(feedback.refused, reporter, now)
            else:
                log.warning("notice %d: WeChat refused the %s message: %s", notice.id, via,
                            error)
            return False
        except ApiUnavailable as error:
            if notice.attempts < self.schedule.attempts:
                due = now + self.schedule.retry_delay(notice.attempts)
                await self._db(feedback.retry_later, notice, self.worker, due, str(error))
                return True
            return False
        await self._db(feedback.settle, notice, self.worker, feedback.SENT, via, now)
        log.info("notice %d sent (%s)", notice.id, via)
        return True

    def close(self) -> None:
        """Close the database connection (after any call still running)."""
        self._pool.shutdown(wait=True)
        self.db.conn.close()


def notifier_ctx(settings: Settings, schedule: Schedule = Schedule()
                 ) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running a sender beside the webhook."""
    return api_loop_ctx(settings, "notifier", lambda api: Notifier(api, settings, schedule))
