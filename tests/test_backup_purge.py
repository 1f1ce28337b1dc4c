"""`tipline backup` and `tipline purge`: copies that hold while the server writes; retention."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from bot.config import Settings
from db.connection import connect
from db.migrations import migrate
from tests.conftest import ROOT, rows
from tests.filing import Reporter, fetched
from tests.test_cli import run
from tests.test_export import env, invoke
from triage.evidence import evidence_path

DAY = 86400
NOW_ISH = int(time.time()) - 3600  # purge cuts off from the real clock


def test_a_backup_taken_while_another_connection_writes_is_consistent(
    settings: Settings, tmp_path: Path
) -> None:
    Reporter(settings.db_path).file("币安国际 binance-vip.cc", "群里有人推荐USDT理财。")
    watchlist = str(ROOT / "docs" / "watchlist.example.csv")
    assert invoke(settings, "watchlist", "import", watchlist)[0] == 0
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        # The server's way of filing: a report and its history in one transaction.
        db = connect(settings.db_path)
        while not stop.is_set():
            n = written[0]
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO reports (receipt, reporter, target_type, who, description, lang, "
                "received_at, updated_at) VALUES (?, 'r', 'other', 'w', 'd', 'zh', 1, 1)",
                (f"W{n:09d}",))
            db.execute("INSERT INTO report_history (report_id, at, actor, action) "
                       "VALUES (?, 1, 'test', 'filed')", (cursor.lastrowid,))
            db.execute("COMMIT")
            written[0] += 1
            stop.wait(0.001)  # a busy server, not a tight loop that starves every other writer
        db.conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 50:
            stop.wait(0.01)
        dest = tmp_path / "backup.db"
        code, output = invoke(settings, "backup", str(dest))
        during = written[0]
    finally:
        stop.set()
        thread.join()
    assert code == 0, output
    assert written[0] > 50 and during > 50  # the writer was writing around the backup
    copy = sqlite3.connect(dest)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    reports, histories = copy.execute(
        "SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM report_history)"
    ).fetchone()
    assert reports == histories >= 51  # every report with its history: no torn transaction
    assert copy.execute("PRAGMA user_version").fetchone() == rows(
        settings.db_path, "PRAGMA user_version")[0]
    assert f"backup: {dest}" in output and f"{reports:,} reports" in output
    ((_actor, action, detail),) = rows(settings.db_path,
                                       "SELECT actor, action, detail FROM admin_log")
    assert action == "backup" and json.loads(detail)["dest"] == str(dest)
    assert not list(tmp_path.glob(".*partial"))


def test_a_backup_into_a_folder_is_named_by_time_and_never_overwrites(
    settings: Settings, tmp_path: Path
) -> None:
    Reporter(settings.db_path).file("币安国际 binance-vip.cc", "群里有人推荐USDT理财。")
    folder = tmp_path / "backups"
    folder.mkdir()
    assert invoke(settings, "backup", str(folder))[0] == 0
    (made,) = folder.iterdir()
    assert made.name.startswith("tipline-") and made.suffix == ".db"
    result = run(["backup", str(made)], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {made} exists: pass --force to replace it"
    assert invoke(settings, "backup", "--force", str(made))[0] == 0
    result = run(["backup", str(tmp_path / "no" / "such" / "x.db")], env(settings), tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("Error: cannot write")


def old_and_new_reports(settings: Settings) -> dict[str, str]:
    """Two reports filed 400 days ago (photos fetched; one photo shared) and one filed today."""
    old = Reporter(settings.db_path, "o_old", now=NOW_ISH - 400 * DAY)
    first = old.file("币安国际 binance-vip.cc", "群里有人推荐USDT理财。", photos=("a", "b"))
    second = Reporter(settings.db_path, "o_old2", now=NOW_ISH - 400 * DAY).file(
        "火币网 huobi-pro.vip", "说是火币的新平台。", photos=("c",))
    recent = Reporter(settings.db_path, "o_new", now=NOW_ISH).file(
        "火币网 huobi-pro.vip", "又有人发这个链接。", photos=("d",))
    shas = {
        "only_old": fetched(settings.db_path, settings.evidence_dir, "a", b"old photo"),
        "also_old": fetched(settings.db_path, settings.evidence_dir, "c", b"another old photo"),
    }
    # The same screenshot sent with an old report and with a recent one: one stored file.
    shas["shared"] = fetched(settings.db_path, settings.evidence_dir, "b", b"shared screenshot")
    assert fetched(settings.db_path, settings.evidence_dir, "d", b"shared screenshot") == shas[
        "shared"]
    return {"first": first, "second": second, "recent": recent, **shas}


def test_purge_removes_old_reports_and_their_evidence_files_and_is_logged(
    settings: Settings, tmp_path: Path
) -> None:
    filed = old_and_new_reports(settings)
    result = run(["purge", "--older-than", "365", "--yes"], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 reports received before" in result.stderr and "(new 2)" in result.stderr
    assert "2 reports and 3 evidence items deleted, 2 evidence files removed" in result.stderr
    assert rows(settings.db_path, "SELECT receipt FROM reports") == [(filed["recent"],)]
    for table in ("report_identifiers", "evidence", "report_history"):
        assert rows(settings.db_path, f"SELECT count(*) FROM {table} WHERE report_id NOT IN "
                    "(SELECT id FROM reports)") == [(0,)]
    assert not evidence_path(settings.evidence_dir, filed["only_old"]).exists()
    assert not evidence_path(settings.evidence_dir, filed["also_old"]).exists()
    assert evidence_path(settings.evidence_dir, filed["shared"]).read_bytes() == (
        b"shared screenshot")  # still the recent report's evidence
    ((actor, action, detail),) = rows(settings.db_path,
                                       "SELECT actor, action, detail FROM admin_log")
    logged = json.loads(detail)
    assert action == "purge" and actor
    assert logged["reports"] == 2 and logged["files_removed"] == 2
    assert logged["older_than_days"] == 365 and logged["by_status"] == {"new": 2}


def test_a_dry_run_says_what_would_go_and_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    filed = old_and_new_reports(settings)
    tables = ("reports", "report_identifiers", "evidence", "report_history", "admin_log")

    def contents() -> list[list[tuple[object, ...]]]:
        return [rows(settings.db_path, f"SELECT * FROM {table}") for table in tables]

    before = contents()
    result = run(["purge", "--older-than", "365", "--dry-run"], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("purge: 2 reports received before")
    assert ", 3 evidence items, 2 evidence files" in result.stderr
    assert contents() == before
    assert evidence_path(settings.evidence_dir, filed["only_old"]).exists()


def test_purge_asks_first_and_a_script_must_say_yes(settings: Settings, tmp_path: Path) -> None:
    old_and_new_reports(settings)
    result = run(["purge", "--older-than", "365"], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: pass --yes to delete them (or --dry-run to only look)")
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(3,)]
    code, _ = invoke(settings, "purge", "--older-than", "365", stdin="y\n")
    assert code == 1  # stdin is not a terminal: no prompt to answer
    assert rows(settings.db_path, "SELECT count(*) FROM reports") == [(3,)]


def test_purge_can_keep_open_cases(settings: Settings, tmp_path: Path) -> None:
    filed = old_and_new_reports(settings)
    db = connect(settings.db_path)
    migrate(db)
    db.execute("UPDATE reports SET status = 'escalated' WHERE receipt = ?", (filed["first"],))
    code, output = invoke(settings, "purge", "--older-than", "365", "--status",
                          "dismissed,closed,new", "--yes")
    assert code == 0, output
    assert sorted(r for (r,) in rows(settings.db_path, "SELECT receipt FROM reports")) == sorted(
        [filed["first"], filed["recent"]])
    assert evidence_path(settings.evidence_dir, filed["only_old"]).exists()
    assert not evidence_path(settings.evidence_dir, filed["also_old"]).exists()
    result = run(["purge", "--older-than", "0"], env(settings), tmp_path)
    assert result.returncode == 2  # a usage error, as click reports them
