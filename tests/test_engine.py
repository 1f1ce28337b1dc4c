"""The engine's batch transaction on its own: tickets in, verdicts out, a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import Settings
from bot.server.engine import Engine
from bot.server.gate import Intake
from bot.server.protocol import Reply

from .conftest import opened_ticket


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine.open(settings)
    yield engine
    engine.close()


def rows(settings: Settings, sql: str) -> list[Any]:
    with sqlite3.connect(settings.db_path) as conn:
        return conn.execute(sql).fetchall()


def test_a_message_that_fails_halfway_leaves_nothing_while_its_batch_mates_are_kept(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.server.pipeline

    intake = Intake(settings)
    bob = intake.pseudonymise("o_bob")
    record = bot.server.pipeline.record

    def failing_for_bob(db: Any, sender: str, *args: Any) -> None:
        if sender == bob:  # after bob's conversation state was already saved
            raise RuntimeError("the disk hiccuped")
        record(db, sender, *args)

    monkeypatch.setattr(bot.server.pipeline, "record", failing_for_bob)
    tickets = [opened_ticket(settings, "o_alice", "帮助", 1),
               opened_ticket(settings, "o_bob", "举报", 2),
               opened_ticket(settings, "o_carol", "帮助", 3)]
    verdicts = engine.commit(engine.apply(tickets))

    assert isinstance(verdicts[0], Reply) and "使用说明" in verdicts[0].text
    assert isinstance(verdicts[1], Reply) and "稍后再试" in verdicts[1].text
    assert isinstance(verdicts[2], Reply) and "使用说明" in verdicts[2].text
    claimed = {sender for (sender,) in rows(settings, "SELECT sender FROM inbound")}
    assert claimed == {intake.pseudonymise("o_alice"), intake.pseudonymise("o_carol")}
    assert rows(settings, f"SELECT * FROM conversations WHERE reporter = '{bob}'") == []
    assert rows(settings, "SELECT count(*) FROM nonces") == [(3,)]  # bob's is spent too


def test_two_requests_of_one_batch_sharing_a_nonce_keep_only_the_first_body(
    engine: Engine, settings: Settings
) -> None:
    first = opened_ticket(settings, "o_alice", "帮助", 1, nonce="shared")
    forged = opened_ticket(settings, "o_mallory", "帮助", 2, nonce="shared")._replace(
        timestamp=first.timestamp)
    retry = first
    verdicts = engine.commit(engine.apply([first, forged, retry]))

    assert isinstance(verdicts[0], Reply) and verdicts[2] == verdicts[0]  # a retry: same reply
    assert verdicts[1] == (403, b"forbidden", "text/plain")
    assert rows(settings, "SELECT count(*) FROM inbound") == [(1,)]


def test_a_batch_that_cannot_take_the_write_lock_is_told_to_come_again(
    engine: Engine, settings: Settings
) -> None:
    blocker = sqlite3.connect(settings.db_path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    engine.db.conn.execute("PRAGMA busy_timeout = 0")
    try:
        verdicts = engine.commit(engine.apply([opened_ticket(settings, "o_alice", "帮助", 1)]))
    finally:
        blocker.rollback()
        blocker.close()
    assert verdicts == [(503, b"try again", "text/plain")]
    assert not engine.db.conn.in_transaction
    assert rows(settings, "SELECT count(*) FROM nonces") == [(0,)]
