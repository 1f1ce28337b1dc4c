"""An admin's first runs: `make run` on another port, and one server per database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, free_port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh terminal: no Tipline settings but those given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    return {**env, **extra}


def tipline(args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=cwd,
                          input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def serve_in(tmp_path: Path) -> Iterator[Callable[[Path, dict[str, str]], str]]:
    """Start `tipline serve` in a folder (reading its .env); return its URL once it answers."""
    started: list[subprocess.Popen[bytes]] = []

    def start(folder: Path, env: dict[str, str]) -> str:
        url = f"http://127.0.0.1:{env['TIPLINE_PORT']}"
        log = (tmp_path / "serve.log").open("ab")
        process = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=folder,
                                   stdout=subprocess.DEVNULL, stderr=log,
                                   start_new_session=True)
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1):
                    return url
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError((tmp_path / "serve.log").read_text()) from None
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait(timeout=30)


def test_make_run_on_another_port_prints_a_chat_command_that_reaches_that_port(
    tmp_path: Path, serve_in: Callable[[Path, dict[str, str]], str]
) -> None:
    """Regression (issue 19, item 13): the printed `tipline chat` talked to .env's port."""
    # `.env` names one port (nobody listens there); `TIPLINE_PORT=… make run` another.
    first = subprocess.run([sys.executable, "-m", "bot.cli.devenv"], env=clean_env(),
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    dotenv = tmp_path / ".env"
    dotenv.write_text(re.sub(r"TIPLINE_PORT=\d+", f"TIPLINE_PORT={free_port()}",
                             dotenv.read_text()))
    port = str(free_port())
    said = subprocess.run([sys.executable, "-m", "bot.cli.devenv"],
                          env=clean_env(TIPLINE_PORT=port), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert said.returncode == 0, said.stderr
    serve_in(tmp_path, clean_env(TIPLINE_PORT=port, TIPLINE_READERS="0"))

    command = next(line.split() for line in said.stderr.splitlines()
                   if "tipline chat" in line)
    assert command[0] == ".venv/bin/tipline"
    chat = tipline(command[1:], clean_env(), tmp_path, stdin="帮助\n")  # another terminal
    assert chat.returncode == 0, chat.stderr
    assert "使用说明" in chat.stdout


def test_a_second_serve_on_the_same_database_exits_1_with_one_line_naming_the_first(
    server_process: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = server_process()
    env = {**first.env(), "TIPLINE_PORT": str(free_port())}  # another port, same database
    second = subprocess.run([sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("Error: ") and str(first.settings.db_path) in lines[0]
    assert f"pid {first.process.pid if first.process else ''}" in lines[0]
    assert f"{first.url}/wechat" in lines[0]
    with urllib.request.urlopen(first.url + "/healthz", timeout=5) as answer:
        assert answer.status == 200  # the first one is untouched


def test_a_server_killed_with_sigkill_starts_again_on_the_same_database(
    server_process: Callable[..., ServerProcess]
) -> None:
    first = server_process()
    first.kill_all()
    again = server_process()  # raises with the log if it refuses to start
    with urllib.request.urlopen(again.url + "/healthz", timeout=5) as answer:
        assert answer.status == 200
    assert again.stop() == 0
    assert server_process().stop() == 0  # and after a clean stop too
