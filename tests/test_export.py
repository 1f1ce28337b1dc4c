"""`tipline export`: what an admin gets in Excel/WPS, in JSON lines, in a workbook, in a bag."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Settings
from tests.conftest import rows
from tests.filing import Reporter, fetched
from tests.test_cli import run
from triage.vocabulary import display_receipt

JUNE_1 = 1_717_171_200  # 2024-06-01T00:00:00+08:00


def env(settings: Settings) -> dict[str, str]:
    return {"TIPLINE_DB": str(settings.db_path), "TIPLINE_EVIDENCE_DIR": str(settings.evidence_dir),
            "TIPLINE_SECRET_KEY": settings.secret_key}


def invoke(settings: Settings, *args: str, stdin: str | bytes | None = None) -> tuple[int, str]:
    """Run `tipline ARGS` in-process; return the exit code and stdout+stderr."""
    result = CliRunner().invoke(cli, list(args), env=env(settings), input=stdin)
    return result.exit_code, result.output


@pytest.fixture
def filed(settings: Settings) -> dict[str, str]:
    """Three chat reports: two in June 2024 (one with a fetched photo), one in July."""
    alice = Reporter(settings.db_path, "o_alice", now=JUNE_1 + 3600)
    first = alice.file("币安国际 https://www.binance-vip.cc/reg 客服微信：coinvip888",
                       "群里有人推荐USDT理财，说日收益3%，让我转账5000元。", photos=("media-1",))
    fetched(settings.db_path, settings.evidence_dir, "media-1", b"\xff\xd8\xffphoto bytes")
    bob = Reporter(settings.db_path, "o_bob", now=JUNE_1 + 86400)
    planted = '=HYPERLINK("http://evil.example","点我") 他们让我转到这个地址'
    second = bob.file("TQ5NAmMFHvrjX7w5K6tyu3CeZV3gPjnVBS", planted, target="4")
    carol = Reporter(settings.db_path, "o_carol", now=JUNE_1 + 40 * 86400)
    third = carol.file("火币网 huobi-pro.vip", "说是火币的新平台，充值后提不出来。")
    return {"first": first, "second": second, "third": third}


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def test_an_admin_who_exports_to_csv_gets_a_file_excel_opens_with_chinese_intact(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "reports.csv"
    code, output = invoke(settings, "export", "--output", str(out))
    assert code == 0, output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel and WPS then read UTF-8
    assert b"\r\n" in data
    exported = read_csv(out)
    assert list(exported[0]) == [
        "receipt", "received_at", "status", "target_type", "identifiers", "description",
        "evidence_count", "reporter", "who", "channel", "lang", "assignee", "updated_at"]
    first = exported[0]
    assert first["receipt"] == f"{filed['first'][:5]}-{filed['first'][5:]}"
    assert first["received_at"].startswith("2024-06-01T01:") and first["received_at"].endswith(
        "+08:00")
    assert first["description"] == "群里有人推荐USDT理财，说日收益3%，让我转账5000元。"
    assert first["status"] == "new" and first["target_type"] == "exchange"
    assert first["evidence_count"] == "1" and first["channel"] == "wechat"
    assert "domain:binance-vip.cc" in first["identifiers"].split("; ")
    assert "wechat_id:coinvip888" in first["identifiers"].split("; ")
    # The reporter is the stored pseudonym, never the OpenID.
    assert first["reporter"] == rows(settings.db_path, "SELECT reporter FROM reports "
                                     "WHERE receipt = ?", (filed["first"],))[0][0]
    assert b"o_alice" not in data
    assert "3 reports written" in output


def test_a_planted_formula_stays_text_in_csv_and_xlsx(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    invoke(settings, "export", "-o", str(tmp_path / "r.csv"))
    second = read_csv(tmp_path / "r.csv")[1]
    assert second["description"].startswith("'=HYPERLINK(")

    from openpyxl import load_workbook

    invoke(settings, "export", "--format", "xlsx", "-o", str(tmp_path / "r.xlsx"))
    sheet = load_workbook(tmp_path / "r.xlsx").active
    cell = sheet.cell(row=3, column=6)
    assert cell.value.startswith("=HYPERLINK(") and cell.data_type == "s"


def test_an_xlsx_export_reads_back_with_openpyxl(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "reports.xlsx"
    code, output = invoke(settings, "export", "--format", "xlsx", "--output", str(out))
    assert code == 0, output
    sheet = load_workbook(out, read_only=True).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0][:8] == ["receipt", "received_at", "status", "target_type", "identifiers",
                            "description", "evidence_count", "reporter"]
    assert len(table) == 4
    assert table[1][5] == "群里有人推荐USDT理财，说日收益3%，让我转账5000元。"
    assert table[1][6] == 1  # a number, not text
    assert table[3][8] == "火币网 huobi-pro.vip"


def test_filters_pick_reports_by_time_and_status(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    def receipts(*args: str) -> list[str]:
        code, output = invoke(settings, "export", "--format", "jsonl", *args)
        assert code == 0, output
        return [json.loads(line)["receipt"].replace("-", "") for line in output.splitlines()
                if line.startswith("{")]

    assert receipts() == [filed["first"], filed["second"], filed["third"]]
    assert receipts("--since", "2024-06-02") == [filed["second"], filed["third"]]
    assert receipts("--until", "2024-06-01") == [filed["first"]]  # the whole day
    assert receipts("--until", "2024-06-02T00:00:00+08:00") == [filed["first"]]
    assert receipts("--since", "2024-06-01", "--until", "2024-06-30") == [
        filed["first"], filed["second"]]
    rows_ = rows(settings.db_path, "SELECT id FROM reports WHERE receipt = ?", (filed["second"],))
    Reporter(settings.db_path).db.execute(
        "UPDATE reports SET status = 'escalated' WHERE id = ?", (rows_[0][0],))
    assert receipts("--status", "escalated") == [filed["second"]]
    assert receipts("--status", "new,escalated") == [
        filed["first"], filed["second"], filed["third"]]
    assert receipts("--status", "closed") == []


@pytest.mark.parametrize(("args", "status", "message"), [
    (["--since", "last tuesday"], 2, "Error: --since: bad date 'last tuesday'"),
    (["--until", "2024-13-01"], 2, "Error: --until: bad date '2024-13-01'"),
    (["--status", "open"], 2, "Error: --status: unknown value 'open'; use one of new, reviewing,"),
    (["--format", "xlsx"], 1, "Error: xlsx needs --output FILE"),
    (["--output", "/nonexistent-dir/r.csv"], 1, "Error: cannot write /nonexistent-dir/r.csv"),
])
def test_bad_options_are_one_clear_line(
    settings: Settings, filed: dict[str, str], tmp_path: Path, args: list[str], status: int,
    message: str,
) -> None:
    """A bad option value is a usage error (2); what cannot be done is a user error (1)."""
    result = run(["export", *args], env(settings), tmp_path)
    assert result.returncode == status
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_export_without_a_database_says_so(settings: Settings, tmp_path: Path) -> None:
    result = run(["export"], env(settings), tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"Error: no database at {settings.db_path} "
                                     "(set TIPLINE_DB or pass --db)")


def test_jsonl_goes_to_stdout_with_messages_only_on_stderr(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    result = run(["export", "--format", "jsonl"], env(settings), tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["receipt"].replace("-", "") for line in lines] == list(filed.values())
    first = lines[0]
    assert {"kind": "wechat_id", "value": "coinvip888", "raw": "coinvip888"} in first[
        "identifiers"]
    assert first["evidence_count"] == 1 and first["assignee"] is None
    assert result.stderr == ""  # no progress bar: stderr is not a terminal


def test_exports_are_in_the_admin_log(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    invoke(settings, "export", "--status", "new", "-o", str(tmp_path / "r.csv"))
    (actor, action, detail), = rows(settings.db_path,
                                     "SELECT actor, action, detail FROM admin_log")
    assert action == "export" and actor
    assert json.loads(detail)["rows"] == 3 and json.loads(detail)["statuses"] == ["new"]


def test_an_evidence_bundle_is_a_bag_with_hashes_that_check_out(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    bag = tmp_path / "case-42"
    code, output = invoke(settings, "export", "--since", "2024-06-01", "--until", "2024-06-30",
                          "--evidence-bundle", str(bag))
    assert code == 0, output
    assert "2 reports, 1 evidence files" in output
    assert (bag / "bagit.txt").read_text() == (
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    info = dict(line.split(": ", 1) for line in (bag / "bag-info.txt").read_text().splitlines())
    assert info["Export-Filter"] == "since=2024-06-01; until=2024-06-30; status=any"
    assert info["Report-Count"] == "2" and info["Bag-Software-Agent"].startswith("tipline ")
    assert info["Exporter"] and info["Export-Time"].endswith("+08:00")
    manifest = [line.split("  ", 1) for line in
                (bag / "manifest-sha256.txt").read_text().splitlines()]
    payload = sorted(p.relative_to(bag).as_posix() for p in (bag / "data").rglob("*")
                     if p.is_file())
    assert sorted(name for _, name in manifest) == payload
    for sha, name in manifest:
        assert hashlib.sha256((bag / name).read_bytes()).hexdigest() == sha
    octets = sum((bag / name).stat().st_size for _, name in manifest)
    assert info["Payload-Oxum"] == f"{octets}.{len(manifest)}"
    for line in (bag / "tagmanifest-sha256.txt").read_text().splitlines():
        sha, name = line.split("  ", 1)
        assert hashlib.sha256((bag / name).read_bytes()).hexdigest() == sha
    record = json.loads((bag / "data" / "reports" / f"{display_receipt(filed['first'])}.json")
                        .read_text())
    (photo,) = record["evidence"]
    assert photo["sha256"] == hashlib.sha256(b"\xff\xd8\xffphoto bytes").hexdigest()
    assert (bag / photo["file"]).read_bytes() == b"\xff\xd8\xffphoto bytes"
    assert photo["file"].endswith(".jpg")
    assert record["history"][0]["action"] == "filed"
    assert record["received_at"].endswith("+08:00")


def test_a_bundle_notes_evidence_it_could_not_include(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    for path in settings.evidence_dir.rglob("*"):
        if path.is_file():
            path.write_bytes(b"tampered")
    code, output = invoke(settings, "export", "--evidence-bundle", str(tmp_path / "bag"))
    assert code == 0, output
    assert "1 checksum mismatch" in output
    record = json.loads((tmp_path / "bag" / "data" / "reports"
                         / f"{display_receipt(filed['first'])}.json").read_text())
    assert record["evidence"][0]["file"] is None
    assert not any((tmp_path / "bag" / "data" / "evidence").iterdir())
    code, output = invoke(settings, "export", "--evidence-bundle", str(tmp_path / "bag"))
    assert code == 1 and "already exists" in output


def test_an_export_reads_one_snapshot_in_filing_order(
    settings: Settings, filed: dict[str, str]
) -> None:
    from db import exports

    for n in range(7):
        Reporter(settings.db_path, f"o_more{n}").file(f"site{n}.com", f"第{n}个网站，提不出来。")
    one = exports.Snapshot(settings.db_path)
    expected = b"".join(data for _, data in one.lines("jsonl", exports.ExportFilter()))
    one.close()
    snapshot = exports.Snapshot(settings.db_path)
    Reporter(settings.db_path, "o_late").file("late.com", "快照之后才提交的举报。")  # not seen
    pages = list(snapshot.lines("jsonl", exports.ExportFilter(), page=2))
    csv_pages = list(snapshot.lines("csv", exports.ExportFilter(), page=3))
    total = exports.count(snapshot.db, exports.ExportFilter())
    snapshot.close()
    assert b"".join(data for _, data in pages) == expected
    assert sum(rows_ for rows_, _ in pages) == total == 10
    assert b"late.com" not in expected
    receipts = [json.loads(line)["receipt"] for line in expected.decode().splitlines()]
    assert receipts[:3] == [f"{r[:5]}-{r[5:]}" for r in filed.values()]
    records = list(csv.reader(io.StringIO(b"".join(d for _, d in csv_pages).decode(),
                                          newline="")))
    assert [r[0] for r in records] == receipts


def test_a_chat_report_with_a_photo_exports_the_identifiers_and_evidence_count_on_its_row(
    settings: Settings, tmp_path: Path
) -> None:
    alice = Reporter(settings.db_path, "o_alice", now=JUNE_1)
    receipt = alice.file("币安国际 客服微信：coinvip888 https://www.binance-vip.cc/reg",
                         "他们的微信还是coinvip888，网址 binance-vip.cc，让我转账。",
                         photos=("m1", "m2"))
    # The row's columns (what export reads) say what the normalised tables say.
    stored = rows(settings.db_path, "SELECT identifiers_text, evidence_count FROM reports "
                  "WHERE receipt = ?", (receipt,))
    assert stored == rows(settings.db_path, """
        SELECT (SELECT group_concat(kind || ':' || value, '; ') FROM report_identifiers
                WHERE report_id = r.id),
               (SELECT count(*) FROM evidence WHERE report_id = r.id)
        FROM reports AS r WHERE receipt = ?""", (receipt,))
    text, evidence = stored[0]
    assert evidence == 2
    assert text.split("; ").count("wechat_id:coinvip888") == 1  # named twice, listed once
    assert "domain:binance-vip.cc" in text.split("; ")

    out = tmp_path / "reports.csv"
    assert invoke(settings, "export", "-o", str(out))[0] == 0
    (row,) = read_csv(out)
    assert (row["identifiers"], row["evidence_count"]) == (text, "2")

    # Filed again by `tipline import` (no evidence travels): the same identifiers text.
    exported = tmp_path / "reports.jsonl"
    assert invoke(settings, "export", "--format", "jsonl", "-o", str(exported))[0] == 0
    other = tmp_path / "other.db"
    code, output = invoke(settings, "--db", str(other), "import", str(exported))
    assert code == 0, output
    assert rows(other, "SELECT identifiers_text, evidence_count FROM reports") == [(text, 0)]


def test_a_full_width_formula_is_guarded_too_and_imports_back_unchanged(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression (hardening 17): a leading ＝ (full width) was not guarded in CSV."""
    planted = '＝HYPERLINK("http://evil.example","点我") 转到这里'
    Reporter(settings.db_path, "o_dave", now=JUNE_1).file("evil-ex.com", planted)
    invoke(settings, "export", "-o", str(tmp_path / "r.csv"))
    [row] = read_csv(tmp_path / "r.csv")
    assert row["description"] == "'" + planted
    other = dataclasses.replace(settings, db_path=tmp_path / "other.db")
    code, output = invoke(other, "import", "--format", "csv", str(tmp_path / "r.csv"))
    assert code == 0, output
    with sqlite3.connect(other.db_path) as conn:
        assert conn.execute("SELECT description FROM reports").fetchall() == [(planted,)]


def test_a_bundle_names_evidence_by_its_bytes_not_its_declared_type(
    settings: Settings, tmp_path: Path
) -> None:
    """Regression (hardening 12): a file declared text/html became a clickable .html."""
    dave = Reporter(settings.db_path, "o_dave", now=JUNE_1)
    dave.file("evil-ex.com", "他们发来的文件", photos=("media-html", "media-png"))
    fetched(settings.db_path, settings.evidence_dir, "media-html", b"<html><script>x</script>",
            mime="text/html")
    fetched(settings.db_path, settings.evidence_dir, "media-png", b"\x89PNG\r\n\x1a\n" + b"0" * 32,
            mime="text/html")
    code, output = invoke(settings, "export", "--evidence-bundle", str(tmp_path / "bag"))
    assert code == 0, output
    names = sorted(p.suffix for p in (tmp_path / "bag" / "data" / "evidence").iterdir())
    assert names == [".bin", ".png"]


# --- spreadsheets a newcomer opens (issue 19, item 11) ----------------------------------


def shown_width(value: object) -> int:
    """Columns a value takes on screen: Chinese (wide) characters two each."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def test_an_xlsx_opens_with_columns_as_wide_as_their_content_and_the_header_frozen(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    from triage.exports import XLSX_MAX_WIDTH

    out = tmp_path / "reports.xlsx"
    assert invoke(settings, "export", "--format", "xlsx", "-o", str(out))[0] == 0
    sheet = load_workbook(out).active
    assert sheet.freeze_panes == "A2"  # the header stays in view while scrolling
    table = list(sheet.iter_rows(values_only=True))
    widths = {name: sheet.column_dimensions[get_column_letter(i)].width
              for i, name in enumerate(table[0], 1)}
    for i, name in enumerate(table[0]):
        widest = max(shown_width(row[i]) for row in table if row[i] is not None)
        assert widths[name] == min(XLSX_MAX_WIDTH, widest + 2), name
    # A receipt and a time are shown whole; Chinese text counts double, up to the cap.
    assert widths["receipt"] == 13 and widths["received_at"] == 27
    assert widths["who"] == widths["description"] == XLSX_MAX_WIDTH
    assert widths["status"] == len("status") + 2


def test_an_admin_with_old_excel_exports_gb18030_and_it_imports_back(
    settings: Settings, filed: dict[str, str], tmp_path: Path
) -> None:
    planted = '＝HYPERLINK("http://evil.example","点我") 转到这里'
    Reporter(settings.db_path, "o_dave", now=JUNE_1).file("evil-ex.com", planted)
    out = tmp_path / "reports.csv"
    code, output = invoke(settings, "export", "--encoding", "gb18030", "-o", str(out))
    assert code == 0, output
    data = out.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")  # no UTF-8 mark: old Excel reads the locale's
    text = data.decode("gb18030")
    assert "群里有人推荐USDT理财" in text and "'＝HYPERLINK(" in text and "'=HYPERLINK(" in text
    exported = list(csv.DictReader(io.StringIO(text, newline="")))
    assert exported == read_csv_utf8(settings, tmp_path)

    # Both encodings import back, found out or named, the guards taken off again.
    columns = "receipt, reporter, status, target_type, who, description, received_at"
    for n, args in enumerate([[], ["--encoding", "gb18030"]]):
        other = tmp_path / f"other{n}.db"
        code, output = invoke(settings, "--db", str(other), "import", *args, str(out))
        assert code == 0, output
        assert rows(other, f"SELECT {columns} FROM reports ORDER BY receipt") == rows(
            settings.db_path, f"SELECT {columns} FROM reports ORDER BY receipt")
    code, output = invoke(settings, "--db", str(tmp_path / "x.db"), "import", "--encoding",
                          "utf-8", str(out))
    assert code == 1 and "line 2: not UTF-8 text" in output, output


def read_csv_utf8(settings: Settings, tmp_path: Path) -> list[dict[str, str]]:
    """The same export in the default encoding (UTF-8 with a BOM)."""
    out = tmp_path / "utf8.csv"
    assert invoke(settings, "export", "-o", str(out))[0] == 0
    return read_csv(out)


@pytest.mark.parametrize(("args", "message"), [
    (["export", "--format", "jsonl", "--encoding", "gb18030"],
     "Error: --encoding gb18030 is for CSV (JSON lines are always UTF-8; an xlsx has none)"),
    (["import", "--encoding", "gb18030", "reports.jsonl"],
     "Error: --encoding gb18030 is for CSV (JSON lines are always UTF-8; an xlsx has none)"),
    (["export", "--encoding", "gbk"], "Error: --encoding: unknown value 'gbk'; use one of "
                                      "utf-8, gb18030"),
])
def test_an_encoding_other_formats_cannot_have_is_one_line(
    settings: Settings, filed: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(args, env(settings), tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message
