"""A loop that talks to the WeChat API beside the webhook, for as long as the app runs.

The media fetcher and the notice sender are both one: built on an API client, run as a
task, cancelled at shutdown (they give back what they hold), then closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

from bot.config import Settings
from bot.wechat.api import WeChatAPI, open_api


class Loop(Protocol):
    """What runs beside the webhook."""

    def run(self) -> Coroutine[Any, Any, None]:
        """Work until cancelled."""
        ...

    def close(self) -> None:
        """Release what the loop holds."""
        ...


def api_loop_ctx(settings: Settings, name: str, make: Callable[[WeChatAPI], Loop]
                 ) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context running `make(api).run()` as a task named `name`."""

    async def run_loop(app: web.Application) -> AsyncIterator[None]:
        async with open_api(settings) as api:
            loop = make(api)
            task = asyncio.create_task(loop.run(), name=name)
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                loop.close()

    return run_loop
