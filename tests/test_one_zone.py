"""One clock for the admin: backups and server logs in Beijing time with the offset; bag
files named by the receipt as it is shown everywhere else."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import ServerProcess, rows
from tests.filing import Reporter
from tests.test_cli import run

JUNE_1 = 1717200000  # 2024-06-01 08:00 Beijing
BEIJING = timezone(timedelta(hours=8))  # written out here: the test checks the code's zone


def test_a_backup_into_a_folder_is_named_in_beijing_time_with_its_offset(
    tmp_path: Path
) -> None:
    """Regression (issue 19, item 14): the name was the machine's time (UTC on servers)."""
    db = tmp_path / "t.db"
    Reporter(db, "o_alice", now=JUNE_1).file("火币网 huobi-pro.vip", "充值后提不出来。")
    folder = tmp_path / "backups"
    folder.mkdir()
    done = run(["--db", str(db), "backup", str(folder)], {"TZ": "UTC"}, tmp_path)
    assert done.returncode == 0, done.stderr
    [(at,)] = rows(db, "SELECT at FROM admin_log WHERE action = 'backup'")
    beijing = datetime.fromtimestamp(at, BEIJING).strftime("%Y%m%d-%H%M%S")
    assert [p.name for p in folder.iterdir()] == [f"tipline-{beijing}+0800.db"]
    assert f"tipline-{beijing}+0800.db" in done.stderr


def test_the_server_log_shows_beijing_time_with_its_offset_on_a_utc_machine(
    server_process: Callable[..., ServerProcess], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "UTC")
    server = server_process()
    server.stop()
    lines = server.log.read_text().splitlines()
    serving = next(line for line in lines if "serving http://" in line)
    stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00) \d+ INFO ", serving)
    assert stamp, serving
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00 ", line)
               for line in lines if line[:1].isdigit()), lines


def test_a_bundled_report_is_filed_under_its_receipt_with_the_hyphen(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression (issue 19, item 14): the bag said 3K7QXM2P9A.json for 3K7QX-M2P9A."""
    receipt = Reporter(settings.db_path, "o_alice", now=JUNE_1).file(
        "火币网 huobi-pro.vip", "说是火币的新平台，充值后提不出来。")
    shown = f"{receipt[:5]}-{receipt[5:]}"
    bag = tmp_path / "case-7"
    env = {"TIPLINE_EVIDENCE_DIR": str(settings.evidence_dir)}
    done = run(["--db", str(settings.db_path), "export", "--evidence-bundle", str(bag)], env,
               tmp_path)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (bag / "data" / "reports").iterdir()] == [f"{shown}.json"]
    manifest = dict(reversed(line.split("  ", 1))
                    for line in (bag / "manifest-sha256.txt").read_text().splitlines())
    body = (bag / "data" / "reports" / f"{shown}.json").read_bytes()
    assert manifest[f"data/reports/{shown}.json"] == hashlib.sha256(body).hexdigest()
    if importlib.util.find_spec("bagit"):  # the Library of Congress' validator, if installed
        import bagit

        bagit.Bag(os.fspath(bag)).validate()
