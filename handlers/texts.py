"""Everything the bot says, one catalog per language."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("zh", "en")

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
}

CATALOGS: Final = {"zh": ZH, "en": EN}


def text(lang: str, key: str) -> str:
    """Return the catalog text `key` in `lang`, falling back to Chinese."""
    return CATALOGS.get(lang, ZH)[key]
