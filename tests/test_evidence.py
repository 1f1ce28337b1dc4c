"""Evidence preservation: media downloaded from WeChat before it expires, whatever WeChat does.

Every test talks over real HTTP to a local fake of WeChat's API (tests/fake_wechat_api.py)
that serves real bytes, answers 5xx, hangs, expires tokens and rejects media ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Settings
from bot.wechat.api import ApiError, ApiUnavailable, Retry, open_api
from bot.wechat.fetcher import Fetcher, Schedule
from db import fetch_jobs
from db.connection import connect
from db.migrations import migrate
from db.reports import SqlStore
from handlers.store import EvidenceItem
from tests.conftest import ServerProcess, WeChat, make_wechat, post_fresh, rows
from tests.fake_wechat_api import APP_ID, APP_SECRET, FakeWeChatAPI, running_fake
from tests.test_conversation import Reporter, receipt_in
from triage.evidence import evidence_path

PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40  # a JPEG's magic, then 10 KB
FAST = Retry(attempts=3, backoff=0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeChatAPI]:
    async with running_fake() as server:
        yield server


@pytest.fixture
def api_settings(settings: Settings, fake: FakeWeChatAPI) -> Settings:
    """Settings with API credentials, pointed at the fake WeChat API."""
    migrate(connect(settings.db_path))
    return dataclasses.replace(settings, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                               wechat_api_base_url=fake.base)


def queue_media(settings: Settings, media_id: str, kind: str = "image",
                received_at: int | None = None, **details: str) -> int:
    """Record a media message as the conversation does (evidence row plus fetch job)."""
    db = connect(settings.db_path)
    db.execute("BEGIN IMMEDIATE")
    SqlStore(db).add_evidence("reporter-1", "draft-1", EvidenceItem(
        kind, received_at or int(time.time()), media_id, dict(details)))
    db.execute("COMMIT")
    return int(db.execute("SELECT max(id) FROM evidence").fetchone()[0])


def evidence(settings: Settings, evidence_id: int) -> dict[str, object]:
    db = connect(settings.db_path)
    row = db.execute("SELECT * FROM evidence WHERE id = ?", (evidence_id,)).fetchone()
    names = [d[0] for d in db.execute("SELECT * FROM evidence LIMIT 0").description]
    return dict(zip(names, row, strict=True))


async def fetch_all(settings: Settings) -> None:
    """Run one fetcher until the queue is empty (or nothing more is due)."""
    async with open_api(settings, retry=FAST, timeout=0.5) as api:
        fetcher = Fetcher(api, settings.db_path, settings.evidence_dir, Schedule(retry_base=0))
        try:
            while await fetcher.run_once():
                pass
        finally:
            fetcher.close()


# --- the API client -----------------------------------------------------------------------


async def test_a_photo_is_kept_under_its_sha256_with_size_and_type(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    item = queue_media(api_settings, "photo-1")

    await fetch_all(api_settings)

    sha = hashlib.sha256(PHOTO).hexdigest()
    row = evidence(api_settings, item)
    assert (row["fetch_status"], row["sha256"], row["size"], row["mime"]) == (
        "fetched", sha, len(PHOTO), "image/jpeg")
    assert isinstance(row["fetched_at"], int)
    assert evidence_path(api_settings.evidence_dir, sha).read_bytes() == PHOTO
    assert fetch_jobs.pending(connect(api_settings.db_path)) == 0


async def test_a_video_is_fetched_through_the_url_wechat_answers_with(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    video = b"\x00\x00\x00\x18ftypmp42" + b"v" * 5000
    fake.videos["video-1"] = video
    item = queue_media(api_settings, "video-1", kind="video", thumb_media_id="thumb-1")

    await fetch_all(api_settings)

    row = evidence(api_settings, item)
    assert (row["fetch_status"], row["sha256"], row["mime"]) == (
        "fetched", hashlib.sha256(video).hexdigest(), "video/mp4")
    assert fake.requests == ["/cgi-bin/stable_token", "/cgi-bin/media/get", "/video/video-1"]


async def test_a_voice_note_keeps_its_recognition_text_and_its_audio(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["voice-1"] = (b"#!AMR\n" + b"a" * 900, "audio/amr")
    item = queue_media(api_settings, "voice-1", kind="voice", recognition="他说保证收益",
                       format="amr")

    await fetch_all(api_settings)

    row = evidence(api_settings, item)
    assert row["fetch_status"] == "fetched" and row["mime"] == "audio/amr"
    assert json.loads(str(row["details"]))["recognition"] == "他说保证收益"


async def test_server_errors_are_retried_a_bounded_number_of_times(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    fake.script("photo-1", "500", "busy", "ok")
    fake.script("photo-2", "500", "500", "500", "ok")
    fake.media["photo-2"] = (PHOTO, "image/jpeg")

    async with open_api(api_settings, retry=FAST) as api:
        stored = await api.download_media("photo-1", api_settings.evidence_dir)
        assert stored.size == len(PHOTO)
        with pytest.raises(ApiUnavailable, match="HTTP 502"):
            await api.download_media("photo-2", api_settings.evidence_dir)
    assert fake.requests.count("/cgi-bin/media/get") == 3 + 3


async def test_a_wechat_that_never_answers_costs_a_timeout_not_a_hang(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    fake.script("photo-1", "hang", "hang")

    started = time.monotonic()
    async with open_api(api_settings, retry=Retry(attempts=2, backoff=0.01),
                        timeout=0.3) as api:
        with pytest.raises(ApiUnavailable, match="timed out"):
            await api.download_media("photo-1", api_settings.evidence_dir)
    # Not a speed check: two attempts of 0.3 s must end long before the fake's 30 s hang.
    assert time.monotonic() - started < fake.hang_seconds


async def test_an_expired_token_is_refreshed_once_per_call(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    fake.script("photo-1", "expire", "ok")

    async with open_api(api_settings, retry=FAST) as api:
        await api.download_media("photo-1", api_settings.evidence_dir)
        assert fake.tokens_issued == 2
        # A token WeChat keeps refusing: one refresh, then the error, never a loop.
        fake.script("photo-1", "expire", "expire", "expire")
        with pytest.raises(ApiError) as refused:
            await api.download_media("photo-1", api_settings.evidence_dir)
    assert refused.value.errcode == 42001
    assert fake.tokens_issued == 3
    assert fake.requests.count("/cgi-bin/media/get") == 2 + 2


async def test_all_processes_share_one_token_kept_in_the_database(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    async with open_api(api_settings) as first, open_api(api_settings) as second:
        await first.download_media("photo-1", api_settings.evidence_dir)
        await second.download_media("photo-1", api_settings.evidence_dir)
    assert fake.tokens_issued == 1
    assert rows(api_settings.db_path, "SELECT app_id FROM api_tokens") == [(APP_ID,)]


async def test_wrong_credentials_are_an_error_naming_the_answer_not_the_secret(
    api_settings: Settings, fake: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = dataclasses.replace(api_settings, wechat_app_secret="wrong-secret-value")
    caplog.set_level(logging.DEBUG)
    async with open_api(wrong, retry=FAST) as api:
        with pytest.raises(ApiError, match="40125 invalid appsecret"):
            await api.create_menu({"button": []})
    assert "wrong-secret-value" not in caplog.text


# --- the fetch queue ------------------------------------------------------------------------


async def test_a_rejected_media_id_is_recorded_with_its_reason_and_not_retried(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    item = queue_media(api_settings, "no-such-media")

    await fetch_all(api_settings)

    assert evidence(api_settings, item)["fetch_status"] == (
        "failed: 40007 invalid media_id rid: 2")
    assert fetch_jobs.pending(connect(api_settings.db_path)) == 0
    assert fake.requests.count("/cgi-bin/media/get") == 1


async def test_failures_are_retried_with_backoff_until_the_media_would_have_expired(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    fake.script("photo-1", *["500"] * 30)
    sent = 1_800_000_000
    item = queue_media(api_settings, "photo-1", received_at=sent)
    clock = [float(sent)]
    db = connect(api_settings.db_path)
    waits: list[int] = []

    async with open_api(api_settings, retry=Retry(attempts=1)) as api:
        fetcher = Fetcher(api, api_settings.db_path, api_settings.evidence_dir,
                          Schedule(retry_base=3600, retry_max=86400), clock=lambda: clock[0])
        while fetch_jobs.pending(db):
            assert await fetcher.run_once() == 1
            due = db.execute("SELECT due_at FROM fetch_jobs").fetchone()
            if due:
                waits.append(int(due[0]) - int(clock[0]))
                clock[0] = float(due[0])
        fetcher.close()

    # Doubling up to a day; the last try 10 minutes before the 3 days are over.
    assert waits == [3600, 7200, 14400, 28800, 57600, 86400, 3 * 86400 - 600 - 198000]
    status = str(evidence(api_settings, item)["fetch_status"])
    assert status.startswith("failed: expired at WeChat before it could be fetched (")


async def test_two_fetchers_never_download_the_same_item(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    ids = [f"photo-{n}" for n in range(40)]
    for n, media_id in enumerate(ids):
        fake.media[media_id] = (PHOTO + bytes([n]), "image/jpeg")
        queue_media(api_settings, media_id)

    async with open_api(api_settings, retry=FAST) as one, open_api(api_settings) as two:
        fetchers = [Fetcher(api, api_settings.db_path, api_settings.evidence_dir,
                            Schedule(batch=3)) for api in (one, two)]

        async def drain(fetcher: Fetcher) -> None:
            while await fetcher.run_once():
                await asyncio.sleep(0)

        await asyncio.gather(*(drain(f) for f in fetchers))
        for fetcher in fetchers:
            fetcher.close()

    assert fake.downloads == dict.fromkeys(ids, 1)
    assert rows(api_settings.db_path,
                "SELECT count(*) FROM evidence WHERE fetch_status = 'fetched'") == [(40,)]


async def test_a_draft_cancelled_while_its_photo_downloads_leaves_no_file(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["photo-1"] = (PHOTO, "image/jpeg")
    queue_media(api_settings, "photo-1")
    db = connect(api_settings.db_path)

    async with open_api(api_settings) as api:
        fetcher = Fetcher(api, api_settings.db_path, api_settings.evidence_dir)
        [job] = fetch_jobs.claim(db, fetcher.worker, int(time.time()), 600, 8)
        SqlStore(db).discard_draft("draft-1")  # the reporter says 取消 meanwhile
        await fetcher.fetch(job)
        fetcher.close()

    assert not evidence_path(api_settings.evidence_dir,
                             hashlib.sha256(PHOTO).hexdigest()).exists()


async def test_one_slow_download_does_not_hold_up_the_others(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    """Regression (issue 18, item 11): a batch waited for its slowest download."""
    fake.media["slow"] = (PHOTO, "image/jpeg")
    fake.script("slow", "trickle")
    slow = queue_media(api_settings, "slow")
    for n in range(4):
        fake.media[f"m{n}"] = (PHOTO + bytes([n]), "image/jpeg")
        queue_media(api_settings, f"m{n}")
    async with open_api(api_settings, retry=FAST) as api:
        fetcher = Fetcher(api, api_settings.db_path, api_settings.evidence_dir,
                          Schedule(batch=2, poll=0.05))
        task = asyncio.create_task(fetcher.run())
        try:
            await _until(lambda: rows(api_settings.db_path, "SELECT count(*) FROM evidence "
                                      "WHERE fetch_status = 'fetched'") == [(4,)])
            assert evidence(api_settings, slow)["fetch_status"] == "pending"  # still going
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            fetcher.close()


async def test_a_download_past_its_deadline_is_given_back_for_later(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["slow"] = (PHOTO, "image/jpeg")
    fake.script("slow", "trickle")
    slow = queue_media(api_settings, "slow")
    async with open_api(api_settings, retry=FAST) as api:
        fetcher = Fetcher(api, api_settings.db_path, api_settings.evidence_dir,
                          Schedule(deadline=1))
        assert await fetcher.run_once() == 1
        fetcher.close()
    assert evidence(api_settings, slow)["fetch_status"] == "pending"
    [(error, claimed_by, due_at)] = rows(api_settings.db_path, "SELECT last_error, claimed_by, "
                                         "due_at FROM fetch_jobs")
    assert error == "download took over 1 s" and claimed_by is None
    assert due_at > time.time()


# --- inside the server ------------------------------------------------------------------------


async def test_a_reporter_who_sends_a_photo_gets_it_kept_with_its_hash(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    fake.media["media-1"] = (PHOTO, "image/jpeg")
    async for weixin in make_wechat(api_settings)():
        reporter = Reporter(weixin)
        await reporter.say("举报")
        await reporter.say("1")
        await reporter.say("币安国际 www.binance-vip.cc")
        await reporter.say("群里有人推荐USDT理财，让我转账。")
        assert "1" in await reporter.photo("media-1")
        await reporter.say("完成")
        receipt = receipt_in(await reporter.say("提交"))
        await _until(lambda: rows(api_settings.db_path,
                                  "SELECT fetch_status FROM evidence") == [("fetched",)])

    # What the investigator sees: the file's hash, size and type, next to the report.
    shown = CliRunner().invoke(cli, ["--db", str(api_settings.db_path), "show", receipt,
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    [item] = json.loads(shown.output)["evidence"]
    assert (item["kind"], item["fetch_status"], item["sha256"], item["size"]) == (
        "image", "fetched", hashlib.sha256(PHOTO).hexdigest(), len(PHOTO))


async def test_jobs_pending_at_shutdown_resume_after_a_restart_and_no_worker_fetches_twice(
    api_settings: Settings, fake: FakeWeChatAPI,
    server_process: Callable[..., ServerProcess],
) -> None:
    photos = [f"photo-{n}" for n in range(12)]
    for n, media_id in enumerate(photos):
        fake.media[media_id] = (PHOTO + bytes([n]), "image/jpeg")
    fake.script("photo-0", "hang")  # WeChat stalls on one photo while the server stops

    server = server_process(workers=2, settings_=api_settings)
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", api_settings)
        for n, media_id in enumerate(photos):  # fresh connections: both workers take some
            message = weixin.text("", openid=f"o_photo_{n}")
            del message["Content"]
            status, reply = await post_fresh(weixin, {
                **message, "MsgType": "image", "MediaId": media_id,
                "PicUrl": "http://mmbiz.qpic.cn/x"})
            assert status == 200 and reply
    await _until(lambda: fake.downloads.total() == 11)
    assert server.stop() == 0
    assert rows(api_settings.db_path, "SELECT claimed_by, claimed_until FROM fetch_jobs") == [
        (None, 0)]  # given back, not left to a lease

    restarted = server_process(workers=2, settings_=api_settings)
    await _until(lambda: rows(api_settings.db_path, "SELECT count(*) FROM fetch_jobs") == [(0,)])
    assert fake.downloads == dict.fromkeys(photos, 1)
    assert rows(api_settings.db_path, "SELECT DISTINCT fetch_status FROM evidence") == [
        ("fetched",)]
    restarted.stop()
    logs = server.log.read_text() + restarted.log.read_text()
    assert "evidence 1 fetched" in logs or "fetched (" in logs
    assert "ACCESS_TOKEN" not in logs and APP_SECRET not in logs


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


# --- the custom menu ------------------------------------------------------------------------


async def tipline(settings: Settings, *args: str) -> tuple[int, str, str]:
    """Run `tipline` as an admin would, with the settings as its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    env.update(WECHAT_APP_ID=settings.wechat_app_id,
               WECHAT_APP_SECRET=settings.wechat_app_secret,
               WECHAT_API_BASE_URL=settings.wechat_api_base_url,
               TIPLINE_DB=str(settings.db_path))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=settings.db_path.parent,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_an_admin_sets_the_menu_with_the_three_buttons(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    code, _, err = await tipline(api_settings, "menu", "push")

    assert code == 0, err
    assert fake.menus == [{"button": [
        {"type": "click", "name": "举报", "key": "REPORT"},
        {"type": "click", "name": "我的举报", "key": "MY_REPORTS"},
        {"type": "click", "name": "帮助", "key": "HELP"}]}]
    assert "举报 / 我的举报 / 帮助" in err
    assert APP_SECRET not in err and "ACCESS_TOKEN" not in err


async def test_a_dry_run_prints_the_menu_and_sends_nothing(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    code, out, _ = await tipline(api_settings, "menu", "push", "--dry-run")

    assert code == 0
    assert json.loads(out)["button"][1] == {"type": "click", "name": "我的举报",
                                             "key": "MY_REPORTS"}
    assert fake.requests == []


async def test_without_credentials_menu_push_names_what_is_missing(settings: Settings) -> None:
    code, _, err = await tipline(settings, "menu", "push")

    assert code == 1
    assert err.splitlines() == [
        "Error: menu push needs the WeChat API credentials: set WECHAT_APP_ID and "
        "WECHAT_APP_SECRET (WeChat console → Settings and Development → Basic Configuration)"]


async def test_without_credentials_the_bot_records_media_as_not_fetched(
    settings: Settings,
) -> None:
    async for weixin in make_wechat(settings)():
        reporter = Reporter(weixin)
        await reporter.say("举报")
        await reporter.photo("media-9")
    assert rows(settings.db_path, "SELECT media_id, fetch_status FROM evidence") == [
        ("media-9", "not fetched: no API credentials")]
    assert rows(settings.db_path, "SELECT count(*) FROM fetch_jobs") == [(0,)]


async def test_a_hostile_errmsg_is_logged_on_one_line_without_the_token(
    api_settings: Settings, fake: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (hardening 13): errmsg was logged verbatim (a forged line, a token)."""
    evidence_id = queue_media(api_settings, "m-forged")
    fake.script("m-forged", "forged-errmsg")
    with caplog.at_level(logging.INFO):
        await fetch_all(api_settings)
    status = evidence(api_settings, evidence_id)["fetch_status"]
    assert isinstance(status, str) and status.startswith("failed: 40007 invalid media")
    assert "\n" not in status and "\x1b" not in status
    assert "ACCESS_TOKEN_0123456789" not in caplog.text + status
    assert "\n2026-12-04 ERROR root" not in caplog.text


async def test_an_errcode_that_is_not_a_number_is_retried_not_a_traceback(
    api_settings: Settings, fake: FakeWeChatAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (hardening 13): a non-numeric errcode raised a traceback."""
    fake.media["m-odd"] = (PHOTO, "image/jpeg")
    evidence_id = queue_media(api_settings, "m-odd")
    fake.script("m-odd", "odd-errcode", "odd-errcode", "odd-errcode")
    await fetch_all(api_settings)
    assert "Traceback" not in caplog.text
    # A transient answer (this harness retries at once, so the job runs out of time).
    assert "errcode that is not a number" in str(evidence(api_settings, evidence_id)[
        "fetch_status"])


async def test_media_over_the_size_cap_fails_once_and_is_not_downloaded_again(
    api_settings: Settings, fake: FakeWeChatAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (hardening 13): over-cap media counted as transient, downloaded at every retry."""
    from bot.wechat import api

    monkeypatch.setattr(api, "MAX_MEDIA_BYTES", 1000)
    fake.media["m-big"] = (b"\xff\xd8\xff" + b"0" * 5000, "image/jpeg")
    evidence_id = queue_media(api_settings, "m-big")
    await fetch_all(api_settings)
    status = evidence(api_settings, evidence_id)["fetch_status"]
    assert isinstance(status, str) and status.startswith("failed: -2 media larger than 1000")
    assert fake.downloads["m-big"] == 1
    assert rows(api_settings.db_path, "SELECT count(*) FROM fetch_jobs") == [(0,)]


# --- where downloads may go (hardening 5, 6) ---------------------------------------------


@pytest.fixture
async def internal() -> AsyncIterator[tuple[str, list[str]]]:
    """A service on this machine that must never be reached: its URL, and what it was asked."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    asked: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.Response(body=b"\xff\xd8\xff internal secret", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{tail:.*}", secret)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/secret")), asked
    finally:
        await server.close()


async def test_a_video_url_pointing_inside_the_network_is_refused_and_never_fetched(
    api_settings: Settings, fake: FakeWeChatAPI, internal: tuple[str, list[str]]
) -> None:
    url, asked = internal
    fake.video_urls["v-evil"] = url
    evidence_id = queue_media(api_settings, "v-evil", kind="video")
    await fetch_all(api_settings)

    status = str(evidence(api_settings, evidence_id)["fetch_status"])
    assert status.startswith("failed: -3 download refused: an IP address (127.0.0.1)")
    assert asked == []
    assert rows(api_settings.db_path, "SELECT count(*) FROM fetch_jobs") == [(0,)]


async def test_a_redirect_off_wechats_hosts_is_not_followed(
    api_settings: Settings, fake: FakeWeChatAPI, internal: tuple[str, list[str]]
) -> None:
    url, asked = internal
    fake.media["m-moved"] = (PHOTO, "image/jpeg")
    fake.script("m-moved", f"redirect:{url}")
    evidence_id = queue_media(api_settings, "m-moved")
    await fetch_all(api_settings)

    assert str(evidence(api_settings, evidence_id)["fetch_status"]).startswith(
        "failed: -3 download refused")
    assert asked == []


async def test_a_media_host_whose_name_resolves_to_loopback_is_refused(
    api_settings: Settings, fake: FakeWeChatAPI, internal: tuple[str, list[str]]
) -> None:
    url, asked = internal
    settings = dataclasses.replace(api_settings, media_hosts=("localhost",))
    fake.video_urls["v-local"] = url.replace("127.0.0.1", "localhost")
    evidence_id = queue_media(settings, "v-local", kind="video")
    await fetch_all(settings)

    status = str(evidence(settings, evidence_id)["fetch_status"])
    assert status == "failed: -3 download refused: localhost resolves only to addresses " \
        "that are not public"
    assert asked == []


async def test_a_text_answer_without_end_is_cut_off_while_it_is_read(
    api_settings: Settings, fake: FakeWeChatAPI
) -> None:
    from bot.wechat.api import MAX_ANSWER_BYTES

    fake.media["m-flood"] = (PHOTO, "image/jpeg")
    fake.script("m-flood", "huge-text", "huge-text", "huge-text")
    evidence_id = queue_media(api_settings, "m-flood")
    async with open_api(api_settings, retry=FAST, timeout=5.0) as api:
        with pytest.raises(ApiUnavailable, match=f"larger than {MAX_ANSWER_BYTES} bytes"):
            await api.download_media("m-flood", api_settings.evidence_dir)
    await fetch_all(api_settings)  # the script is used up: the photo arrives
    assert evidence(api_settings, evidence_id)["fetch_status"] == "fetched"
