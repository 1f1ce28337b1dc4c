"""Abandoned drafts: their photos, locations and files go when their time is up."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.server.engine import Engine
from bot.server.pipeline import process
from db import evidence_trash
from db.connection import connect, write_transaction
from db.migrations import migrate
from handlers.context import Policy
from handlers.messages import Inbound
from tests.conftest import make_wechat, rows
from tests.fake_wechat_api import FakeWeChatAPI
from tests.filing import fetched
from tests.test_cli import run
from tests.test_conversation import Reporter, receipt_in
from tests.test_evidence import PHOTO, _until, api_settings, fake  # noqa: F401
from triage.evidence import evidence_path

TTL = 3600
_IDS = itertools.count(70_000_000_000)
SHA = hashlib.sha256(PHOTO).hexdigest()


class Phone:
    """A reporter talking to the engine's own pipeline at times the test picks."""

    def __init__(self, settings: Settings, sender: str = "reporter-a", now: int | None = None
                 ) -> None:
        self.db = connect(settings.db_path)
        migrate(self.db)
        self.sender = sender
        self.now = int(time.time()) if now is None else now
        self.policy = Policy(draft_ttl=TTL, media_status="pending")

    def send(self, kind: str = "text", after: int = 5, **fields: object) -> str:
        self.now += after
        msg_id = None if kind == "event" else next(_IDS)
        inbound = Inbound(kind, self.sender, self.now, msg_id, **fields)  # type: ignore[arg-type]
        with write_transaction(self.db):
            return process(self.db, inbound, self.now, "zh", self.policy)

    def start_report_with_photo(self, media_id: str = "media-1") -> None:
        for text in ("举报", "1", "币安国际 www.binance-vip.cc", "让我转账USDT。"):
            self.send(text=text)
        self.send("image", media_id=media_id, pic_url=f"http://mmbiz.qpic.cn/{media_id}")
        self.send("location", latitude=39.9, longitude=116.4, label="朝阳区某小区3号楼")


def housekeep(settings: Settings, at: float) -> None:
    """One housekeeping pass of the engine, as its loop runs it once a minute."""
    engine = Engine(settings, connect(settings.db_path))
    try:
        engine.housekeep(at)
    finally:
        engine.close()


def state(settings: Settings, sender: str = "reporter-a") -> dict[str, object]:
    [(stored,)] = rows(settings.db_path, "SELECT state FROM conversations WHERE reporter = ?",
                       (sender,))
    return dict(json.loads(stored))


async def test_an_abandoned_draft_goes_with_its_photo_location_and_file_once_its_time_is_up(
    api_settings: Settings, fake: FakeWeChatAPI,  # noqa: F811
) -> None:
    """Regression (issue 18, item 10): nothing swept drafts, their evidence or their files."""
    fake.media["media-1"] = (PHOTO, "image/jpeg")
    async for weixin in make_wechat(api_settings)():
        alice = Reporter(weixin)
        for text in ("举报", "1", "币安国际 www.binance-vip.cc", "让我转账USDT。"):
            await alice.say(text)
        await alice.photo("media-1")
        await alice.send(MsgType="location", Location_X=39.9, Location_Y=116.4, Scale=15,
                         Label="朝阳区某小区3号楼")
        await _until(lambda: rows(api_settings.db_path, "SELECT count(*) FROM evidence "
                                  "WHERE fetch_status = 'fetched'") == [(1,)])
        # ... and Alice never comes back.
    assert evidence_path(api_settings.evidence_dir, SHA).exists()

    now = time.time()
    housekeep(api_settings, now + 3600)  # within the TTL (24 h): all stays
    assert rows(api_settings.db_path, "SELECT count(*) FROM evidence") == [(2,)]
    housekeep(api_settings, now + api_settings.draft_ttl + 60)
    assert rows(api_settings.db_path, "SELECT count(*) FROM evidence") == [(0,)]
    assert rows(api_settings.db_path, "SELECT count(*) FROM fetch_jobs") == [(0,)]
    assert "draft" not in state(api_settings, rows(
        api_settings.db_path, "SELECT reporter FROM conversations")[0][0])
    assert not evidence_path(api_settings.evidence_dir, SHA).exists()

    async for weixin in make_wechat(api_settings)():
        back = await Reporter(weixin).say("你好")
        assert "作废" in back  # she hears what became of it


def test_a_reporter_who_unfollows_mid_report_leaves_no_draft_evidence_behind(
    settings: Settings,
) -> None:
    alice = Phone(settings)
    alice.start_report_with_photo()
    fetched(settings.db_path, settings.evidence_dir, "media-1", PHOTO)
    alice.send("event", event="unsubscribe")
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(0,)]
    assert "draft" not in state(settings)
    # The file waits out a grace (a fetch of the same bytes may be committing), then goes.
    housekeep(settings, time.time() + 60)
    assert evidence_path(settings.evidence_dir, SHA).exists()
    housekeep(settings, time.time() + evidence_trash.GRACE_SECONDS + 60)
    assert not evidence_path(settings.evidence_dir, SHA).exists()


def test_a_live_drafts_evidence_stays_however_old(settings: Settings) -> None:
    """A draft still being written keeps a photo sent more than a TTL ago."""
    alice = Phone(settings)
    alice.start_report_with_photo()
    for _ in range(3):
        alice.send(text="说明一下", after=TTL - 60)  # she keeps writing, within the TTL
    kept = rows(settings.db_path, "SELECT count(*) FROM evidence")
    housekeep(dataclasses.replace(settings, draft_ttl=TTL), alice.now + 60)
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == kept
    assert "draft" in state(settings)


def test_a_file_a_filed_report_uses_too_stays_when_the_draft_goes(settings: Settings) -> None:
    bob = Phone(settings, sender="reporter-b")
    bob.start_report_with_photo("media-b")
    fetched(settings.db_path, settings.evidence_dir, "media-b", PHOTO)
    bob.send(text="完成")
    assert receipt_in(bob.send(text="提交"))
    alice = Phone(settings)
    alice.start_report_with_photo()
    fetched(settings.db_path, settings.evidence_dir, "media-1", PHOTO)  # the same picture
    alice.send("event", event="unsubscribe")
    housekeep(settings, time.time() + evidence_trash.GRACE_SECONDS + 60)
    assert evidence_path(settings.evidence_dir, SHA).exists()
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(2,)]  # Bob's


def test_purge_takes_abandoned_drafts_with_their_evidence_files(
    settings: Settings, tmp_path: Path
) -> None:
    alice = Phone(settings, now=int(time.time()) - 90 * 86400)  # a draft of 90 days ago
    alice.start_report_with_photo()
    fetched(settings.db_path, settings.evidence_dir, "media-1", PHOTO)
    env = {"TIPLINE_DB": str(settings.db_path),
           "TIPLINE_EVIDENCE_DIR": str(settings.evidence_dir)}
    plan = run(["purge", "--older-than", "30", "--dry-run"], env, tmp_path)
    assert "1 abandoned draft" in plan.stderr
    done = run(["purge", "--older-than", "30", "--yes"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 abandoned draft" in done.stderr and "1 evidence files removed" in done.stderr
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(0,)]
    assert not evidence_path(settings.evidence_dir, SHA).exists()


@pytest.fixture(autouse=True)
def _evidence_dir(settings: Settings) -> None:
    settings.evidence_dir.mkdir(parents=True, exist_ok=True)
