"""The image reader: a queue in SQLite, a child process it can kill, and what investigators see.

Images are real files in the evidence store, queued the way the fetcher queues them
(db/fetch_jobs.fetched), read by the real child process (zxing-cpp, rapidocr), and looked
at through `tipline show --json`, `tipline triage` and `tipline evidence read`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.reader.pool import ChildReader, Limits, Lost, Read
from bot.reader.service import Reader
from db import fetch_jobs, reads
from db.reports import SqlStore
from handlers.store import EvidenceItem, NewReport
from tests.desk import Desk, tipline
from tests.images import ALIPAY, CHAT_ZH, TRON, WECHAT_PAY, encoded, png_bomb, qr, screenshot
from triage.evidence import evidence_path
from triage.vocabulary import new_receipt

GENEROUS = Limits(max_bytes=20 * 1024 * 1024, max_pixels=40_000_000, seconds=120,
                  memory_bytes=4 * 1024**3)


@pytest.fixture
def reading_settings(desk: Desk, tmp_path: Path) -> Settings:
    return Settings(db_path=desk.path, evidence_dir=tmp_path / "evidence")


@pytest.fixture
def reader(reading_settings: Settings) -> Any:
    one = Reader(reading_settings, "test-reader")
    yield one
    one.close()


def photo(desk: Desk, settings: Settings, data: bytes, *, receipt: str | None = None,
          reporter: str = "p_alice", mime: str = "image/jpeg") -> int:
    """A photo a reporter sent, downloaded as the fetcher downloads it; its evidence id.

    With `receipt`, the photo belongs to that filed report; otherwise to a draft.
    """
    db = desk.db
    db.execute("BEGIN IMMEDIATE")
    SqlStore(db).add_evidence(reporter, f"draft-of-{reporter}", EvidenceItem(
        "image", desk.now, f"media-{time.monotonic_ns()}", {}))
    db.execute("COMMIT")
    (evidence_id,) = db.execute("SELECT max(id) FROM evidence").fetchone()
    if receipt is not None:
        db.execute("UPDATE evidence SET report_id = (SELECT id FROM reports WHERE receipt = ?),"
                   " draft_id = NULL WHERE id = ?", (receipt.replace("-", ""), evidence_id))
    sha256 = hashlib.sha256(data).hexdigest()
    path = evidence_path(settings.evidence_dir, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    [job] = fetch_jobs.claim(db, "fetcher", desk.now + 1, 60, 10)
    assert fetch_jobs.fetched(db, job, "fetcher", sha256, len(data), mime, int(time.time()))
    return int(evidence_id)


def shown(desk: Desk, receipt: str) -> dict[str, Any]:
    result = tipline(desk.path, "show", receipt, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def chat_with_code(name: str = "Amy") -> bytes:
    return encoded(screenshot([f"Customer service {name}", f"USDT TRC20: {TRON}",
                               "WeChat: huobi_kefu88"], [WECHAT_PAY]), quality=85)


# --- what investigators see ---------------------------------------------------------------


def test_a_reporter_who_sends_a_photo_of_a_payment_code_sees_its_payee_in_show(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    receipt = desk.file("火币 huobi-vip.com", reporter="p_alice")
    evidence_id = photo(desk, reading_settings, encoded(qr(WECHAT_PAY)), receipt=receipt)
    assert shown(desk, receipt)["evidence"][0]["read_status"] == "pending"

    assert reader.run_once() == "done"

    case = shown(desk, receipt)
    [item] = case["evidence"]
    assert item["read_status"] == "done"
    assert {"kind": "wechat_pay", "value": WECHAT_PAY, "raw": WECHAT_PAY,
            "source": "qr"} in item["read"]
    payee = [i for i in case["identifiers"] if i["kind"] == "wechat_pay"]
    assert payee == [{"kind": "wechat_pay", "value": WECHAT_PAY, "raw": WECHAT_PAY,
                      "watchlist": None, "reports": 1, "evidence_id": evidence_id,
                      "other_receipts": [], "other_reports": 0}]
    # The text identifiers stay the report's own.
    assert {"kind": "domain", "value": "huobi-vip.com"}.items() <= next(
        i for i in case["identifiers"] if i["kind"] == "domain").items()
    assert next(i for i in case["identifiers"] if i["kind"] == "domain")["evidence_id"] is None


def test_a_screenshot_of_a_scam_chat_shows_its_text_and_every_identifier_in_it(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    receipt = desk.file("币安国际 www.example-ex.com", reporter="p_bob")
    photo(desk, reading_settings, CHAT_ZH.read_bytes(), receipt=receipt, mime="image/png")
    assert reader.run_once() == "done"

    case = shown(desk, receipt)
    [item] = case["evidence"]
    assert "充值请加客服微信" in item["text"]
    named = {(i["kind"], i["value"]) for i in case["identifiers"]}
    assert {("evm", "0x8ba1f109551bd432803012645ac136ddd64dba72"),
            ("wechat_id", "huobi_kefu88"), ("domain", "huobi-vip.com")} <= named
    export = tipline(desk.path, "export", "--format", "csv").output
    assert "evm:0x8ba1f109551bd432803012645ac136ddd64dba72" in export
    bag = reading_settings.evidence_dir.parent / "bag"
    bundled = tipline_env(desk.path, {"TIPLINE_EVIDENCE_DIR": str(reading_settings.evidence_dir)},
                          "export", "--evidence-bundle", str(bag))
    assert bundled.returncode == 0, bundled.stderr
    record = json.loads((bag / "data" / "reports" / f"{receipt}.json").read_text())
    assert "充值请加客服微信" in record["evidence"][0]["read_text"]
    assert {"kind": "wechat_id", "value": "huobi_kefu88", "raw": "huobi_kefu88",
            "evidence_id": record["evidence"][0]["id"]} in record["identifiers"]


def test_a_payment_code_reported_by_several_people_tops_triage(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    for n, who in enumerate(("p_a", "p_b", "p_c")):
        receipt = desk.file(f"site{n}-ex.com", reporter=who, target_type="payment")
        photo(desk, reading_settings, encoded(qr(WECHAT_PAY, scale=6 + n)), receipt=receipt,
              reporter=who)
    while reader.run_once() is not None:
        pass

    ranked = json.loads(tipline(desk.path, "triage", "--format", "json").output)["entities"]
    top = ranked[0]
    assert (top["kind"], top["value"], top["reporters"]) == ("wechat_pay", WECHAT_PAY, 3)


def test_the_same_screenshot_from_two_reporters_is_noticed(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    from PIL import Image

    original = screenshot(["Customer service Amy", "Pay here, then send the receipt"],
                          [ALIPAY])
    first = desk.file("first.example-ex.com", reporter="p_a")
    second = desk.file("second.example-ex.com", reporter="p_b")
    third = desk.file("third.example-ex.com", reporter="p_c")
    photo(desk, reading_settings, encoded(original, quality=90), receipt=first)
    resized = original.resize((720, 1560), Image.Resampling.BILINEAR)
    photo(desk, reading_settings, encoded(resized, quality=40), receipt=second)
    photo(desk, reading_settings, chat_with_code(), receipt=third)  # another chat
    while reader.run_once() is not None:
        pass

    assert shown(desk, first)["evidence"][0]["looks_like"] == [second]
    assert shown(desk, second)["evidence"][0]["looks_like"] == [first]
    assert shown(desk, third)["evidence"][0]["looks_like"] == []
    summary = json.loads(tipline(desk.path, "triage", "--format", "json").output)
    assert summary["same_images"] == [{"reporters": 2, "receipts": [second, first]}]  # newest first
    assert "The same image from 2 reporters" in tipline(desk.path, "triage").output


def test_a_photo_read_before_its_report_is_filed_joins_the_report(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    evidence_id = photo(desk, reading_settings, encoded(qr(WECHAT_PAY)), reporter="p_d")
    assert reader.run_once() == "done"
    receipt = new_receipt(bits=424242)
    desk.db.execute("BEGIN IMMEDIATE")
    SqlStore(desk.db).file_report(NewReport(
        receipt=receipt, reporter="p_d", draft_id="draft-of-p_d", target_type="payment",
        who="代理", description="让我扫码付款买USDT", identifiers=(("name", "代理", "代理"),),
        lang="zh", filed_at=desk.now))
    desk.db.execute("COMMIT")

    case = shown(desk, receipt)
    assert {"kind": "wechat_pay", "value": WECHAT_PAY, "raw": WECHAT_PAY, "watchlist": None,
            "reports": 1, "evidence_id": evidence_id, "other_receipts": [],
            "other_reports": 0} in case["identifiers"]
    assert desk.rows("SELECT identifiers_text FROM reports WHERE receipt = ?", (receipt,)) == [
        (f"name:代理; wechat_pay:{WECHAT_PAY}",)]


@pytest.mark.parametrize(("data", "reason"), [
    (png_bomb(), "failed: image too large (30,000 x 30,000 pixels"),
    (encoded(qr(WECHAT_PAY))[:900], "failed: truncated image"),
    (b"GIF89a" + os.urandom(3000), "failed: "),
    (b"not a picture at all" * 100, "failed: not an image"),
])
def test_a_hostile_image_fails_alone_with_its_reason(
    desk: Desk, reading_settings: Settings, reader: Reader, data: bytes, reason: str
) -> None:
    receipt = desk.file("hostile.example-ex.com")
    photo(desk, reading_settings, data, receipt=receipt)
    photo(desk, reading_settings, encoded(qr(WECHAT_PAY)), receipt=receipt)
    assert reader.run_once() == "failed"
    assert reader.run_once() == "done"  # the next image, in the same child

    first, second = shown(desk, receipt)["evidence"]
    assert first["read_status"].startswith(reason)
    assert "\n" not in first["read_status"] and first["read"] == []
    assert second["read_status"] == "done"


# --- the child process: killed, slow, greedy -----------------------------------------------


def test_a_reader_killed_mid_job_is_tried_again_in_a_fresh_child_and_read_once(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    receipt = desk.file("killed.example-ex.com")
    # A long chat: over a second of reading, so the kill lands mid-job.
    long_chat = screenshot([f"{n}: pay to WeChat agent{n}" for n in range(40)],
                           size=(1080, 6400))
    photo(desk, reading_settings, encoded(long_chat, "PNG"), receipt=receipt, mime="image/png")
    reader.child.read(CHAT_ZH)  # started, models loaded
    victim = reader.child.pid()
    assert victim is not None
    threading.Timer(0.2, os.kill, (victim, signal.SIGKILL)).start()

    assert reader.run_once() == "retry"
    [item] = shown(desk, receipt)["evidence"]
    assert item["read_status"] == "pending"

    later = time.time() + 60
    assert reader.run_once(now=lambda: later) == "done"
    assert reader.child.pid() != victim
    assert desk.rows("SELECT count(*) FROM read_jobs") == [(0,)]
    [item] = shown(desk, receipt)["evidence"]
    assert item["read_status"] == "done" and "agent1" in item["text"]


def test_an_image_that_crashes_its_reader_twice_is_failed_with_the_reason(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    receipt = desk.file("crashing.example-ex.com")
    photo(desk, reading_settings, CHAT_ZH.read_bytes(), receipt=receipt, mime="image/png")
    reader.child.limits = dataclasses.replace(GENEROUS, memory_bytes=64 * 1024 * 1024)

    assert reader.run_once() == "retry"
    assert reader.run_once(now=lambda: time.time() + 60) == "failed"
    [item] = shown(desk, receipt)["evidence"]
    assert item["read_status"] == "failed: needed more than 64 MB"


def test_a_lease_left_by_a_dead_reader_runs_out_and_the_image_is_read_by_another(
    desk: Desk, reading_settings: Settings, reader: Reader
) -> None:
    receipt = desk.file("lease.example-ex.com")
    photo(desk, reading_settings, encoded(qr(WECHAT_PAY)), receipt=receipt)
    gone = reads.claim(desk.db, "reader-that-died", int(time.time()), lease=120)
    assert gone is not None
    assert reader.run_once() is None  # still leased

    assert reader.run_once(now=lambda: time.time() + 121) == "done"
    assert not reads.done(desk.db, gone, "reader-that-died",
                          reads.ReadResult([], "", 0), int(time.time()))  # too late: not twice


def test_an_image_over_the_cpu_time_limit_loses_its_child_not_the_service() -> None:
    child = ChildReader(GENEROUS)
    try:
        assert isinstance(child.read(CHAT_ZH), Read)
        first = child.pid()
        child.limits = dataclasses.replace(GENEROUS, seconds=0.02)
        lost = child.read(CHAT_ZH)
        assert lost == Lost("needed more than 0.02 s of CPU time")
        child.limits = GENEROUS
        assert isinstance(child.read(CHAT_ZH), Read)
        assert child.pid() != first
    finally:
        child.close()


# --- tipline evidence read --------------------------------------------------------------------


def test_evidence_read_reads_images_stored_before_reading_existed_and_again_with_all(
    desk: Desk, reading_settings: Settings
) -> None:
    receipt = desk.file("old.example-ex.com")
    evidence_id = photo(desk, reading_settings, encoded(qr(WECHAT_PAY)), receipt=receipt)
    # As a database upgraded from before this round holds it: fetched, never queued.
    desk.db.execute("DELETE FROM read_jobs")
    desk.db.execute("UPDATE evidence SET read_status = NULL")
    env = {"TIPLINE_EVIDENCE_DIR": str(reading_settings.evidence_dir)}

    first = tipline_env(desk.path, env, "evidence", "read")
    assert first.returncode == 0, first.stderr
    assert "1 image(s) queued" in first.stderr and "1 read, 0 failed" in first.stderr
    assert shown(desk, receipt)["identifiers"][-1]["evidence_id"] == evidence_id

    again = tipline_env(desk.path, env, "evidence", "read")
    assert "0 image(s) queued" in again.stderr
    everything = tipline_env(desk.path, env, "evidence", "read", "--all", "--since", "7d")
    assert "1 image(s) queued" in everything.stderr and "1 read" in everything.stderr


def tipline_env(db: Path, env: dict[str, str], *args: str) -> Any:
    """Run `tipline --db DB ARGS…` as a process, as an admin would."""
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    return subprocess.run([sys.executable, "-m", "bot", "--db", str(db), *args],
                          env={**clean, **env}, capture_output=True, text=True, timeout=300,
                          cwd=db.parent)
