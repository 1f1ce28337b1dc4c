"""`tipline triage` and `tipline show` in a narrow terminal and piped: no value is ever cut."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.desk import Desk
from tests.test_cli import run

EVM = "0x52908400098527886E0F7030069857D2E4169EE7"
TRON = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
URL = "https://www.huobi-vip.com/register?ref=abc123456"
DESCRIPTION = ("我在一个微信群里看到有人推荐这个平台，说每天收益百分之五，我充值了两万元USDT以后"
               "就提不了现，客服一直说要再交保证金才能解冻账户，我怀疑是骗局。")
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def in_a_terminal(args: list[str], db: Path, columns: int) -> str:
    """Run `tipline ARGS` with stdout on a terminal `columns` wide; return what it showed."""
    main, side = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    env |= {"TIPLINE_DB": str(db), "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    with subprocess.Popen([sys.executable, "-m", "bot", *args], stdout=side,
                          stderr=subprocess.PIPE, env=env, cwd=db.parent) as process:
        os.close(side)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal's other side closed: the command is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    os.close(main)
    return _ESCAPES.sub("", b"".join(chunks).decode("utf-8")).replace("\r\n", "\n")


def flat(text: str) -> str:
    """What was shown with line breaks and layout spaces taken out (wrapped text rejoined)."""
    return re.sub(r"\s+", "", text)


def a_report_with_long_values(desk: Desk) -> str:
    receipt = desk.file(f"火币 官网 {URL} 钱包 {EVM} TRX {TRON}", reporter="p_ann",
                        description=DESCRIPTION)
    desk.file(f"huobi-vip.com {EVM}", reporter="p_bob")
    return receipt


def test_a_narrow_terminal_shows_every_value_of_the_triage_whole(desk: Desk) -> None:
    receipt = a_report_with_long_values(desk)

    shown = in_a_terminal(["triage"], desk.path, 80)
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    for value in ("huobi-vip.com", EVM.lower(), TRON, URL, receipt):
        assert value in shown, value  # on one line, whole: not folded mid-address


def test_a_narrow_terminal_shows_the_whole_description_and_addresses_of_a_report(
    desk: Desk,
) -> None:
    receipt = a_report_with_long_values(desk)

    shown = in_a_terminal(["show", receipt], desk.path, 80)
    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    assert DESCRIPTION in flat(shown)  # wrapped, every character of it there
    for value in (EVM, EVM.lower(), TRON, URL):
        assert value in shown, value


def test_piped_output_is_never_cut_however_long_the_values(desk: Desk, tmp_path: Path) -> None:
    long_url = "https://huobi-vip.com/" + "a" * 300
    receipt = desk.file(f"{long_url} {EVM}", reporter="p_ann", description=DESCRIPTION * 3)

    for args in (["triage"], ["show", receipt]):
        result = run(args, {"TIPLINE_DB": str(desk.path), "COLUMNS": "80"}, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "…" not in result.stdout
        assert long_url in result.stdout and EVM.lower() in result.stdout
        if args[0] == "show":
            assert DESCRIPTION * 3 in result.stdout  # one line, as written


def test_a_narrow_terminal_still_shows_escapes_in_what_reporters_wrote_never_obeys_them(
    desk: Desk,
) -> None:
    receipt = desk.file(f"钱包 {EVM} \x1b]0;pwned\x07", reporter="p_ann",
                        description="清屏\x1b[2J 反转\u202e文字")

    shown = in_a_terminal(["show", receipt], desk.path, 60)
    assert "\\x1b[2J" in shown and "\\u202e" in shown and "\\x1b]0;pwned\\x07" in shown
    assert "\u202e" not in shown
