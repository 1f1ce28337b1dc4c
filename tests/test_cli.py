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
