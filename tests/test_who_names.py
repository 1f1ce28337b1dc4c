"""What a "who" answer files and echoes: names beside links and IDs, never a platform's domain.

The chat over HTTP, the import through the CLI, triage read back as JSON: the same rule
(handlers.report.who_files) decides for both.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.config import Settings
from tests.conftest import WeChat, rows
from tests.filing import Reporter as DeskReporter
from tests.test_conversation import Reporter, receipt_in
from tests.test_export import invoke

HUOBI = "火币 官网 https://www.huobi-vip.com 客服微信 huobi_kefu88"
ARTICLE = "https://mp.weixin.qq.com/s?__biz=MzA5NzQyMzQ1Ng==&mid=1"


def named(settings: Settings, receipt: str) -> set[tuple[str, str]]:
    return set(rows(settings.db_path,
                    "SELECT kind, value FROM report_identifiers JOIN reports ON id = report_id "
                    "WHERE receipt = ?", (receipt.replace("-", ""),)))


def triage(settings: Settings) -> dict[str, dict[str, object]]:
    code, output = invoke(settings, "triage", "--format", "json")
    assert code == 0, output
    return {f"{e['kind']} {e['value']}": e for e in json.loads(output)["entities"]}


async def file_who(reporter: Reporter, who: str) -> tuple[str, str]:
    """File a report whose "who" answer is `who`; return the echo and the receipt."""
    await reporter.say("举报")
    await reporter.say("1")
    echo = await reporter.say(who)
    await reporter.say("说稳赚不赔，充值后提不了现。")
    await reporter.say("跳过")
    return echo, receipt_in(await reporter.say("提交"))


async def test_a_reporter_naming_huobi_beside_its_site_and_wechat_sees_the_name_and_it_is_filed(
    weixin: WeChat, settings: Settings
) -> None:
    echo, receipt = await file_who(Reporter(weixin), HUOBI)
    assert "名称 火币" in echo and "域名 huobi-vip.com" in echo
    assert "微信号 huobi_kefu88" in echo
    assert {("name", "火币"), ("domain", "huobi-vip.com"),
            ("wechat_id", "huobi_kefu88")} <= named(settings, receipt)
    assert not any(kind == "name" and value != "火币" for kind, value in named(settings, receipt))
    # So the watchlist's Huobi now meets huobi-vip.com's report, by the name.
    code, output = invoke(settings, "watchlist", "import", "-",
                          stdin="name,aliases,domains,addresses\nHuobi,火币,huobi.com,\n")
    assert code == 0, output
    assert triage(settings)["name 火币"]["watchlist"] == "Huobi"


async def test_the_bots_own_example_answer_keeps_its_name(weixin: WeChat, settings: Settings
                                                         ) -> None:
    echo, receipt = await file_who(Reporter(weixin), "币安国际 www.example.com 微信 abc123")
    assert "名称 币安国际" in echo and "微信号 abc123" in echo
    assert ("name", "币安") in named(settings, receipt)  # its match key: 国际 says nothing


async def test_the_english_example_answer_keeps_its_name(weixin: WeChat) -> None:
    bob = Reporter(weixin, "o_bob")
    await bob.say("report")
    await bob.say("1")
    echo = await bob.say("CoinPro www.example.com WeChat abc123")
    assert "name coinpro" in echo and "WeChat ID abc123" in echo


async def test_words_around_a_link_that_are_no_name_file_no_name(
    weixin: WeChat, settings: Settings
) -> None:
    for n, who in enumerate(("没有名字 service@okx-cn.top",
                             "他们的网站是 www.okx-cn.top",
                             "网址：https://okx-cn.top/reg 客服电话 13912345678",
                             "带单老师 微信 li_teacher88", "收款用支付宝 13912345678",
                             "the scam site www.okx-cn.top")):
        echo, receipt = await file_who(Reporter(weixin, f"o_r{n}"), who)
        assert "名称" not in echo, who
        assert not any(kind == "name" for kind, _ in named(settings, receipt)), who


async def test_a_forwarded_article_is_echoed_as_its_official_account_never_as_qq_com(
    weixin: WeChat, settings: Settings
) -> None:
    alice = Reporter(weixin)
    first = await alice.send(MsgType="link", Title="稳赚理财", Description="", Url=ARTICLE)
    assert "公众号 MzA5NzQyMzQ1Ng==" in first
    assert "qq.com" not in first.replace("mp.weixin.qq.com", "")
    assert "名称" not in first  # the article's title is not the account's name
    await alice.say("这个公众号天天推荐虚拟币。")
    summary = await alice.say("完成")
    assert "域名" not in summary
    receipt = receipt_in(await alice.say("提交"))
    assert ("official_account", "MzA5NzQyMzQ1Ng==") in named(settings, receipt)
    entities = triage(settings)
    assert "official_account MzA5NzQyMzQ1Ng==" in entities
    assert not any(key.startswith("domain ") for key in entities)


async def test_a_platform_mailbox_is_echoed_as_the_address_not_the_mail_service(
    weixin: WeChat
) -> None:
    await (alice := Reporter(weixin)).say("举报")
    await alice.say("1")
    echo = await alice.say("客服邮箱 kefu_huobi@qq.com")
    assert "邮箱 kefu_huobi@qq.com" in echo and "域名" not in echo


async def test_a_who_answer_that_is_only_a_platform_is_asked_again(weixin: WeChat) -> None:
    await (alice := Reporter(weixin)).say("举报")
    await alice.say("1")
    again = await alice.say("weixin.qq.com")
    assert "已识别" not in again and "对方叫什么" in again


async def test_a_phone_written_with_0086_is_echoed_and_filed_in_e164(
    weixin: WeChat, settings: Settings
) -> None:
    echo, receipt = await file_who(Reporter(weixin), "火币客服 0086 138 1234 5678")
    assert "电话 +8613812345678" in echo and "名称 火币" in echo
    assert ("phone", "+8613812345678") in named(settings, receipt)


def test_an_imported_tip_files_huobi_by_name_as_the_chat_does(
    settings: Settings, tmp_path: Path
) -> None:
    chat = DeskReporter(settings.db_path, "o_chat").file(HUOBI, "说稳赚不赔，充值后提不了现。")
    tips = tmp_path / "hotline.jsonl"
    tips.write_text(json.dumps({"who": HUOBI, "description": "说稳赚不赔，充值后提不了现。",
                                "channel": "hotline"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    code, output = invoke(settings, "import", str(tips))
    assert code == 0, output
    (imported,) = rows(settings.db_path, "SELECT receipt FROM reports WHERE channel = 'hotline'")
    assert ("name", "火币") in named(settings, imported[0])
    assert named(settings, imported[0]) == named(settings, chat)


async def test_a_channel_beside_an_id_is_no_name_and_never_tops_triage(
    weixin: WeChat, settings: Settings
) -> None:
    """Regression: at a million tips 电报 (75,171 reports) and 加v (74,726) were triage's
    biggest "names": the channel words beside an ID were filed as the platform's name."""
    for n, who in enumerate(("https://chain-lifu.cc/h5/#/login 电报 @chainlifu_support",
                             "www.mgar.top 加V：vipmgar0", "Telegram @coinx_support",
                             "纸飞机 @okx_cn_kefu")):
        echo, receipt = await file_who(Reporter(weixin, f"o_c{n}"), who)
        assert "名称" not in echo, who
        assert not any(kind == "name" for kind, _ in named(settings, receipt)), who
    echo, receipt = await file_who(Reporter(weixin, "o_qq"), "QQ群 2798847740，火富天交易所")
    assert ("name", "火富天") in named(settings, receipt)
    assert not any(key.startswith("name ") and ("电报" in key or "加v" in key)
                   for key in triage(settings))
