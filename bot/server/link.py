"""A worker's connection to the engine: send a request, await its answer."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from bot.server import protocol
from bot.server.protocol import MESSAGE, PING, Answer, Ticket, Verdict

CONNECT_SECONDS = 10.0
# WeChat gives up after 5 s: an answer later than this is worth less than a 503.
ANSWER_SECONDS = 4.0
SWEEP_SECONDS = 0.25


class EngineUnavailable(ConnectionError):
    """The engine cannot be reached (restarting, or gone)."""


class _LinkProtocol(asyncio.Protocol):
    def __init__(self, link: EngineLink) -> None:
        self.link = link
        self.reader = protocol.FrameReader()

    def data_received(self, data: bytes) -> None:
        waiting = self.link._waiting
        for request_id, verdict in self.reader.feed(data):
            entry = waiting.pop(request_id, None)
            if entry is not None and not entry[0].done():
                entry[0].set_result(verdict)

    def connection_lost(self, exc: Exception | None) -> None:
        self.link._lost()


class EngineLink:
    """One Unix-socket connection to the engine, shared by all requests of a worker.

    Requests made in one turn of the event loop leave in one frame (one write), and the
    engine answers a batch in one frame per worker.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = itertools.count(1)
        # request id → (the answer's future, when to give up on it)
        self._waiting: dict[int, tuple[asyncio.Future[Verdict], float]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._outbox: list[protocol.Item] = []
        self._transport: asyncio.Transport | None = None
        self._connecting = asyncio.Lock()

    async def connect(self, timeout: float = CONNECT_SECONDS) -> None:
        """Connect, retrying while the engine starts."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                transport, _ = await loop.create_unix_connection(
                    lambda: _LinkProtocol(self), str(self.path))
                break
            except OSError as error:
                if loop.time() > deadline:
                    raise EngineUnavailable(f"cannot reach the engine: {error}") from None
                await asyncio.sleep(0.05)
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    async def answer(self, ticket: Ticket) -> Verdict:
        """Have the engine run one ticket: its reply text, or a final answer (403, 503)."""
        return await self._ask((MESSAGE, ticket), ANSWER_SECONDS)

    async def ping(self, timeout: float = ANSWER_SECONDS) -> Answer:
        """Ask the engine whether its database commits."""
        verdict = await self._ask((PING,), timeout)
        assert isinstance(verdict, Answer)
        return verdict

    async def close(self) -> None:
        """Close the connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._transport is not None:
            self._transport.close()

    async def _ask(self, item: protocol.Item, timeout: float) -> Verdict:
        if self._transport is None or self._transport.is_closing():
            async with self._connecting:
                if self._transport is None or self._transport.is_closing():
                    await self.connect(timeout=1.0)
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)
        future: asyncio.Future[Verdict] = loop.create_future()
        self._waiting[request_id] = (future, loop.time() + timeout)
        if not self._outbox:
            loop.call_soon(self._flush)
        self._outbox.append((item[0], request_id, *item[1:]))
        return await future

    async def _sweep(self) -> None:
        """Fail requests the engine has not answered in time (one timer, not one each)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            now = loop.time()
            late = [rid for rid, (_, deadline) in self._waiting.items() if deadline <= now]
            for request_id in late:
                future, _ = self._waiting.pop(request_id)
                if not future.done():
                    future.set_exception(EngineUnavailable("the engine did not answer in time"))

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, []
        if self._transport is None or self._transport.is_closing():
            self._lost()
            return
        self._transport.write(protocol.encode(outbox))

    def _lost(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for future, _ in waiting.values():
            if not future.done():
                future.set_exception(EngineUnavailable("the engine went away"))
