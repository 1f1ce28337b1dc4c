"""Exactly once and durable across real `tipline serve` processes: workers, SIGKILL, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot.server.pipeline
from bot.config import Settings
from bot.pseudonym import pseudonymiser
from bot.server.protocol import Reply
from tests.conftest import SECRET, ServerProcess, WeChat, opened_ticket, rows
from tests.conftest import post_fresh as post


@contextlib.asynccontextmanager
async def serving(engine: Any, socket: Path, release: Callable[[], None]
                  ) -> AsyncIterator[tuple[Any, asyncio.Task[None]]]:
    """The engine answering on `socket`, a link to it, and the engine's task.

    On the way out `release` first frees whatever the test holds the engine's disk with,
    then the engine stops (its task awaited unless the test did) and closes.
    """
    from bot.server.engine import serve_engine
    from bot.server.link import EngineLink

    stop = asyncio.Event()
    task = asyncio.create_task(serve_engine(engine, socket, stop))
    link = EngineLink(socket)
    try:
        await link.connect()
        yield link, task
    finally:
        release()
        stop.set()
        if not task.done():
            await task
        await link.close()
        engine.close()



async def pids(url: str, seconds: float = 20.0) -> set[int]:
    """The worker processes that answer, seen over fresh connections (both once started)."""
    seen: set[int] = set()
    deadline = asyncio.get_running_loop().time() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as s:
        while len(seen) < 2 and asyncio.get_running_loop().time() < deadline:
            async with s.get(url + "/healthz") as response:
                seen.add((await response.json())["pid"])
            await asyncio.sleep(0.01)
    return seen


async def test_a_message_retried_concurrently_is_handled_once(
    weixin: WeChat, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    dispatch = bot.server.pipeline.dispatch

    def counting(*args: Any) -> Any:
        calls.append(args)
        return dispatch(*args)

    monkeypatch.setattr(bot.server.pipeline, "dispatch", counting)
    message = weixin.text("help", msg_id=777)
    replies = await asyncio.gather(*(weixin.send(message) for _ in range(6)))
    assert len(set(replies)) == 1
    assert len(calls) == 1


async def test_two_workers_racing_the_same_reporter_store_each_message_once(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(workers=2)
    assert len(await pids(server.url)) == 2, "both workers should be answering"
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", settings)
        # Each step's reply depends on the language the previous steps left in the state
        # (a thumbs-up has no script of its own to choose one: issue 19, item 5);
        # every step is delivered four times at once, as WeChat's retries would be.
        script = [("help", "How to use"), ("👍", "Received"), ("帮助", "使用说明"),
                  ("👍", "收到")] * 5
        for number, (text, expected) in enumerate(script):
            message = weixin.text(text, openid="o_racer", msg_id=5000 + number)
            answers = await asyncio.gather(*(post(weixin, message) for _ in range(4)))
            assert {status for status, _ in answers} == {200}
            assert len({reply for _, reply in answers}) == 1, answers
            assert expected in answers[0][1]
    sender = pseudonymiser(SECRET)("o_racer")
    assert rows(settings.db_path, "SELECT count(*) FROM inbound WHERE sender = ?",
                (sender,)) == [(len(script),)]
    assert rows(settings.db_path, "SELECT count(*) FROM conversations") == [(1,)]


async def test_a_sigkill_mid_stream_loses_no_answered_message(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(workers=2)
    answered: dict[tuple[str, int], str] = {}
    sent: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", settings)

        async def reporter(number: int) -> None:
            for step in range(10_000):
                message = weixin.text(["帮助", "help", "hello", "/x"][step % 4],
                                      openid=f"o_reporter_{number}")
                sent.append(message)
                try:
                    status, reply = await post(weixin, message)
                except aiohttp.ClientError:
                    return  # the server is gone
                if status == 200:
                    answered[(str(message["FromUserName"]), int(message["MsgId"]))] = reply

        stream = [asyncio.create_task(reporter(n)) for n in range(8)]
        while len(answered) < 150:
            await asyncio.sleep(0.01)
        server.kill_all()
        await asyncio.gather(*stream)

        restarted = server_process(workers=1)
        weixin.url = restarted.url + "/wechat"
        pseudonym = pseudonymiser(SECRET)
        stored = dict(((s, k), r) for s, k, r in rows(
            settings.db_path, "SELECT sender, dedup_key, reply FROM inbound"))
        for (openid, msg_id), reply in answered.items():
            assert stored[(pseudonym(openid), f"m{msg_id}")] == reply
        # WeChat retries everything, answered or not: each gets one answer, stored once.
        for message in sent:
            status, reply = await post(weixin, message)
            assert status == 200
            key = (str(message["FromUserName"]), int(message["MsgId"]))
            if key in answered:
                assert reply == answered[key]
    assert rows(settings.db_path, "SELECT count(*) FROM inbound") == [(len(sent),)]


async def test_sigterm_drains_requests_the_engine_is_still_working_on(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    """SIGTERM arrives while every request is accepted and waiting: all are answered."""
    import sqlite3

    server = server_process(workers=2)
    assert len(await pids(server.url)) == 2
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the engine now waits for the lock (up to 2 s)
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", settings)
        messages = [weixin.text("帮助", openid=f"o_{n}") for n in range(30)]
        tasks = [asyncio.create_task(post(weixin, m)) for m in messages]
        await asyncio.sleep(0.5)  # all sent, none answered
        assert not any(task.done() for task in tasks)
        server.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        holder.execute("ROLLBACK")
        holder.close()
        results = await asyncio.gather(*tasks)
    assert [status for status, _ in results] == [200] * len(messages)
    assert await asyncio.to_thread(server.process.wait, 30) == 0  # type: ignore[union-attr]
    assert rows(settings.db_path, "SELECT count(*) FROM inbound") == [(len(messages),)]


async def health(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(url + "/healthz") as response:
        return dict(await response.json())


async def test_a_crashed_engine_is_restarted_and_answered_messages_survive(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(workers=2)
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", settings)
        before = [weixin.text("help", openid=f"o_{n}") for n in range(20)]
        answers = [await post(weixin, m) for m in before]
        assert {status for status, _ in answers} == {200}
        engine = (await health(server.url))["engine_pid"]
        os.kill(engine, signal.SIGKILL)
        # Until the supervisor has restarted it, workers say 503 (WeChat retries later).
        statuses = []
        for _ in range(200):
            status, _ = await post(weixin, weixin.text("帮助"))
            statuses.append(status)
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1] == 200 and set(statuses) <= {200, 503}
        assert (await health(server.url))["engine_pid"] not in (None, engine)
        for message, (_, reply) in zip(before, answers, strict=True):
            assert await post(weixin, message) == (200, reply)  # a retry: the stored reply
    assert rows(settings.db_path, "SELECT count(*) FROM inbound") == [(21,)]


async def test_a_stopped_engine_means_503_within_wechats_five_seconds(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    """Regression (review): a wedged engine made every request hang."""
    server = server_process(workers=1)
    engine = (await health(server.url))["engine_pid"]
    os.kill(engine, signal.SIGSTOP)
    try:
        async with aiohttp.ClientSession() as session:
            weixin = WeChat(session, server.url + "/wechat", settings)
            started = asyncio.get_running_loop().time()
            status, _ = await post(weixin, weixin.text("帮助"))
            waited = asyncio.get_running_loop().time() - started
        assert status == 503 and waited < 5
    finally:
        os.kill(engine, signal.SIGCONT)


async def test_a_reply_leaves_only_once_its_commit_is_on_disk(
    settings: Settings, tmp_path: Path
) -> None:
    """The engine commits to the log, fsyncs it off the loop, and only then answers."""
    from bot.server.engine import Engine

    engine = Engine.open(settings)
    assert engine.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    disk_ready, synced = threading.Event(), threading.Event()
    fsync = engine.make_durable

    def slow_disk() -> None:
        disk_ready.wait(10)
        fsync()
        synced.set()

    engine.make_durable = slow_disk  # type: ignore[method-assign]
    async with serving(engine, tmp_path / "engine.sock", release=disk_ready.set) as (link, _):
        answer = asyncio.ensure_future(
            link.answer(opened_ticket(settings, "o_alice", "帮助", 1)))
        while not rows(settings.db_path, "SELECT count(*) FROM inbound")[0][0]:
            await asyncio.sleep(0.01)  # committed to the log, visible to other readers
        await asyncio.sleep(0.2)
        assert not answer.done()  # but not on disk yet: no reply
        disk_ready.set()
        reply = await answer
        assert isinstance(reply, Reply) and synced.is_set() and "举报" in reply.text


async def test_after_a_failed_fsync_nothing_is_answered_as_stored_and_the_engine_stops(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression (review): a batch committed while the failing fsync ran got a second
    fsync, which Linux may report as a success although the first one's pages were lost."""
    from bot.server.engine import Engine

    engine = Engine.open(settings)
    disk_fails = threading.Event()
    calls: list[int] = []

    def failing_disk() -> None:
        calls.append(1)
        disk_fails.wait(10)
        raise OSError(5, "Input/output error")

    engine.make_durable = failing_disk  # type: ignore[method-assign]
    async with serving(engine, tmp_path / "engine.sock", release=disk_fails.set) as (
            link, engine_task):
        first = asyncio.ensure_future(link.answer(opened_ticket(settings, "o_alice", "帮助", 1)))
        while rows(settings.db_path, "SELECT count(*) FROM inbound")[0][0] < 1:
            await asyncio.sleep(0.01)
        second = asyncio.ensure_future(link.answer(opened_ticket(settings, "o_bob", "帮助", 2)))
        while rows(settings.db_path, "SELECT count(*) FROM inbound")[0][0] < 2:
            await asyncio.sleep(0.01)  # committed while the first fsync still runs
        disk_fails.set()
        assert await first == (503, b"try again", "text/plain")
        assert await second == (503, b"try again", "text/plain")
        with pytest.raises(OSError):
            await engine_task  # the supervisor restarts it: after a failed fsync nothing is sure
        assert len(calls) == 1
