"""The reporter's own words: synonyms, traditional characters, receipts as people type them.

Each test is a conversation in the reporter's words through the real dispatcher on a real
SQLite file (tests/filing.py), the way the engine calls it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.filing import RECEIPT, Reporter

ROOT = Path(__file__).resolve().parent.parent


def full_width(text: str) -> str:
    """The text as a Chinese keyboard in full-width mode types it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def at_what_happened(tmp_path: Path) -> Reporter:
    """A reporter who has answered the type and "who" questions."""
    reporter = Reporter(tmp_path / "tips.db")
    for text in ("举报", "1", "huobi-vip.com"):
        reporter.say(text)
    return reporter


def at_the_summary(tmp_path: Path) -> Reporter:
    """A reporter shown the summary, one answer away from filing."""
    reporter = at_what_happened(tmp_path)
    reporter.say("群里有人推荐USDT理财，让我转账。")
    assert "请核对" in reporter.say("跳过")
    return reporter


def photo(reporter: Reporter, media_id: str) -> str:
    return reporter.send("image", media_id=media_id, pic_url=f"http://mmbiz.qpic.cn/{media_id}")


def filed(reporter: Reporter) -> int:
    return len(reporter.db.execute("SELECT id FROM reports").fetchall())


# --- item 1: never offer a word the next step refuses ---------------------------------


def test_a_photo_sent_while_what_happened_is_asked_is_kept_without_offering_done(
    tmp_path: Path,
) -> None:
    reporter = at_what_happened(tmp_path)
    reply = photo(reporter, "early-1")
    assert "完成" not in reply and "图片" in reply and "发生了什么" in reply
    assert "请先回答" not in reporter.say("群里有人推荐USDT理财，让我转账。")
    summary = reporter.say("完成")
    assert "证据：1件" in summary
    assert RECEIPT.search(reporter.say("提交"))
    assert reporter.db.execute("SELECT kind, media_id FROM evidence "
                               "WHERE report_id IS NOT NULL").fetchall() == [("image", "early-1")]


def test_a_photo_over_the_cap_before_the_evidence_step_does_not_offer_done(
    tmp_path: Path,
) -> None:
    reporter = at_what_happened(tmp_path)
    for n in range(20):
        assert "完成" not in photo(reporter, f"m{n}")
    over = photo(reporter, "one-too-many")
    assert "上限" in over and "完成" not in over and "发生了什么" in over


def test_a_photo_sent_at_the_summary_offers_only_what_the_summary_accepts(
    tmp_path: Path,
) -> None:
    reporter = at_the_summary(tmp_path)
    reply = photo(reporter, "late-1")
    assert "完成" not in reply and "证据：1件" in reply and "提交" in reply
    assert RECEIPT.search(reporter.say("提交"))


def test_every_offer_of_done_is_accepted(tmp_path: Path) -> None:
    # Walk a report sending a photo at every step: whenever a reply offers 「完成」,
    # 完成 right after it must not be refused.
    reporter = Reporter(tmp_path / "tips.db")
    for n, text in enumerate(("举报", "1", "huobi-vip.com", "群里有人推荐USDT理财，让我转账。")):
        reporter.say(text)
        state = dict(reporter.state)
        if "完成" in photo(reporter, f"p{n}"):
            assert "请先回答" not in reporter.say("完成"), f"after {text!r}"
        reporter.state = state


# --- item 2: people's own words ----------------------------------------------------------


@pytest.mark.parametrize("word", ["我要举报", "舉報", "我要舉報", "举报。"])
def test_a_reporter_starts_a_report_in_their_own_words(tmp_path: Path, word: str) -> None:
    assert "举报对象是哪一类" in Reporter(tmp_path / "tips.db").say(word)


@pytest.mark.parametrize("word", ["我的举报", "进度", "查詢", "我的舉報"])
def test_a_reporter_lists_their_reports_in_their_own_words(tmp_path: Path, word: str) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    receipt = reporter.file("huobi-vip.com", "他们让我充值USDT。")
    shown = f"{receipt[:5]}-{receipt[5:]}"
    assert shown in reporter.say(word) and "最近的举报" in reporter.say(word)


@pytest.mark.parametrize("form", [
    "{r}", "{r}。", "{lower}", "查询{r}", "查询：{r}", "查询:{r}", "查询 {wide}", "{wide}",
    "查詢 {r}", "进度 {r}", "查询 {r}。",
])
def test_a_reporter_looks_up_a_receipt_as_they_type_it(tmp_path: Path, form: str) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    receipt = reporter.file("huobi-vip.com", "他们让我充值USDT。")
    shown = f"{receipt[:5]}-{receipt[5:]}"
    answer = reporter.say(form.format(r=shown, lower=shown.lower(), wide=full_width(shown)))
    assert shown in answer and "状态：已受理" in answer


def test_a_bare_receipt_of_someone_else_says_nothing_about_it(tmp_path: Path) -> None:
    alice = Reporter(tmp_path / "tips.db")
    receipt = alice.file("huobi-vip.com", "他们让我充值USDT。")
    mallory = Reporter(tmp_path / "tips.db", openid="o_mallory")
    shown = f"{receipt[:5]}-{receipt[5:]}"
    assert mallory.say(shown) == mallory.say("ABCDE-12345")
    assert "未找到" in mallory.say(shown)


def test_a_description_that_begins_with_a_command_word_stays_a_description(
    tmp_path: Path,
) -> None:
    reporter = at_what_happened(tmp_path)
    assert "请发送证据" in reporter.say("举报人说群主让大家转账买币。")
    reporter.say("返回")
    assert "请发送证据" in reporter.say("举报USDT理财骗局，群主让大家转账。")


# --- item 3: the confirming words ---------------------------------------------------------


@pytest.mark.parametrize("word", ["确认", "好的", "是", "确定", "提交。", "yes", "ok", "OK",
                                  "确认！"])
def test_a_reporter_who_confirms_in_their_own_words_gets_the_report_filed(
    tmp_path: Path, word: str,
) -> None:
    reporter = at_the_summary(tmp_path)
    assert RECEIPT.search(reporter.say(word)), word
    assert filed(reporter) == 1


@pytest.mark.parametrize("word", ["嗯", "不", "no", "好吗", "ok?", "确认？", "是不是", "算了吧"])
def test_an_ambiguous_answer_at_the_summary_files_nothing(tmp_path: Path, word: str) -> None:
    reporter = at_the_summary(tmp_path)
    again = reporter.say(word)
    assert "请核对" in again or "Please check" in again
    assert filed(reporter) == 0


def test_confirming_words_before_the_summary_are_answers_not_a_submit(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reporter.say("举报")
    assert "1 到 6" in reporter.say("好的")
    assert "收到。发送「举报」" in Reporter(tmp_path / "b.db", openid="o_b").say("好的")
    assert filed(reporter) == 0


# --- item 4 (locations): a location outside a report is acknowledged ----------------------


def test_a_location_sent_outside_a_report_is_acknowledged_and_starts_one(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reply = reporter.send("location", latitude=39.9, longitude=116.4, label="朝阳区")
    assert "位置" in reply and "已收到" in reply and "举报对象是哪一类" in reply
    assert "完成" not in reply
    assert reporter.db.execute("SELECT kind FROM evidence").fetchall() == [("location",)]


# --- item 5: language by script, skip says what to send -----------------------------------


def test_hello_is_answered_in_english_and_nihao_in_chinese(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    assert "Send \"report\"" in reporter.say("hello")
    assert "发送「举报」" in reporter.say("你好")
    reporter.say("help")  # an English command word
    assert "发送「举报」" in reporter.say("你好")


def test_a_bare_link_keeps_the_conversations_language(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    assert "举报对象是哪一类" in reporter.say("https://okx-pro.vip/register?ref=888")


def test_skip_at_the_who_step_says_a_screenshot_is_fine_and_one_is(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reporter.say("举报")
    reporter.say("1")
    refusal = reporter.say("跳过")
    assert "不能跳过" in refusal and "截图" in refusal and "对方叫什么" in refusal
    assert "发生了什么" in photo(reporter, "shot-1")
    reporter.say("群里有人推荐USDT理财，让我转账。")
    summary = reporter.say("完成")
    assert "对象：见截图" in summary and "证据：1件" in summary
    assert RECEIPT.search(reporter.say("提交"))
    assert reporter.db.execute("SELECT kind, media_id FROM evidence "
                               "WHERE report_id IS NOT NULL").fetchall() == [("image", "shot-1")]


@pytest.mark.parametrize(("before", "instead"), [
    ((), "回复 6（其他）"), (("1", "huobi-vip.com"), "一两句话就够"),
])
def test_skip_at_a_required_step_says_what_to_send_instead(
    tmp_path: Path, before: tuple[str, ...], instead: str,
) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    for text in ("举报", *before):
        reporter.say(text)
    refusal = reporter.say("跳过")
    assert "不能跳过" in refusal and instead in refusal


def test_skip_at_the_who_step_in_english_says_a_screenshot_is_fine(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reporter.say("report")
    reporter.say("1")
    assert "screenshot is fine" in reporter.say("skip")


# --- the README and the reply size --------------------------------------------------------


def test_the_readme_lists_every_accepted_word() -> None:
    from handlers import words

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The conversation (what a reporter sees)")[1].split("\n## ")[0]
    listed = set(re.findall(r"`([^`]+)`", section))
    missing = [w for command in words.COMMANDS for w in (*command.zh, *command.en)
               if w not in listed]
    assert not missing



# --- review: words never swallow an answer ----------------------------------------------


@pytest.mark.parametrize("answer", [
    "我要举报，这个群每天拉人投资USDT，说三天回本",
    "举报：群主让我转账到USDT地址",
    "进度：他们说三天回本",
    "补充，群主还让我下载App",
    "Status: they said it doubles in three days",
])
def test_a_description_that_starts_with_a_command_word_and_a_comma_is_taken_as_written(
    tmp_path: Path, answer: str
) -> None:
    """Regression (review): a word with a separator took over an answer inside a draft."""
    reporter = at_what_happened(tmp_path)
    assert "4/5" in reporter.say(answer)
    assert reporter.state["draft"]["what"] == answer


def test_a_who_answer_that_starts_with_woyaojubao_is_read_as_the_answer(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reporter.say("举报")
    reporter.say("1")
    assert "huobi-vip.com" in reporter.say("我要举报 火币 huobi-vip.com")


def test_evidence_that_starts_with_buchong_is_kept_as_evidence(tmp_path: Path) -> None:
    reporter = at_what_happened(tmp_path)
    reporter.say("群里有人推荐USDT理财，让我转账。")
    assert "第1件证据" in reporter.say("补充：他们又换了网址 new-huobi.com")


def test_a_wechat_id_shaped_like_a_receipt_answers_who(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    reporter.say("举报")
    reporter.say("3")
    answer = reporter.say("wx888-66666")
    assert "未找到" not in answer and "3/5" in answer


def test_a_receipt_after_chaxun_still_works_inside_a_draft(tmp_path: Path) -> None:
    reporter = Reporter(tmp_path / "tips.db")
    receipt = reporter.file("huobi-vip.com", "他们让我充值USDT。")
    shown = f"{receipt[:5]}-{receipt[5:]}"
    reporter.say("举报")
    assert shown in reporter.say(f"查询：{shown}")


@pytest.mark.parametrize("word", ["OK", "ＯＫ！", "yes"])
def test_a_chinese_reporter_who_confirms_with_ok_is_answered_in_chinese(
    tmp_path: Path, word: str
) -> None:
    """Regression (review): OK at the summary switched the report to English."""
    reporter = at_the_summary(tmp_path)
    assert "回执号" in reporter.say(word)
    assert reporter.db.execute("SELECT lang FROM reports").fetchall() == [("zh",)]


def test_a_photo_after_going_back_to_who_files_no_earlier_answer(tmp_path: Path) -> None:
    """Regression (review): the screenshot cleared `who` but kept its old identifiers."""
    reporter = Reporter(tmp_path / "tips.db")
    for text in ("举报", "1", "huobi-vip.com", "返回"):
        reporter.say(text)
    photo(reporter, "who-shot")
    reporter.say("他们让我充值USDT。")
    reporter.say("跳过")
    assert RECEIPT.search(reporter.say("提交"))
    assert reporter.db.execute("SELECT count(*) FROM report_identifiers").fetchall() == [(0,)]
