"""The conversation's rules that depend on time, driven with an explicit clock.

The conversation is a pure function of (message, state, now, store): these tests call it
directly on a real SQLite file, moving "now" forward instead of waiting. The draft's
stored shape is here too: a draft saved one day must load the next.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from db.connection import connect
from db.conversations import dump_state, load_state, save_state
from db.migrations import migrate
from db.reports import SqlStore
from handlers.context import Policy
from handlers.dispatcher import dispatch
from handlers.draft import Draft
from handlers.messages import Inbound
from handlers.report import STEPS
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


WHO_IDS = [["url", "http://www.binance-vip.cc", "www.binance-vip.cc"],
           ["domain", "binance-vip.cc", "www.binance-vip.cc"],
           ["wechat_id", "coinvip888", "coinvip888"]]
# Drafts as the untyped code (a dict in the state) stored them: copied from its rows.
STORED_DRAFTS: dict[str, dict[str, Any]] = {
    "just started": {"evidence": 0, "id": "s1-m1", "note_ids": [], "started_at": START,
                     "step": "target_type", "updated_at": START},
    "a quick report": {"evidence": 0, "id": "s2-m9", "note_ids": [], "started_at": START,
                       "step": "target_type", "updated_at": START,
                       "who": "https://okx-pro.vip/register?ref=888",
                       "who_ids": [["url", "https://okx-pro.vip/register?ref=888",
                                    "https://okx-pro.vip/register?ref=888"],
                                   ["domain", "okx-pro.vip", "okx-pro.vip"]]},
    "evidence reopened by back": {
        "evidence": 1, "evidence_done": False, "id": "s1-m1",
        "note_ids": [["domain", "okx-pro.vip", "okx-pro.vip"]], "started_at": START,
        "step": "evidence", "target_type": "exchange", "updated_at": START + 35,
        "what": "群里有人推荐USDT理财，让我转账。", "what_ids": [],
        "who": "币安国际 www.binance-vip.cc 微信 coinvip888", "who_ids": WHO_IDS},
    "confirming": {
        "evidence": 1, "evidence_done": True, "id": "s1-m1",
        "note_ids": [["domain", "okx-pro.vip", "okx-pro.vip"]], "started_at": START,
        "step": "confirm", "target_type": "exchange", "updated_at": START + 40,
        "what": "群里有人推荐USDT理财，让我转账。", "what_ids": [],
        "who": "币安国际 www.binance-vip.cc 微信 coinvip888", "who_ids": WHO_IDS},
}


@pytest.mark.parametrize("stored", STORED_DRAFTS.values(), ids=STORED_DRAFTS.keys())
def test_a_draft_stored_before_drafts_were_typed_loads_and_is_stored_unchanged(
    db: sqlite_utils.Database, stored: dict[str, Any],
) -> None:
    save_state(db, "reporter", dump_state({"draft": stored}), START)
    state, saved = load_state(db, "reporter")
    assert dump_state({"draft": Draft.from_state(state["draft"]).to_state()}) == saved


def test_a_stored_draft_loads_into_its_typed_fields() -> None:
    draft = Draft.from_state(STORED_DRAFTS["evidence reopened by back"])
    assert draft.who_ids is not None and draft.who_ids[2] == ("wechat_id", "coinvip888",
                                                              "coinvip888")
    assert draft.what_ids == [] and draft.evidence == 1 and draft.updated_at == START + 35
    assert draft.done == {"evidence": False} and draft.step == "evidence"
    assert [step.answered(draft) for step in STEPS] == [True, True, True, False]
    fresh = Draft.from_state(STORED_DRAFTS["just started"])
    assert fresh.who is None and fresh.who_ids is None and not fresh.done
    assert not any(step.answered(fresh) for step in STEPS)


def test_a_draft_round_trips_through_the_stored_state(db: sqlite_utils.Database) -> None:
    draft = Draft("r-7", START, START + 60, step="confirm", who="CoinPro",
                  who_ids=[("name", "coinpro", "CoinPro")], what="它让我充值USDT。", what_ids=[],
                  evidence=2, note_ids=[("domain", "coinpro.app", "coinpro.app")],
                  done={"evidence": True})
    draft.skip("target_type")  # as an optional step is skipped: answered with nothing
    save_state(db, "reporter", dump_state({"draft": draft.to_state()}), START)
    state, _ = load_state(db, "reporter")
    assert Draft.from_state(state["draft"]) == draft
    assert state["draft"]["target_type"] is None  # null: skipped; absent: not asked yet
    assert STEPS[0].answered(Draft.from_state(state["draft"]))


def test_a_phone_continues_a_draft_stored_before_drafts_were_typed(
    db: sqlite_utils.Database,
) -> None:
    phone = Phone(db)
    phone.state = {"draft": {**STORED_DRAFTS["confirming"], "updated_at": phone.now}}
    assert "回执号" in phone.say("提交")
    assert db.execute("SELECT kind, value FROM report_identifiers ORDER BY kind").fetchall() == [
        ("domain", "binance-vip.cc"), ("domain", "okx-pro.vip"),
        ("url", "http://www.binance-vip.cc"), ("wechat_id", "coinvip888")]


@pytest.mark.parametrize(("ttl", "zh", "en"), [
    (60, "超过1分钟", "over 1 minute and"), (120, "超过2分钟", "over 2 minutes and"),
    (3600, "超过1小时", "over 1 hour and"), (5400, "超过90分钟", "over 90 minutes and"),
    (86400, "超过24小时", "over 24 hours and"), (3 * 86400, "超过3天", "over 3 days and"),
])
def test_the_expiry_notice_says_the_real_time_the_draft_was_kept(
    db: sqlite_utils.Database, ttl: int, zh: str, en: str,
) -> None:
    chinese, english = Phone(db, Policy(draft_ttl=ttl)), Phone(db, Policy(draft_ttl=ttl),
                                                              sender="an-english-reporter")
    chinese.say("举报")
    english.say("report")
    assert zh in chinese.say("你好", after=ttl + 1)
    assert en in english.say("status", after=ttl + 1)
