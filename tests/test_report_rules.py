"""The conversation's rules that depend on time, driven with an explicit clock.

The conversation is a pure function of (message, state, now, store): these tests call it
directly on a real SQLite file, moving "now" forward instead of waiting.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from db.connection import connect
from db.migrations import migrate
from db.reports import SqlStore
from handlers.context import Policy
from handlers.dispatcher import dispatch
from handlers.messages import Inbound
from triage.vocabulary import display_receipt as display
from triage.vocabulary import new_receipt
from triage.vocabulary import normalise_receipt as normalise

START = 1_800_000_000
_IDS = itertools.count(1)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    database = connect(tmp_path / "rules.db")
    migrate(database)
    yield database
    database.close()


class Phone:
    """A reporter whose messages carry an explicit time."""

    def __init__(self, db: sqlite_utils.Database, policy: Policy | None = None,
                 sender: str = "reporter-pseudonym",
                 receipts: Callable[[], str] = new_receipt) -> None:
        self.db = db
        self.state: dict[str, Any] = {}
        self.policy = policy or Policy()
        self.sender = sender
        self.receipts = receipts
        self.now = START

    def say(self, text: str, after: int = 5) -> str:
        self.now += after
        inbound = Inbound("text", self.sender, self.now, next(_IDS), text=text)
        return dispatch(inbound, self.state, self.now, SqlStore(self.db), self.policy,
                        receipts=self.receipts).text

    def file(self) -> str:
        for text in ("举报", "1", "huobi-vip.com", "他们让我充值USDT。", "跳过"):
            self.say(text)
        return self.say("提交")


def test_a_draft_left_past_its_ttl_is_dropped_with_a_friendly_notice(
    db: sqlite_utils.Database,
) -> None:
    phone = Phone(db, Policy(draft_ttl=3600))
    phone.say("举报")
    phone.say("1")
    phone.say("huobi-vip.com")
    old = phone.state["draft"]["id"]
    answer = phone.say("你好", after=3601)
    assert "超过1小时" in answer and "作废" in answer
    assert "draft" not in phone.state
    # A bare domain after the notice is a quick report: a new draft, asking the type.
    assert "举报对象是哪一类" in phone.say("huobi-vip.com")
    assert phone.state["draft"]["id"] != old


def test_a_draft_within_its_ttl_continues(db: sqlite_utils.Database) -> None:
    phone = Phone(db, Policy(draft_ttl=3600))
    phone.say("举报")
    phone.say("1")
    assert "发生了什么" in phone.say("huobi-vip.com", after=3500)


def test_a_reporter_may_file_ten_reports_a_day(db: sqlite_utils.Database) -> None:
    phone = Phone(db)
    for _ in range(10):
        assert "回执号" in phone.file()
        phone.now += 60  # a minute between reports keeps clear of the flood limit
    assert "明天再试" in phone.say("举报")
    phone.now += 86400
    assert "举报对象是哪一类" in phone.say("举报")


def test_the_flood_limit_resets_after_a_minute(db: sqlite_utils.Database) -> None:
    phone = Phone(db, Policy(messages_per_minute=5))
    replies = [phone.say("你好", after=1) for _ in range(6)]
    assert "太频繁" in replies[5] and "太频繁" not in replies[4]
    assert "太频繁" not in phone.say("你好", after=60)


def test_receipts_are_50_random_bits_in_crockford_base32() -> None:
    receipts = {new_receipt() for _ in range(1000)}
    assert len(receipts) == 1000
    assert all(len(r) == 10 and normalise(r) == r for r in receipts)
    assert new_receipt(bits=0) == "0000000000" and new_receipt(bits=2**50 - 1) == "ZZZZZZZZZZ"
    assert normalise(" abcde-fghjk ") == "ABCDEFGHJK"
    assert normalise("ABCDE-FGHIO") == "ABCDEFGH10"  # I and O read as 1 and 0
    assert normalise("ABCDE-FGHU0") is None and normalise("ABC") is None
    assert display("ABCDEFGHJK") == "ABCDE-FGHJK"


def test_a_taken_receipt_is_never_reused(db: sqlite_utils.Database) -> None:
    first = Phone(db, receipts=lambda: "0000000000")
    assert "00000-00000" in first.file()
    draws = iter(["0000000000", "1111111111"])  # the first draw collides
    second = Phone(db, sender="another-reporter", receipts=lambda: next(draws))
    assert "11111-11111" in second.file()


def test_names_are_filed_under_their_match_key(db: sqlite_utils.Database) -> None:
    phone = Phone(db)
    for text in ("举报", "1", "火幣網", "他们让我充值USDT。", "跳过", "提交"):
        phone.say(text)
    assert db.execute("SELECT kind, value, raw FROM report_identifiers").fetchall() == [
        ("name", "火币", "火幣網")]
