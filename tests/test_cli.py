"""The `tipline` command: help with examples, one-line errors, chat against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Settings
from tests.conftest import ServerProcess, rows


def all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        found.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "tipline")
def test_every_command_has_help_ending_in_an_example(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
    assert "tipline " in result.output.split("Example")[-1]


def run(args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
        ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **env},
                          cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60)


def test_serve_without_a_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(["serve"], {"TIPLINE_SECRET_KEY": "k" * 32}, tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: WECHAT_TOKEN is required: set it in the environment or in .env"
    ]


def test_serve_with_a_short_aes_key_names_it(tmp_path: Path) -> None:
    env = {"WECHAT_TOKEN": "abc123", "TIPLINE_SECRET_KEY": "k" * 32,
           "WECHAT_APP_ID": "wx2c2769f8efd9abc2", "WECHAT_ENCODING_AES_KEY": "x" * 40}
    result = run(["serve"], env, tmp_path)
    assert result.returncode == 1
    assert "WECHAT_ENCODING_AES_KEY" in result.stderr and "Traceback" not in result.stderr


def test_serve_on_a_busy_port_says_so_in_one_line(
    settings: Settings, server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    busy = server_process()
    env = {**busy.env(), "TIPLINE_DB": str(tmp_path / "other.db")}
    result = run(["serve"], env, tmp_path)
    assert result.returncode == 1
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr


def test_chat_talks_to_a_running_server_in_safe_mode(
    safe_settings: Settings, server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = server_process(settings_=safe_settings)
    lines = "帮助\n/subscribe\n/photo media123\n/location 39.9 116.4 朝阳区\n/click HELP\nhelp\n"
    result = run(["chat", "--url", server.url + "/wechat", "--user", "o_cli"], server.env(),
                 tmp_path, stdin=lines)
    assert result.returncode == 0, result.stderr
    assert "使用说明" in result.stdout and "欢迎关注" in result.stdout
    assert "How to use" in result.stdout
    kinds = [kind for (kind,) in rows(safe_settings.db_path,
                                      "SELECT kind FROM inbound ORDER BY received_at")]
    assert sorted(kinds) == sorted(["text", "event", "image", "location", "event", "text"])


def test_chat_with_no_server_says_it_cannot_reach_it(tmp_path: Path) -> None:
    result = run(["chat", "--url", "http://127.0.0.1:9/wechat"],
                 {"WECHAT_TOKEN": "abc123"}, tmp_path, stdin="帮助\n")
    assert result.returncode == 1
    assert "cannot reach" in result.stderr and "Traceback" not in result.stderr


def test_extract_reads_stdin_and_prints_identifiers_as_json(tmp_path: Path) -> None:
    text = "客服微信：coinvip888，官网 https://www.huobi-vip.cc/reg，电话13912345678\n"
    result = run(["extract"], {}, tmp_path, stdin=text)
    assert result.returncode == 0, result.stderr
    found = {(item["kind"], item["value"]) for item in json.loads(result.stdout)}
    assert found == {("wechat_id", "coinvip888"), ("url", "https://www.huobi-vip.cc/reg"),
                     ("domain", "huobi-vip.cc"), ("phone", "+8613912345678")}


def test_extract_lines_prints_one_array_per_input_line(tmp_path: Path) -> None:
    result = run(["extract", "--lines"], {}, tmp_path, stdin="电话 13912345678\n订单号 20231105\n")
    arrays = [json.loads(line) for line in result.stdout.splitlines()]
    assert [[i["kind"] for i in a] for a in arrays] == [["phone"], []]


# --- the shared options: one meaning in every command -----------------------------------


def commands_taking(option: str) -> list[list[str]]:
    """Every command whose options include `option`."""
    found = []
    for path in all_commands():
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        if any(option in p.opts for p in command.params):
            found.append(path)
    return found


# What each filtering command needs besides its filters to run on an empty database.
ARGS = {"purge": ["--older-than", "1", "--dry-run"], "export": [], "triage": []}


def test_the_filters_are_the_same_options_in_every_command() -> None:
    assert sorted(" ".join(p) for p in commands_taking("--status")) == [
        "case", "export", "purge", "triage"]
    assert sorted(" ".join(p) for p in commands_taking("--since")) == [
        "evidence read", "export", "triage"]


@pytest.mark.parametrize("command", sorted(ARGS))
@pytest.mark.parametrize(("filters", "status", "said"), [
    (["--status", "new,closed"], 0, ""),
    (["--status", "new", "--status", "CLOSED"], 0, ""),
    (["--status", "open"], 2, "Error: --status: unknown value 'open'; use one of new, "),
    (["--since", "7d"], 0, ""),
    (["--since", "12h"], 0, ""),
    (["--since", "2024-05-01"], 0, ""),
    (["--since", "2024-05-01T09:30:00+08:00"], 0, ""),
    (["--since", "last tuesday"], 2, "Error: --since: bad date 'last tuesday'"),
])
def test_every_command_reads_its_filters_the_same_way(
    command: str, filters: list[str], status: int, said: str, tmp_path: Path
) -> None:
    """Regression: `triage --since 7d` exited 2 while `export --since 7d` worked, and a bad
    status exited 1 in one command and 2 in another."""
    if filters[0] not in {p.opts[0] for p in cli.commands[command].params}:
        pytest.skip(f"{command} takes no {filters[0]}")
    db = tmp_path / "t.db"
    assert run(["--db", str(db), "watchlist", "import", "-"], {}, tmp_path,
               stdin="name,aliases,domains,addresses\n").returncode == 0
    result = run(["--db", str(db), command, *ARGS[command], *filters], {}, tmp_path)
    assert result.returncode == status, result.stderr
    if said:
        assert result.stderr.startswith(said) and len(result.stderr.splitlines()) == 1


def test_every_command_waits_as_long_for_the_database(tmp_path: Path) -> None:
    """Regression: the admin commands waited 10 s for the server's lock, the others 2 s."""
    from bot.cli.common import Obj, database
    from db.connection import CLI_BUSY_TIMEOUT_MS

    with database(Obj(tmp_path / "t.db"), create=True) as db:
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == CLI_BUSY_TIMEOUT_MS


def test_every_file_and_folder_tipline_writes_is_owner_only(tmp_path: Path) -> None:
    """Regression (hardening 9): the database, its -wal, exports and backups were 0644."""
    import stat

    db = tmp_path / "data" / "t.db"
    assert run(["--db", str(db), "watchlist", "import", "-"], {}, tmp_path,
               stdin="name,aliases,domains,addresses\n火币,,huobi.com,\n").returncode == 0
    assert run(["--db", str(db), "export", "-o", str(tmp_path / "out.csv")], {},
               tmp_path).returncode == 0
    assert run(["--db", str(db), "backup", str(tmp_path / "copy.db")], {},
               tmp_path).returncode == 0
    assert run(["--db", str(db), "export", "--evidence-bundle", str(tmp_path / "bag")], {},
               tmp_path).returncode == 0
    written = [db.parent, db, tmp_path / "out.csv", tmp_path / "copy.db", tmp_path / "bag",
               *(tmp_path / "bag").rglob("*"), *db.parent.glob("t.db-*")]
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"
