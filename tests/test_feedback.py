"""Every report gets an answer: status pushes and questions, delivered inside WeChat's rules.

A real webhook (signed XML over HTTP) seals each reporter's OpenID; investigators change
statuses and ask questions with `tipline case`; a real sender pushes through the fake
WeChat API over real HTTP, which accepts, refuses (45015, 43101), fails (5xx) or hangs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.wechat.api import Retry, open_api
from bot.wechat.notifier import UNCONFIRMED, Notifier, Schedule
from db.connection import connect
from db.migrations import migrate
from tests.conftest import WeChat, make_wechat, rows
from tests.desk import tipline
from tests.fake_wechat_api import APP_ID, APP_SECRET, FakeWeChatAPI, running_fake
from tests.test_conversation import Reporter, receipt_in

OPENID = "o_feedback_reporter_6f1c9"
CONTACT_KEY = "contact-key-for-the-tests-0123456789"
NOW_AT_ONCE = Schedule(poll=0.05, retry_base=0, lease=30)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeChatAPI]:
    async with running_fake() as server:
        server.hang_seconds = 2.0
        yield server


@pytest.fixture
def feedback_settings(settings: Settings, fake: FakeWeChatAPI) -> Settings:
    """The webhook seals OpenIDs; the API (for the sender the tests run) is the fake."""
    migrate(connect(settings.db_path))
    return dataclasses.replace(settings, contact_key=CONTACT_KEY)


def api_side(settings: Settings, fake: FakeWeChatAPI, template: str = "") -> Settings:
    return dataclasses.replace(settings, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET,
                               wechat_api_base_url=fake.base, notify_template_id=template)


@pytest.fixture
async def weixin(feedback_settings: Settings) -> AsyncIterator[WeChat]:
    async for client in make_wechat(feedback_settings)():
        yield client


async def file_report(weixin: WeChat, openid: str = OPENID) -> tuple[Reporter, str]:
    reporter = Reporter(weixin, openid)
    for line in ("举报", "4", "币安国际 www.example-ex.com", "客服让我转USDT到支付宝"):
        await reporter.say(line)
    await reporter.say("跳过")
    return reporter, receipt_in(await reporter.say("提交"))


async def send_due(settings: Settings, fake: FakeWeChatAPI, template: str = "") -> int:
    """Run one sender until nothing more is due; how many notices it handled."""
    handled = 0
    async with open_api(api_side(settings, fake, template), retry=Retry(1, 0.0),
                        timeout=0.5) as api:
        notifier = Notifier(api, api_side(settings, fake, template), NOW_AT_ONCE)
        try:
            while (done := await notifier.run_once()):
                handled += done
        finally:
            notifier.close()
    return handled


def case(settings: Settings, receipt: str, *args: str) -> None:
    result = tipline(settings.db_path, "case", receipt, *args, "--by", "alice")
    assert result.exit_code == 0, result.output


def shown(settings: Settings, receipt: str) -> dict[str, Any]:
    return json.loads(tipline(settings.db_path, "show", receipt, "--json").output)  # type: ignore[no-any-return]


def texts(fake: FakeWeChatAPI) -> list[str]:
    return [body["text"]["content"] if "text" in body else body["data"]["first"]["value"]
            for _, body in fake.pushed]


# --- status changes -------------------------------------------------------------------------


async def test_a_status_change_reaches_the_reporter_inside_the_window(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    _, receipt = await file_report(weixin)
    case(feedback_settings, receipt, "--status", "reviewing", "--note", "checking the QR")

    assert await send_due(feedback_settings, fake) == 1
    [(path, body)] = fake.pushed
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    assert path == "/cgi-bin/message/custom/send" and body["touser"] == OPENID
    assert body["text"]["content"] == f"您的举报 {receipt} 核查中（{today}）。"
    assert "checking" not in json.dumps(body) and "alice" not in json.dumps(body)
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert (told["body"], told["state"], told["via"]) == ("reviewing", "sent", "custom")


async def test_outside_the_window_a_status_rides_on_the_next_reply(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    connect(feedback_settings.db_path).execute(
        "UPDATE contacts SET last_message_at = last_message_at - 49 * 3600")
    case(feedback_settings, receipt, "--status", "escalated")
    assert await send_due(feedback_settings, fake) == 1
    assert fake.pushed == []

    reply = await reporter.say("帮助")
    assert reply.startswith(f"您的举报 {receipt} 已移交处理")
    assert "使用说明" in reply
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert (told["state"], told["via"]) == ("delivered in reply", "reply")
    assert (await reporter.say("帮助")).startswith("使用说明")  # told once


async def test_news_too_long_for_one_reply_waits_for_the_next_and_none_is_lost(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    from bot.wechat.wire import MAX_REPLY_BYTES

    reporter, receipt = await file_report(weixin)
    connect(feedback_settings.db_path).execute(
        "UPDATE contacts SET last_message_at = last_message_at - 49 * 3600")
    questions = [f"问题{n}：" + "对方是否发给你收款码或者群二维码？" * 10 for n in range(1, 7)]
    for question in questions:
        case(feedback_settings, receipt, "--ask", question)
    await send_due(feedback_settings, fake)

    seen = []
    for _ in range(4):
        reply = await reporter.say("帮助")
        assert len(reply.encode()) <= MAX_REPLY_BYTES and "使用说明" in reply
        seen += [q for q in questions if q in reply]
    assert seen == questions  # each once, in the order asked, none cut
    told = shown(feedback_settings, receipt)["notifications"]
    assert {t["state"] for t in told} == {"delivered in reply"}


async def test_an_unsubscribe_or_a_menu_link_carries_no_news_and_opens_no_window(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    old = int(time.time()) - 49 * 3600
    connect(feedback_settings.db_path).execute("UPDATE contacts SET last_message_at = ?", (old,))
    case(feedback_settings, receipt, "--status", "escalated")
    await send_due(feedback_settings, fake)

    await reporter.send(MsgType="event", Event="VIEW", EventKey="https://example.org/menu")
    await reporter.send(MsgType="event", Event="unsubscribe")
    assert rows(feedback_settings.db_path, "SELECT last_message_at FROM contacts") == [(old,)]
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert told["state"] == "pending"
    assert (await reporter.send(MsgType="event", Event="subscribe")).startswith(
        f"您的举报 {receipt} 已移交处理")


async def test_outside_the_window_a_template_message_is_used_when_configured(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    _, receipt = await file_report(weixin)
    fake.script_push(OPENID, "45015")  # the window closed earlier than we knew
    case(feedback_settings, receipt, "--status", "closed")

    await send_due(feedback_settings, fake, template="TEMPLATE_ID_1")
    [(path, body)] = fake.pushed
    assert path == "/cgi-bin/message/template/send" and body["template_id"] == "TEMPLATE_ID_1"
    assert body["data"]["keyword1"]["value"] == receipt
    assert body["data"]["keyword2"]["value"] == "已办结"


async def test_a_reporter_who_refuses_is_not_pushed_again(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    fake.script_push(OPENID, "43101")
    case(feedback_settings, receipt, "--status", "reviewing")
    await send_due(feedback_settings, fake)
    case(feedback_settings, receipt, "--status", "escalated")
    await send_due(feedback_settings, fake)

    assert fake.pushed == []
    assert rows(feedback_settings.db_path, "SELECT sealed_openid IS NULL, refused_at IS NOT NULL "
                                           "FROM contacts") == [(1, 1)]
    assert (await reporter.say("帮助")).startswith(f"您的举报 {receipt} 已移交处理")


async def test_a_5xx_is_retried_and_the_push_is_sent_once(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    _, receipt = await file_report(weixin)
    fake.script_push(OPENID, "500", "500", "ok")
    case(feedback_settings, receipt, "--status", "reviewing")
    await send_due(feedback_settings, fake)

    assert texts(fake) == [texts(fake)[0]] and receipt in texts(fake)[0]
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert (told["state"], told["attempts"]) == ("sent", 3)


async def test_a_push_whose_answer_times_out_is_not_sent_again(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    fake.script_push(OPENID, "hang")
    case(feedback_settings, receipt, "--status", "reviewing")
    await send_due(feedback_settings, fake)

    assert len(fake.pushed) == 1  # it arrived, though the answer never came
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert told["state"] == UNCONFIRMED
    assert (await reporter.say("帮助")).startswith("使用说明")  # not repeated in the reply
    assert "核查中" in await reporter.say(f"查询 {receipt}")  # 查询 still says it


async def test_a_sender_shut_down_mid_send_does_not_let_the_push_go_twice(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    _, receipt = await file_report(weixin)
    fake.script_push(OPENID, "hang")
    case(feedback_settings, receipt, "--status", "reviewing")
    async with open_api(api_side(feedback_settings, fake), retry=Retry(1, 0.0),
                        timeout=5.0) as api:
        notifier = Notifier(api, api_side(feedback_settings, fake), NOW_AT_ONCE)
        running = asyncio.create_task(notifier.run())
        while not fake.pushed:
            await asyncio.sleep(0.02)
        running.cancel()  # `tipline serve` stopping while WeChat has not answered
        with pytest.raises(asyncio.CancelledError):
            await running
        notifier.close()
    await send_due(feedback_settings, fake)

    assert len(fake.pushed) == 1
    [told] = shown(feedback_settings, receipt)["notifications"]
    assert told["state"] == UNCONFIRMED


async def test_only_the_latest_of_several_quick_changes_is_pushed(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    _, receipt = await file_report(weixin)
    for status in ("reviewing", "escalated", "dismissed"):
        case(feedback_settings, receipt, "--status", status)
    await send_due(feedback_settings, fake)

    assert len(fake.pushed) == 1 and "已结案" in texts(fake)[0]
    states = [n["state"] for n in shown(feedback_settings, receipt)["notifications"]]
    assert states == ["superseded", "superseded", "sent"]


# --- questions and answers ------------------------------------------------------------------


async def test_a_question_is_pushed_and_the_answer_with_a_photo_joins_the_report(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    case(feedback_settings, receipt, "--ask", "对方有没有发收款码？")
    await send_due(feedback_settings, fake)
    assert "对方有没有发收款码？" in texts(fake)[0] and receipt in texts(fake)[0]

    assert receipt in await reporter.say("有的，截图如下")
    assert receipt in await reporter.photo("media-answer-1")
    assert receipt in await reporter.say("完成")
    assert "举报对象是哪一类" in await reporter.photo("media-new")  # later: a new tip

    case_ = shown(feedback_settings, receipt)
    replies = [h["detail"] for h in case_["history"] if h["action"] == "reporter_reply"]
    assert replies == ["有的，截图如下", "image"]
    assert [e["kind"] for e in case_["evidence"]] == ["text", "image"]
    assert rows(feedback_settings.db_path,
                "SELECT answered_at IS NOT NULL FROM questions") == [(1,)]


async def test_a_reporter_adds_to_their_own_report_with_its_receipt_only(
    weixin: WeChat, feedback_settings: Settings
) -> None:
    alice, receipt = await file_report(weixin)
    mallory = Reporter(weixin, "o_mallory")
    assert "回执号" in await mallory.say(f"补充 {receipt}") and receipt not in \
        await mallory.say("随便写点")
    assert receipt in await alice.say(f"补充 {receipt.lower()}")
    assert receipt in await alice.say("还有一个网址 https://pay-ex.com/u/88")
    assert "谢谢" in await alice.say("完成")
    case_ = shown(feedback_settings, receipt)
    assert [h["actor"][:9] for h in case_["history"] if h["action"] == "reporter_reply"] == [
        "reporter:"]


async def test_a_reporter_who_unsubscribes_is_not_pushed_and_can_still_query(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    reporter, receipt = await file_report(weixin)
    assert "退订" in await reporter.say("退订")
    case(feedback_settings, receipt, "--status", "reviewing")
    await send_due(feedback_settings, fake)
    assert fake.pushed == []
    assert rows(feedback_settings.db_path, "SELECT sealed_openid FROM contacts") == [(None,)]
    assert "核查中" in await reporter.say(f"查询 {receipt}")


# --- protecting the reporter ----------------------------------------------------------------


async def test_the_openid_is_never_in_the_database_exports_bundles_or_logs(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI, tmp_path: Path,
    caplog: pytest.LogCaptureFixture
) -> None:
    _, receipt = await file_report(weixin)
    case(feedback_settings, receipt, "--status", "reviewing")
    await send_due(feedback_settings, fake)
    assert len(fake.pushed) == 1  # the sender could open it

    db_bytes = b"".join(p.read_bytes() for p in tmp_path.rglob("*.db*") if p.is_file())
    assert OPENID.encode() not in db_bytes
    for fmt in ("csv", "jsonl"):
        assert OPENID not in tipline(feedback_settings.db_path, "export", "--format", fmt).output
    bag = tmp_path / "bag"
    tipline(feedback_settings.db_path, "export", "--evidence-bundle", str(bag))
    assert not any(OPENID.encode() in p.read_bytes() for p in bag.rglob("*") if p.is_file())
    assert OPENID not in caplog.text


async def test_the_contact_goes_30_days_after_the_last_open_report_closes(
    weixin: WeChat, feedback_settings: Settings
) -> None:
    from db import feedback

    _, receipt = await file_report(weixin)
    assert rows(feedback_settings.db_path, "SELECT sealed_openid IS NOT NULL FROM contacts"
                ) == [(1,)]
    case(feedback_settings, receipt, "--status", "closed")
    db = connect(feedback_settings.db_path)
    assert feedback.forget_expired(db, int(time.time()) + 29 * 86400) == 0
    assert feedback.forget_expired(db, int(time.time()) + 31 * 86400) == 1
    assert rows(feedback_settings.db_path, "SELECT sealed_openid FROM contacts") == [(None,)]


async def test_the_contact_goes_when_a_purge_takes_the_open_report_and_older_ones_stay(
    weixin: WeChat, feedback_settings: Settings
) -> None:
    from db import feedback

    _, first = await file_report(weixin)
    case(feedback_settings, first, "--status", "closed")
    _, second = await file_report(weixin)
    db = connect(feedback_settings.db_path)
    db.execute("UPDATE reports SET received_at = received_at - 400 * 86400 WHERE receipt = ?",
               (second.replace("-", ""),))
    assert feedback.forget_expired(db, int(time.time())) == 0  # the open report needs it
    result = tipline(feedback_settings.db_path, "purge", "--older-than", "365",
                     "--status", "new", "--yes")
    assert result.exit_code == 0, result.output

    assert feedback.forget_expired(db, int(time.time())) == 1
    assert rows(feedback_settings.db_path, "SELECT sealed_openid FROM contacts") == [(None,)]


async def test_without_a_contact_key_nothing_is_kept_and_replies_carry_the_news(
    settings: Settings, fake: FakeWeChatAPI
) -> None:
    async for weixin in make_wechat(settings)():
        reporter, receipt = await file_report(weixin)
        case(settings, receipt, "--status", "reviewing")
        assert rows(settings.db_path, "SELECT count(*) FROM contacts") == [(0,)]
        assert (await reporter.say("帮助")).startswith(f"您的举报 {receipt} 核查中")


async def test_the_running_server_pushes_a_status_within_seconds(
    feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    settings = api_side(feedback_settings, fake)
    async for weixin in make_wechat(settings)():
        _, receipt = await file_report(weixin)
        case(settings, receipt, "--status", "reviewing")
        deadline = time.monotonic() + 15
        while not fake.pushed:
            assert time.monotonic() < deadline, "no push"
            await asyncio.sleep(0.1)
    assert receipt in texts(fake)[0] and "核查中" in texts(fake)[0]


# --- WeChat's repeated elements ---------------------------------------------------------------

POPUP = ("<xml><ToUserName>gh_tipline</ToUserName><FromUserName>{openid}</FromUserName>"
         "<CreateTime>{at}</CreateTime><MsgType>event</MsgType>"
         "<Event>subscribe_msg_popup_event</Event><SubscribeMsgPopupEvent>{items}"
         "</SubscribeMsgPopupEvent></xml>")
ITEM = ("<List><TemplateId>{template}</TemplateId><SubscribeStatusString>{answer}"
        "</SubscribeStatusString><PopupScene>0</PopupScene></List>")


@pytest.mark.parametrize(("answers", "refused"), [
    (("accept",), 0), (("accept", "reject"), 1), (("reject", "accept"), 1)])
async def test_a_subscribe_popup_with_one_or_two_templates_is_recorded(
    weixin: WeChat, feedback_settings: Settings, answers: tuple[str, ...], refused: int
) -> None:
    """Regression: two <List> items were refused with 400 ("field TemplateId appears
    twice"), and the one-item form was dropped."""
    from bot.wechat import wire

    items = "".join(ITEM.format(template=f"T{n}", answer=a) for n, a in enumerate(answers))
    xml = POPUP.format(openid=OPENID, at=int(time.time()), items=items)
    request = wire.sign_request(feedback_settings.wechat_token, xml, openid=OPENID,
                                nonce=f"popup-{len(answers)}-{answers[0]}")
    status, body = await weixin.post(request)
    assert (status, body) == (200, b"success")
    assert rows(feedback_settings.db_path,
                "SELECT refused_at IS NOT NULL FROM contacts") == [(refused,)]


@pytest.mark.parametrize("xml", [
    "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>{at}"
    "</CreateTime><MsgType>event</MsgType><Event>pic_sysphoto</Event><EventKey>6</EventKey>"
    "<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>aa</PicMd5Sum></item><item>"
    "<PicMd5Sum>bb</PicMd5Sum></item></PicList></SendPicsInfo></xml>",
    "<xml><ToUserName>gh</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>{at}"
    "</CreateTime><MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1</MsgID>"
    "<Status>send success</Status><TotalCount>2</TotalCount><CopyrightCheckResult><Count>2"
    "</Count><ResultList><item><ArticleIdx>1</ArticleIdx></item><item><ArticleIdx>2"
    "</ArticleIdx></item></ResultList></CopyrightCheckResult></xml>",
])
async def test_events_with_repeated_elements_are_answered_success(
    weixin: WeChat, feedback_settings: Settings, xml: str
) -> None:
    """Regression: any repeated element was a 400, and WeChat kept retrying."""
    from bot.wechat import wire

    body = xml.format(openid=OPENID, at=int(time.time()))
    request = wire.sign_request(feedback_settings.wechat_token, body, openid=OPENID,
                                nonce=f"n-{hash(xml) % 10**8}")
    assert await weixin.post(request) == (200, b"success")


async def test_a_push_claimed_by_a_sender_killed_mid_send_is_sent_once_after_its_lease(
    weixin: WeChat, feedback_settings: Settings, fake: FakeWeChatAPI
) -> None:
    from db import feedback

    _, receipt = await file_report(weixin)
    case(feedback_settings, receipt, "--status", "reviewing")
    db = connect(feedback_settings.db_path)
    [(held, _)] = feedback.claim(db, "sender-that-died", int(time.time()), lease=60, limit=8)
    assert await send_due(feedback_settings, fake) == 0  # still leased: not sent twice

    later = time.time() + 61
    settings = api_side(feedback_settings, fake)
    async with open_api(settings, retry=Retry(1, 0.0), timeout=0.5) as api:
        notifier = Notifier(api, settings, NOW_AT_ONCE, clock=lambda: later)
        try:
            assert await notifier.run_once() == 1
        finally:
            notifier.close()
    assert len(fake.pushed) == 1
    assert not feedback.settle(db, held, "sender-that-died", "sent", "custom", int(later))
