"""The report conversation, end to end over HTTP: what a reporter on a phone goes through."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.wechat import wire
from handlers import report, texts
from tests.conftest import ServerProcess, WeChat, make_wechat, post_fresh, rows

RECEIPT = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


class Reporter:
    """One WeChat user talking to the tip line."""

    def __init__(self, weixin: WeChat, openid: str = "o_reporter") -> None:
        self.weixin = weixin
        self.openid = openid

    async def say(self, content: str) -> str:
        return await self.weixin.send(self.weixin.text(content, openid=self.openid))

    async def send(self, **fields: Any) -> str:
        base = self.weixin.text("", openid=self.openid)
        del base["Content"]
        return await self.weixin.send({**base, **fields})

    async def photo(self, media_id: str) -> str:
        return await self.send(MsgType="image", MediaId=media_id,
                               PicUrl=f"http://mmbiz.qpic.cn/{media_id}")

    async def click(self, key: str) -> str:
        return await self.weixin.send(self.weixin.event("CLICK", openid=self.openid, key=key))


def receipt_in(reply: str) -> str:
    found = RECEIPT.search(reply)
    assert found, reply
    return found.group()


def reports(settings: Settings) -> list[tuple[Any, ...]]:
    return rows(settings.db_path, "SELECT receipt, target_type, lang, status FROM reports")


async def file_a_report(reporter: Reporter) -> str:
    """The shortest complete report: type, who, what, no evidence, submit."""
    await reporter.say("举报")
    await reporter.say("1")
    await reporter.say("币安国际 www.binance-vip.cc")
    await reporter.say("群里有人推荐USDT理财，让我转账。")
    await reporter.say("跳过")
    return receipt_in(await reporter.say("提交"))


async def test_a_reporter_files_a_complete_report_in_chinese(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    assert "举报对象是哪一类" in await alice.say("举报")
    assert "对方叫什么" in await alice.say("1")
    echo = await alice.say(
        "币安国际 https://www.binance-vip.cc/reg 客服微信：coinvip888 电话13912345678")
    assert "域名 binance-vip.cc" in echo and "微信号 coinvip888" in echo
    assert "电话 +8613912345678" in echo and "发生了什么" in echo
    assert "请发送证据" in await alice.say(
        "群里有人推荐USDT理财，说日收益3%，让我转账5000元到支付宝。")
    assert "第1件证据（图片）" in await alice.photo("media-1")
    assert "第2件证据（位置）" in await alice.send(
        MsgType="location", Location_X=39.9, Location_Y=116.4, Scale=15, Label="朝阳区")
    assert "第3件证据（语音）" in await alice.send(
        MsgType="voice", MediaId="voice-1", Format="amr", Recognition="他说保证收益")
    summary = await alice.say("完成")
    assert "交易所或交易网站" in summary and "证据：3件" in summary and "提交" in summary
    filed = await alice.say("提交")
    receipt = receipt_in(filed)
    assert "查询 " + receipt in filed
    assert reports(settings) == [(receipt.replace("-", ""), "exchange", "zh", "new")]
    kinds = rows(settings.db_path, "SELECT kind, value FROM report_identifiers ORDER BY kind")
    assert ("domain", "binance-vip.cc") in kinds and ("wechat_id", "coinvip888") in kinds
    assert ("phone", "+8613912345678") in kinds
    evidence = rows(settings.db_path, "SELECT kind, media_id, fetch_status, details FROM evidence "
                    "WHERE report_id IS NOT NULL ORDER BY id")
    assert [(k, m) for k, m, _, _ in evidence] == [
        ("image", "media-1"), ("location", None), ("voice", "voice-1")]
    assert evidence[0][2] == "not fetched: no API credentials"  # no WECHAT_APP_ID here
    assert "他说保证收益" in evidence[2][3]  # the voice's recognition text is kept
    assert rows(settings.db_path, "SELECT action FROM report_history") == [("filed",)]


async def test_a_reporter_who_starts_in_english_is_answered_in_english(
    weixin: WeChat, settings: Settings
) -> None:
    bob = Reporter(weixin, "o_bob")
    assert "What are you reporting" in await bob.say("report")
    assert "Who is it" in await bob.say("2")
    assert "Recognised" in await bob.say("CoinPro token sale at coinpro-ico.io")
    assert "What happened" not in await bob.say("They promised 10x returns on a new token.")
    assert "Please check" in await bob.say("skip")
    assert "Report filed" in await bob.say("SUBMIT")
    assert [(t, lang) for _, t, lang, _ in reports(settings)] == [("ico", "en")]


async def test_an_invalid_choice_and_an_unusable_answer_are_asked_again(weixin: WeChat) -> None:
    alice = Reporter(weixin)
    await alice.say("举报")
    again = await alice.say("7")
    assert "1 到 6" in again and "举报对象是哪一类" in again
    assert "对方叫什么" in await alice.say("１")  # a full-width digit is a digit
    again = await alice.say("我不知道")
    assert "没能识别" in again and "例如" in again
    assert "发生了什么" in await alice.say("火币")  # a bare name is enough
    assert "请用一两句话" in await alice.say("?")


async def test_back_skip_and_cancel_work_at_any_step(weixin: WeChat, settings: Settings) -> None:
    alice = Reporter(weixin)
    await alice.say("举报")
    await alice.say("3")
    assert "不能跳过" in await alice.say("跳过")  # "who" is required
    assert "举报对象是哪一类" in await alice.say("返回")
    await alice.say("3")
    await alice.say("公众号 币圈老王 gh_0123456789ab")
    await alice.say("他们推荐一个空气币。")
    await alice.photo("media-2")
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(1,)]
    assert "已取消" in await alice.say("取消")
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(0,)]
    assert "没有正在填写" in await alice.say("提交")
    assert reports(settings) == []


async def test_a_command_word_inside_a_sentence_is_an_answer(weixin: WeChat) -> None:
    alice = Reporter(weixin)
    await alice.say("report")
    await alice.say("1")
    await alice.say("huobi-vip.com")
    # "Back then…" describes what happened; it does not go back a step.
    assert "Send evidence" in await alice.say("Back then they promised 5% a day.")


async def test_a_submit_retried_three_times_files_one_report(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    for text in ("举报", "1", "币安国际 www.binance-vip.cc", "群里有人推荐USDT理财。", "跳过"):
        await alice.say(text)
    submit = weixin.text("提交", openid=alice.openid)
    replies = await asyncio.gather(*(weixin.send(submit) for _ in range(3)))
    replies.append(await weixin.send(submit))
    assert len(set(replies)) == 1 and receipt_in(replies[0])
    assert len(reports(settings)) == 1


async def test_a_draft_survives_a_restart_of_the_server(settings: Settings) -> None:
    async for weixin in make_wechat(settings)():
        alice = Reporter(weixin)
        await alice.say("举报")
        await alice.say("5")
    async for weixin in make_wechat(settings)():  # a new server on the same database
        alice = Reporter(weixin)
        assert "发生了什么" in await alice.say("一个叫 CoinPro 的 App")
        await alice.say("它让我充值USDT然后提不出来。")
        await alice.say("跳过")
        assert receipt_in(await alice.say("提交"))
    assert [t for _, t, _, _ in reports(settings)] == ["app"]


async def test_a_draft_saved_before_drafts_were_typed_continues(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    await alice.say("你好")  # her state row now exists (it counts her messages)
    [(pseudonym, saved)] = rows(settings.db_path, "SELECT reporter, state FROM conversations")
    now = int(time.time())
    # A draft as the untyped code stored it, two answers in (copied from its stored JSON).
    old = {"evidence": 0, "id": f"{pseudonym[:16]}-m1", "note_ids": [], "started_at": now,
           "step": "what", "target_type": "exchange", "updated_at": now,
           "who": "币安国际 www.binance-vip.cc 微信 coinvip888",
           "who_ids": [["url", "http://www.binance-vip.cc", "www.binance-vip.cc"],
                       ["domain", "binance-vip.cc", "www.binance-vip.cc"],
                       ["wechat_id", "coinvip888", "coinvip888"]]}
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE conversations SET state = ?",
                     (json.dumps({**json.loads(saved), "draft": old}),))
    assert "（4/5）请发送证据" in await alice.say("群里有人推荐USDT理财，让我转账。")
    summary = await alice.say("跳过")
    assert "交易所或交易网站" in summary and "域名 binance-vip.cc" in summary
    receipt_in(await alice.say("提交"))
    kinds = rows(settings.db_path, "SELECT kind, value FROM report_identifiers ORDER BY kind")
    assert kinds == [("domain", "binance-vip.cc"), ("url", "http://www.binance-vip.cc"),
                     ("wechat_id", "coinvip888")]


async def test_two_workers_share_a_reporters_draft(
    settings: Settings, server_process: Callable[..., ServerProcess]
) -> None:
    server = server_process(workers=2)
    async with aiohttp.ClientSession() as session:
        weixin = WeChat(session, server.url + "/wechat", settings)

        async def say(text: str) -> str:
            return (await post_fresh(weixin, weixin.text(text, openid="o_two")))[1]

        for text in ("举报", "4", "支付宝 13912345678", "代理让我扫码付款买币。", "跳过"):
            await say(text)
        assert receipt_in(await say("提交"))
    assert [t for _, t, _, _ in reports(settings)] == ["payment"]


async def test_hostile_text_is_echoed_without_breaking_the_reply(weixin: WeChat) -> None:
    alice = Reporter(weixin)
    await alice.say("举报")
    await alice.say("1")
    status, body = await weixin.post(weixin.sign(weixin.text(
        "]]></Content><MsgType>news</MsgType> evil-site.com", openid=alice.openid)))
    assert status == 200
    reply = wire.parse_xml(body)
    assert reply["MsgType"] == "text" and "evil-site.com" in reply["Content"]
    long_story = "他们骗我说这是稳赚不赔的项目。" * 300
    answer = await alice.say(long_story)
    assert "内容过长" in answer
    summary = await alice.say("跳过")
    assert len(summary.encode()) < 2048


async def test_quick_report_from_a_bare_url_asks_only_what_is_missing(weixin: WeChat) -> None:
    alice = Reporter(weixin)
    first = await alice.say("https://okx-pro.vip/register?ref=888")
    assert "域名 okx-pro.vip" in first and "举报对象是哪一类" in first
    assert "发生了什么" in await alice.say("1")  # "who" is already known


async def test_a_forwarded_article_starts_a_report_about_the_account(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    first = await alice.send(MsgType="link", Title="稳赚理财", Description="",
                             Url="https://mp.weixin.qq.com/s?__biz=MzA5NzQyMzQ1Ng==&mid=1")
    assert "公众号" in first and "发生了什么" in first  # type and who filled in
    await alice.say("这个公众号天天推荐虚拟币。")
    summary = await alice.say("完成")
    assert "证据：1件" in summary
    receipt_in(await alice.say("提交"))
    assert [t for _, t, _, _ in reports(settings)] == ["wechat_account"]


async def test_the_evidence_limit_is_announced(weixin: WeChat, settings: Settings) -> None:
    alice = Reporter(weixin)
    for text in ("举报", "1", "huobi-vip.com", "他们推荐的交易所提不了币。"):
        await alice.say(text)
    for n in range(20):
        await alice.photo(f"m{n}")
    assert "上限" in await alice.photo("one-too-many")
    assert rows(settings.db_path, "SELECT count(*) FROM evidence") == [(20,)]


async def test_a_flood_of_messages_is_answered_politely(weixin: WeChat) -> None:
    alice = Reporter(weixin)
    replies = [await alice.say("你好") for _ in range(31)]
    assert "太频繁" not in replies[29] and "太频繁" in replies[30]


async def test_status_shows_a_reporters_own_report_and_nobody_elses(weixin: WeChat) -> None:
    alice, mallory = Reporter(weixin), Reporter(weixin, "o_mallory")
    receipt = await file_a_report(alice)
    mine = await alice.say(f"查询 {receipt.lower().replace('-', '')}")
    assert receipt in mine and "已受理" in mine
    theirs = await mallory.say(f"查询 {receipt}")
    nothing = await mallory.say("查询 ABCDE-12345")
    assert theirs == nothing and receipt not in theirs
    assert receipt in await alice.say("查询")
    assert receipt in await alice.click("MY_REPORTS")
    assert "还没有提交过" in await mallory.click("MY_REPORTS")


async def test_the_welcome_says_what_to_report_and_warns_about_recovery_scams(
    weixin: WeChat,
) -> None:
    welcome = await weixin.send(weixin.event("subscribe"))
    assert "举报" in welcome and "保密" in welcome and "追回损失" in welcome


async def test_investigator_notes_are_never_shown_to_reporters(
    weixin: WeChat, settings: Settings
) -> None:
    import sqlite3

    alice = Reporter(weixin)
    receipt = await file_a_report(alice)
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("INSERT INTO report_history (report_id, at, actor, action, detail) "
                     "SELECT id, 1, 'investigator', 'note', 'suspect is Zhang San' FROM reports")
        conn.execute("UPDATE reports SET status = 'reviewing'")
    answer = await alice.say(f"查询 {receipt}")
    assert "核查中" in answer and "Zhang" not in answer


@pytest.mark.parametrize("word", ["帮助", "help"])
async def test_help_inside_a_draft_repeats_the_question(weixin: WeChat, word: str) -> None:
    alice = Reporter(weixin)
    await alice.say("举报")
    answer = await alice.say(word)
    assert ("举报对象是哪一类" in answer) or ("What are you reporting" in answer)


async def test_status_inside_a_draft_is_answered_not_taken_as_the_answer(
    weixin: WeChat,
) -> None:
    # The answer to the draft is a fallback: the status router, included after the report
    # router, still gets its word first.
    alice = Reporter(weixin)
    await alice.say("举报")
    assert "还没有提交过" in await alice.say("查询")
    assert "（1/5）举报对象是哪一类" in await alice.say("帮助")  # the draft is still there


async def test_a_step_added_to_steps_is_asked_numbered_and_walked_like_the_others(
    weixin: WeChat, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = Reporter(weixin, "o_bob")
    assert (await bob.say("report")).startswith("(1/5) What are you reporting")
    # Adding a step: one line in STEPS, and its question in the catalogs.
    links = report.Step("links", "ask_links", report.read_evidence, "ask_links",
                        optional=True, collects=True)
    monkeypatch.setattr(report, "STEPS", (*report.STEPS[:3], links, *report.STEPS[3:]))
    monkeypatch.setitem(texts.ZH, "ask_links", "还有相关链接吗？发完请回复「完成」。")
    alice = Reporter(weixin)
    assert (await alice.say("举报")).startswith("（1/6）举报对象是哪一类")
    assert (await alice.say("1")).startswith("（2/6）对方叫什么")
    assert "（3/6）发生了什么" in await alice.say("huobi-vip.com")
    assert (await alice.say("他们推荐的交易所提不了币。")).startswith("（4/6）还有相关链接吗")
    assert "第1件证据（链接）" in await alice.send(
        MsgType="link", Title="充值", Description="", Url="https://huobi-vip.com/pay")
    assert (await alice.say("完成")).startswith("（5/6）请发送证据")
    assert (await alice.say("返回")).startswith("（4/6）还有相关链接吗")
    assert (await alice.say("跳过")).startswith("（5/6）请发送证据")
    summary = await alice.say("跳过")
    assert summary.startswith("（6/6）请核对") and "证据：1件" in summary
    [(state,)] = rows(settings.db_path, "SELECT state FROM conversations WHERE state LIKE "
                      "'%links_done%'")
    assert json.loads(state)["draft"]["links_done"] is True  # kept like evidence_done
    assert (await alice.say("返回")).startswith("（5/6）请发送证据")
    assert (await alice.say("跳过")).startswith("（6/6）请核对")
    receipt_in(await alice.say("提交"))
    assert (await bob.say("2")).startswith("(2/6) Who is it")


async def test_a_voice_note_naming_a_wallet_files_it_with_the_report(
    weixin: WeChat, settings: Settings
) -> None:
    reporter = Reporter(weixin, "o_voice")
    for line in ("举报", "1", "火币 huobi-vip.com", "客服让我转USDT，然后就联系不上了"):
        await reporter.say(line)
    await reporter.send(MsgType="voice", MediaId="voice-1", Format="amr",
                        Recognition="地址是 TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf 对吧")
    await reporter.say("完成")
    receipt_in(await reporter.say("提交"))
    assert rows(settings.db_path, "SELECT kind, value FROM report_identifiers "
                                  "WHERE kind = 'tron'") == [
        ("tron", "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf")]


async def test_a_pasted_payment_link_starts_a_report_about_it(weixin: WeChat) -> None:
    reply = await Reporter(weixin, "o_paste").say("https://qr.alipay.com/fkx19226ehkhzjelqx9bm0e")
    assert "支付宝收款码 fkx19226ehkhzjelqx9bm0e" in reply


async def test_a_reporter_in_their_own_words_files_a_report_with_an_early_photo(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    assert "举报对象是哪一类" in await alice.say("我要舉報")
    await alice.say("1")
    await alice.say("huobi-vip.com")
    early = await alice.photo("early-1")  # sent while "what happened" is asked
    assert "完成" not in early and "发生了什么" in early
    assert "请发送证据" in await alice.say("群里有人推荐USDT理财，让我转账。")
    assert "证据：1件" in await alice.say("完成")
    receipt = receipt_in(await alice.say("好的"))
    assert receipt in await alice.say(f"查询：{receipt}")
    assert receipt in await alice.say("我的举报")
    assert "状态：已受理" in await alice.say(receipt)
    assert [(t, lang) for _, t, lang, _ in reports(settings)] == [("exchange", "zh")]
    assert "Send \"report\"" in await Reporter(weixin, "o_hello").say("hello")
