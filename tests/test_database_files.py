"""The database file as operators meet it: a wrong path, a copy on read-only media."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.test_cli import run

KEY = {"TIPLINE_SECRET_KEY": "k" * 32, "WECHAT_TOKEN": "abc123"}
TIP = {"description": "USDT 收款 https://bad-exchange.example.com", "channel": "hotline"}


def _filed_database(folder: Path) -> tuple[Path, str]:
    """A database with one imported report; its path and the report's receipt."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "tipline.db"
    (folder / "tips.jsonl").write_text(json.dumps(TIP, ensure_ascii=False) + "\n")
    env = {**KEY, "TIPLINE_DB": str(db)}
    assert run(["import", "tips.jsonl", "--channel", "hotline"], env, folder).returncode == 0
    exported = run(["export", "--format", "jsonl"], env, folder).stdout
    return db, json.loads(exported.splitlines()[0])["receipt"]


@pytest.fixture
def read_only_media(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Put a folder's copy where nobody can write: a read-only mount, else file modes."""
    mounted: list[Path] = []

    def freeze(folder: Path) -> Path:
        target = tmp_path / f"media-{len(mounted)}"
        target.mkdir()
        if os.geteuid() != 0:
            shutil.copytree(folder, target, dirs_exist_ok=True)
            for path in target.iterdir():
                path.chmod(0o444)
            target.chmod(0o555)
            return target
        done = subprocess.run(["mount", "--bind", str(folder), str(target)],
                              capture_output=True)
        if done.returncode != 0:
            pytest.skip("as root, read-only media needs mount (CAP_SYS_ADMIN)")
        mounted.append(target)
        subprocess.run(["mount", "-o", "remount,ro,bind", str(target)], check=True)
        return target

    yield freeze
    for target in mounted:
        subprocess.run(["umount", str(target)], check=False)


@pytest.mark.parametrize("command", [["triage"], ["export"], ["serve"], ["console"],
                                     ["import", "-"], ["show", "ABCDE-12345"]])
def test_tipline_db_pointing_at_a_folder_is_one_line_naming_it(
    tmp_path: Path, command: list[str]
) -> None:
    """Regression (issue 18, item 15): serve and import gave a traceback."""
    (tmp_path / "data").mkdir()
    result = run(command, {**KEY, "TIPLINE_DB": str(tmp_path / "data")}, tmp_path, stdin="")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {tmp_path / 'data'} is a folder, not a database file (point TIPLINE_DB at a "
        f"file, e.g. {tmp_path / 'data' / 'tipline.db'})")
    assert "Traceback" not in result.stderr


def test_an_investigator_reads_a_database_copy_on_read_only_media(
    tmp_path: Path, read_only_media: Callable[[Path], Path]
) -> None:
    """Regression (issue 18, item 15): a WAL database on read-only media did not open."""
    db, receipt = _filed_database(tmp_path / "live")
    copy = read_only_media(db.parent) / "tipline.db"
    env = {**KEY, "TIPLINE_DB": str(copy)}
    for command in (["triage"], ["show", receipt], ["export", "--format", "csv"]):
        result = run(command, env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "bad-exchange.example.com" in result.stdout
        assert "Traceback" not in result.stderr


def test_a_change_to_a_read_only_copy_is_refused_in_one_line(
    tmp_path: Path, read_only_media: Callable[[Path], Path]
) -> None:
    db, receipt = _filed_database(tmp_path / "live")
    copy = read_only_media(db.parent) / "tipline.db"
    env = {**KEY, "TIPLINE_DB": str(copy)}
    changed = run(["case", receipt, "--status", "closed", "--by", "li"], env, tmp_path)
    assert changed.returncode == 1 and "Traceback" not in changed.stderr
    assert "read-only" in changed.stderr.strip().splitlines()[-1]
    console = run(["console"], env, tmp_path)
    assert console.returncode == 1 and "read-only" in console.stderr
    imported = run(["import", "-", "--format", "jsonl"], env, tmp_path,
                   stdin=json.dumps(TIP) + "\n")
    assert imported.returncode == 1 and "Traceback" not in imported.stderr
    assert imported.stderr.strip().splitlines()[-1] == (
        f"Error: {copy} is read-only (the file or its folder cannot be written), and this "
        "command writes to it")


def _copy_with_wal(db: Path, target: Path, shm: bool) -> None:
    """Copy a database while a connection holds commits in its WAL (as a live server does)."""
    target.mkdir()
    holder = sqlite3.connect(db)
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("UPDATE reports SET description = description || ' (edited)'")
    holder.commit()
    for suffix in ("", "-wal", *(("-shm",) if shm else ())):
        shutil.copyfile(f"{db}{suffix}", target / f"tipline.db{suffix}")
    holder.close()


def test_a_read_only_copy_taken_with_its_wal_shows_the_commits_in_the_wal(
    tmp_path: Path, read_only_media: Callable[[Path], Path]
) -> None:
    db, receipt = _filed_database(tmp_path / "live")
    _copy_with_wal(db, tmp_path / "copy", shm=True)
    copy = read_only_media(tmp_path / "copy") / "tipline.db"
    shown = run(["show", receipt], {**KEY, "TIPLINE_DB": str(copy)}, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "(edited)" in shown.stdout


def test_a_read_only_copy_with_a_wal_but_no_shm_names_the_missing_file(
    tmp_path: Path, read_only_media: Callable[[Path], Path]
) -> None:
    db, receipt = _filed_database(tmp_path / "live")
    _copy_with_wal(db, tmp_path / "copy", shm=False)
    copy = read_only_media(tmp_path / "copy") / "tipline.db"
    shown = run(["show", receipt], {**KEY, "TIPLINE_DB": str(copy)}, tmp_path)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    last = shown.stderr.strip().splitlines()[-1]
    assert "tipline.db-wal but no tipline.db-shm" in last and "tipline backup" in last
