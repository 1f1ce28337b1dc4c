"""A worker's connection to the engine: send a request, await its answer."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from pathlib import Path
from typing import Any

from bot import frames
from bot.engine import MESSAGE, PING, Answer, Delivery

CONNECT_SECONDS = 10.0


class EngineUnavailable(ConnectionError):
    """The engine cannot be reached (restarting, or gone)."""


class EngineLink:
    """One Unix-socket connection to the engine, shared by all requests of a worker."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Answer]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()

    async def connect(self, timeout: float = CONNECT_SECONDS) -> None:
        """Connect, retrying while the engine starts."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.path))
                break
            except OSError as error:
                if asyncio.get_running_loop().time() > deadline:
                    raise EngineUnavailable(f"cannot reach the engine: {error}") from None
                await asyncio.sleep(0.05)
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read_answers(reader))

    async def answer(self, delivery: Delivery) -> Answer:
        """Have the engine answer one delivery."""
        d = delivery
        return await self._ask((MESSAGE, d.timestamp, d.raw_timestamp, d.nonce, d.encrypted,
                                d.msg_signature, d.body, d.now))

    async def ping(self) -> Answer:
        """Ask the engine whether its database commits."""
        return await self._ask((PING,))

    async def close(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task

    async def _ask(self, frame: tuple[Any, ...]) -> Answer:
        if self._writer is None or self._writer.is_closing():
            async with self._connecting:
                if self._writer is None or self._writer.is_closing():
                    await self.connect(timeout=1.0)
        assert self._writer is not None
        request_id = next(self._ids)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        self._writer.write(frames.encode((frame[0], request_id, *frame[1:])))
        return await future

    async def _read_answers(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                request_id, status, body, content_type = await frames.read(reader)
                future = self._waiting.pop(request_id, None)
                if future is not None and not future.done():
                    future.set_result((status, body, content_type))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if self._writer is not None:
                self._writer.close()
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(EngineUnavailable("the engine went away"))
