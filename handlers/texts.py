"""Everything the bot says, one catalog per language."""

from __future__ import annotations

from typing import Any, Final

ZH: Final[dict[str, str]] = {
    "welcome": (
        "欢迎关注举报平台。\n"
        "如果您看到有平台、群组、公众号、App 或收款账户向境内居民提供ICO、代币发行或虚拟货币交易，"
        "请发送「举报」告诉我们。\n"
        "举报内容严格保密。本平台不会向您收取任何费用，也不会承诺帮您追回损失——"
        "自称能“追回损失”的都是骗局。\n"
        "发送「帮助」查看使用说明。"
    ),
    "help": (
        "使用说明：\n"
        "举报 —— 开始一次举报（约1分钟）\n"
        "查询 —— 查看您的举报；查询 回执号 —— 查看某一条\n"
        "取消 —— 放弃正在填写的举报\n"
        "举报过程中：返回 上一步，跳过 可选步骤。\n"
        "举报内容严格保密；本平台从不收费，也不承诺追回损失。"
    ),
    "fallback": "收到。发送「举报」开始举报，发送「帮助」查看说明。",
    "error": "抱歉，系统繁忙，请稍后再试。",
    "continue_draft": "您有一份未完成的举报，继续填写（发送「取消」可重新开始）。",
    "draft_expired": "您上次未完成的举报超过{duration}未继续，已作废。",
    # Each question and the summary, numbered from handlers.report.STEPS.
    "step": "（{n}/{total}）{question}",
    "ask_target_type": (
        "举报对象是哪一类？请回复数字：\n"
        "1 交易所或交易网站\n2 ICO/代币发行\n3 公众号、微信群或个人微信\n"
        "4 收款渠道（微信支付、支付宝、银行卡、代理）\n5 App 或小程序\n6 其他"
    ),
    "bad_target_type": "请回复 1 到 6 之间的一个数字。",
    "ask_who": (
        "对方叫什么？请发送名称、网址、账号、钱包地址或电话，可以一次发多个。\n"
        "例如：币安国际 www.example.com 微信 abc123"
    ),
    "bad_who": "没能识别出名称或账号。请再发一次，例如：火币 huobi-vip.com 或 微信号 coinvip888",
    "who_recognised": "已识别：{items}",
    "who_name": "已记录名称：{name}",
    "ask_what": "发生了什么？请简单描述：在哪里看到、对方怎么宣传、是否要求转账。",
    "bad_what": "请用一两句话描述发生了什么，例如：群里有人推荐USDT理财，让我转账到支付宝。",
    "ask_evidence": (
        "请发送证据：截图、聊天记录、链接、语音、位置或文件，可以发多条。"
        "发完请回复「完成」，没有证据请回复「跳过」。"
    ),
    "evidence_received": "已收到第{count}件证据（{kind}）。继续发送，或回复「完成」。",
    "evidence_full": "每份举报最多{limit}件证据，已达上限。请回复「完成」。",
    # Before the evidence step and at the summary: 完成 is not an answer there.
    "evidence_kept": "已收到{kind}，作为第{count}件证据保存。",
    "evidence_full_kept": "每份举报最多{limit}件证据，已达上限，这件没有保存。",
    "confirm": (
        "请核对：\n类型：{target}\n对象：{who}\n识别：{ids}\n经过：{what}\n"
        "证据：{evidence}件\n回复「提交」确认，「返回」修改，「取消」放弃。"
    ),
    "nothing_recognised": "无",
    "filed": (
        "举报已提交，谢谢！\n回执号：{receipt}\n"
        "请保存回执号，发送「查询 {receipt}」可查看进度。"
    ),
    "cancelled": "已取消本次举报，填写的内容已删除。",
    "nothing_to_cancel": "当前没有正在填写的举报。",
    "cannot_skip": "这一步不能跳过。",
    # Said to 跳过 at a required step: what to send instead.
    "cannot_skip_target_type": "这一步不能跳过。不确定的话，回复 6（其他）。",
    "cannot_skip_who": "这一步不能跳过。不知道名称或账号的话，发一张截图也可以。",
    "cannot_skip_what": "这一步不能跳过。一两句话就够，例如：群里有人推荐USDT理财。",
    "who_pictured": "已收到截图，对方的名称和账号会从图中识别。",
    "who_pictured_summary": "见截图",
    "answer_first": "请先回答这个问题：",
    "no_draft": "当前没有正在填写的举报。发送「举报」开始。",
    "trimmed": "（内容过长，已保留前{limit}字。）",
    "status_one": "回执号 {receipt}\n状态：{status}\n最近更新：{date}",
    "push_status": "您的举报 {receipt} {status}（{date}）。",
    "push_question": (
        "关于您的举报 {receipt}，调查人员想了解：{question}\n"
        "请直接回复（可发截图），发完回复「完成」。"
    ),
    "reply_started": "请发送要补充到举报 {receipt} 的内容（文字、截图、链接），发完回复「完成」。",
    "reply_added": "已补充到举报 {receipt}。继续发送，或回复「完成」。",
    "reply_done": "谢谢，补充内容已收到（举报 {receipt}）。",
    "stopped": "已退订：我们不再主动推送进度。您仍可随时发送「查询」查看。",
    "status_unknown": "未找到该回执号。请检查后重试（只能查询您本人提交的举报）。",
    "status_list": "您最近的举报：\n{lines}\n发送「查询 回执号」查看某一条。",
    "status_empty": "您还没有提交过举报。发送「举报」开始。",
    "status_bad_receipt": "回执号应为10位字母或数字，例如 ABCDE-12345。",
    "daily_limit": "您今天已提交{limit}份举报，请明天再试。感谢您的支持。",
    "flood": "消息太频繁了，请稍等一分钟再发。",
    "separator": "；",
}

EN: Final[dict[str, str]] = {
    "welcome": (
        "Welcome to the tip line.\n"
        "If you have seen a platform, group, official account, app or payment account offering "
        "ICOs, token sales or crypto trading to people in mainland China, send \"report\".\n"
        "Reports are confidential. We never ask for money and never offer to recover losses — "
        "anyone who does is running a scam.\n"
        "Send \"help\" for instructions."
    ),
    "help": (
        "How to use:\n"
        "report — start a report (about a minute)\n"
        "status — your reports; status RECEIPT — one report\n"
        "cancel — drop the report you are writing\n"
        "While reporting: back for the previous step, skip for optional steps.\n"
        "Reports are confidential; we never charge and never promise to recover losses."
    ),
    "fallback": "Received. Send \"report\" to make a report, or \"help\" for instructions.",
    "error": "Sorry, something went wrong. Please try again in a moment.",
    "continue_draft": (
        "You have an unfinished report; let's continue (send \"cancel\" to start over)."
    ),
    "draft_expired": "Your unfinished report was left for over {duration} and has been dropped.",
    "step": "({n}/{total}) {question}",
    "ask_target_type": (
        "What are you reporting? Reply with a number:\n"
        "1 Exchange or trading website\n2 ICO / token offering\n"
        "3 WeChat official account, group or personal account\n"
        "4 Payment channel (WeChat Pay, Alipay, bank card, agent)\n5 App or mini program\n"
        "6 Other"
    ),
    "bad_target_type": "Please reply with a number from 1 to 6.",
    "ask_who": (
        "Who is it? Send names, websites, account IDs, wallet addresses or phone "
        "numbers — several at once is fine.\nFor example: CoinPro www.example.com WeChat abc123"
    ),
    "bad_who": (
        "I could not find a name or an account in that. Please try again, for example: "
        "Huobi huobi-vip.com or WeChat ID coinvip888"
    ),
    "who_recognised": "Recognised: {items}",
    "who_name": "Name noted: {name}",
    "ask_what": (
        "What happened? Briefly: where you saw it, what they promised, whether they "
        "asked for money."
    ),
    "bad_what": (
        "Please describe what happened in a sentence or two, for example: someone in a group "
        "promoted a USDT scheme and asked me to pay by Alipay."
    ),
    "ask_evidence": (
        "Send evidence: screenshots, chat records, links, voice, location or files — as "
        "many as you like. Reply \"done\" when finished, or \"skip\" if you have none."
    ),
    "evidence_received": "Evidence #{count} received ({kind}). Send more, or reply \"done\".",
    "evidence_full": "A report takes at most {limit} pieces of evidence. Please reply \"done\".",
    "evidence_kept": "Got it: {kind} kept as evidence #{count}.",
    "evidence_full_kept": (
        "A report takes at most {limit} pieces of evidence; this one was not kept."
    ),
    "confirm": (
        "Please check:\nType: {target}\nWho: {who}\nRecognised: {ids}\nWhat: {what}\n"
        "Evidence: {evidence}\nReply \"submit\" to file it, \"back\" to change, "
        "\"cancel\" to drop it."
    ),
    "nothing_recognised": "none",
    "filed": (
        "Report filed, thank you!\nReceipt: {receipt}\n"
        "Keep it: send \"status {receipt}\" to check progress."
    ),
    "cancelled": "Report cancelled; what you entered has been deleted.",
    "nothing_to_cancel": "You are not writing a report right now.",
    "cannot_skip": "This step cannot be skipped.",
    "cannot_skip_target_type": "This step cannot be skipped. Not sure? Reply 6 (other).",
    "cannot_skip_who": (
        "This step cannot be skipped. If you do not know the name or the account, "
        "a screenshot is fine."
    ),
    "cannot_skip_what": (
        "This step cannot be skipped. A sentence or two is enough, for example: "
        "someone in a group promoted a USDT scheme."
    ),
    "who_pictured": "Screenshot received: we will read the names and accounts in it.",
    "who_pictured_summary": "see the screenshot",
    "answer_first": "Please answer this first:",
    "no_draft": "You are not writing a report right now. Send \"report\" to start.",
    "trimmed": "(That was long; the first {limit} characters were kept.)",
    "status_one": "Receipt {receipt}\nStatus: {status}\nLast update: {date}",
    "push_status": "Your report {receipt}: {status} ({date}).",
    "push_question": (
        "About your report {receipt}, the investigators ask: {question}\n"
        "Just reply (screenshots are fine), then send \"done\"."
    ),
    "reply_started": "Send what to add to report {receipt} (text, screenshots, links), "
                     "then \"done\".",
    "reply_added": "Added to report {receipt}. Send more, or \"done\".",
    "reply_done": "Thank you: your additions to report {receipt} are in.",
    "stopped": "Unsubscribed: we will not send you updates. Send \"status\" any time.",
    "status_unknown": (
        "No report with that receipt. Please check it (you can only look up reports you filed)."
    ),
    "status_list": "Your recent reports:\n{lines}\nSend \"status RECEIPT\" for one of them.",
    "status_empty": "You have not filed a report yet. Send \"report\" to start.",
    "status_bad_receipt": "A receipt is 10 letters or digits, for example ABCDE-12345.",
    "daily_limit": "You have filed {limit} reports today; please try again tomorrow. Thank you.",
    "flood": "That is a lot of messages at once; please wait a minute.",
    "separator": "; ",
}

CATALOGS: Final = {"zh": ZH, "en": EN}

# Names of codes, per language: what reporters see instead of the stored code.
NAMES: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "exchange": "交易所或交易网站", "ico": "ICO/代币发行",
        "wechat_account": "公众号、微信群或个人微信", "payment": "收款渠道",
        "app": "App或小程序", "other": "其他",
        "new": "已受理", "reviewing": "核查中", "escalated": "已移交处理",
        "dismissed": "已结案（未采纳）", "closed": "已办结",
        "image": "图片", "voice": "语音", "video": "视频", "shortvideo": "小视频",
        "file": "文件", "location": "位置", "link": "链接", "text": "文字",
        "url": "网址", "domain": "域名", "evm": "钱包", "btc": "比特币地址",
        "tron": "TRON地址", "wechat_id": "微信号", "official_account": "公众号",
        "qq": "QQ", "phone": "电话", "telegram": "Telegram", "email": "邮箱", "name": "名称",
        "wechat_pay": "微信收款码", "alipay": "支付宝收款码", "unionpay": "云闪付收款码",
        "bank_card": "银行卡", "wechat_group": "微信群",
    },
    "en": {
        "exchange": "exchange or trading website", "ico": "ICO / token offering",
        "wechat_account": "WeChat account or group", "payment": "payment channel",
        "app": "app or mini program", "other": "other",
        "new": "received", "reviewing": "under review", "escalated": "escalated",
        "dismissed": "closed without action", "closed": "closed",
        "image": "photo", "voice": "voice", "video": "video", "shortvideo": "short video",
        "file": "file", "location": "location", "link": "link", "text": "text",
        "url": "website", "domain": "domain", "evm": "wallet", "btc": "Bitcoin address",
        "tron": "TRON address", "wechat_id": "WeChat ID", "official_account": "official account",
        "qq": "QQ", "phone": "phone", "telegram": "Telegram", "email": "e-mail", "name": "name",
        "wechat_pay": "WeChat Pay code", "alipay": "Alipay code", "unionpay": "UnionPay code",
        "bank_card": "bank card", "wechat_group": "WeChat group",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    """Return the catalog text `key` in `lang` (falling back to Chinese), filled in."""
    template = CATALOGS.get(lang, ZH)[key]
    return template.format(**values) if values else template


# Units of a duration, largest first: (seconds, Chinese, English singular, English plural).
_DAY: Final = 86400
_UNITS: Final = ((_DAY, "天", "day", "days"), (3600, "小时", "hour", "hours"),
                 (60, "分钟", "minute", "minutes"), (1, "秒", "second", "seconds"))


def duration(lang: str, seconds: int) -> str:
    """A span in the largest unit that says it exactly: 1分钟, 90 minutes, 24 hours, 3 days.

    A day is said only from two on: "24小时" reads as the product's default.
    """
    # The last unit, a second, always fits.
    size, zh, one, many = next(unit for unit in _UNITS if seconds % unit[0] == 0
                               and (unit[0] != _DAY or seconds >= 2 * _DAY))
    count = seconds // size
    if lang == "en":
        return f"{count} {one if count == 1 else many}"
    return f"{count}{zh}"


def name(lang: str, code: str) -> str:
    """What reporters see for a stored code (target type, status, evidence kind…)."""
    return NAMES.get(lang, NAMES["zh"]).get(code, code)
