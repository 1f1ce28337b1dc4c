"""Every word the console shows, in Chinese and English (the bot's words are handlers/texts.py)."""

from __future__ import annotations

from typing import Final

LANGS: Final = ("zh", "en")

ZH: Final[dict[str, str]] = {
    "title": "举报线索研判台",
    "login": "登录", "name": "用户名", "password": "密码", "code": "动态验证码",
    "login_failed": "用户名、密码或验证码不正确。",
    "login_throttled": "尝试次数过多，请15分钟后再试。",
    "logout": "退出", "switch_lang": "English",
    "triage": "研判", "assigned": "分配给我", "search": "搜索", "audit": "审计日志",
    "export": "导出",
    "filters": "筛选", "since": "起始时间", "status": "状态", "kind": "类型", "top": "条数",
    "apply": "应用", "any": "全部",
    "totals": "总计", "reports": "举报", "reporters": "举报人",
    "new_since_visit": "自上次访问以来新增",
    "first_visit": "首次访问", "by_status": "按状态", "by_target_type": "按举报对象",
    "entities": "线索实体", "payment_and_wallets": "收款码与钱包",
    "value": "值", "score": "分数", "first_seen": "首次出现", "last_seen": "最近出现",
    "watchlist": "监控名单", "receipts": "回执号", "new": "新",
    "possibly_same": "可能为同一平台", "why": "依据",
    "entity": "实体", "reports_naming": "提及该实体的举报", "appears_with": "同时出现的标识",
    "older": "更早", "none": "无",
    "report": "举报", "receipt": "回执号", "target_type": "举报对象", "received_at": "收到时间",
    "updated_at": "更新时间", "assignee": "负责人", "nobody": "无人", "reporter": "举报人（化名）",
    "channel": "渠道", "who": "对象", "description": "经过", "identifiers": "标识",
    "as_written": "原文", "reports_count": "举报数", "from_evidence": "来自证据",
    "evidence": "证据", "read_status": "识别状态", "read": "识别结果", "text": "识别文字",
    "looks_like": "相同图片也出现在", "recognition": "语音识别文字", "download": "下载原件",
    "history": "记录", "notes": "备注", "note": "备注", "at": "时间", "actor": "操作人",
    "action": "操作", "detail": "内容", "address": "来源地址", "target": "对象",
    "case": "处理", "save": "保存", "saved": "已保存：{changes}", "nothing_changed": "没有变化",
    "search_hint": "回执号、网址、钱包地址、微信号……", "no_results": "没有找到。",
    "not_found": "没有找到。", "forbidden": "无权访问。",
    "export_hint": "导出为CSV（Excel/WPS可直接打开）。", "download_csv": "下载CSV",
    "fetch_status": "下载状态", "size": "大小", "link": "链接（已去除可点击）",
}

EN: Final[dict[str, str]] = {
    "title": "Tipline console",
    "login": "Sign in", "name": "Name", "password": "Password", "code": "Authenticator code",
    "login_failed": "The name, password or code is not right.",
    "login_throttled": "Too many attempts: try again in 15 minutes.",
    "logout": "Sign out", "switch_lang": "中文",
    "triage": "Triage", "assigned": "Assigned to me", "search": "Search", "audit": "Audit log",
    "export": "Export",
    "filters": "Filters", "since": "Since", "status": "Status", "kind": "Kind", "top": "Top",
    "apply": "Apply", "any": "any",
    "totals": "Totals", "reports": "reports", "reporters": "reporters",
    "new_since_visit": "new since your last visit", "first_visit": "first visit",
    "by_status": "By status", "by_target_type": "By target type",
    "entities": "Entities", "payment_and_wallets": "Payment codes and wallets",
    "value": "Value", "score": "Score", "first_seen": "First seen", "last_seen": "Last seen",
    "watchlist": "Watchlist", "receipts": "Receipts", "new": "new",
    "possibly_same": "Possibly the same platform", "why": "Why",
    "entity": "Entity", "reports_naming": "Reports naming it", "appears_with": "Appears with",
    "older": "Older", "none": "none",
    "report": "Report", "receipt": "Receipt", "target_type": "Target type",
    "received_at": "Received", "updated_at": "Updated", "assignee": "Assignee",
    "nobody": "nobody", "reporter": "Reporter (pseudonym)", "channel": "Channel",
    "who": "Who", "description": "What happened", "identifiers": "Identifiers",
    "as_written": "As written", "reports_count": "Reports", "from_evidence": "From evidence",
    "evidence": "Evidence", "read_status": "Read status", "read": "Read from it",
    "text": "Recognised text", "looks_like": "The same image is also in",
    "recognition": "Speech recognised", "download": "Original file",
    "history": "History", "notes": "Notes", "note": "Note", "at": "At", "actor": "By",
    "action": "Action", "detail": "Detail", "address": "From", "target": "Target",
    "case": "Case", "save": "Save", "saved": "Saved: {changes}",
    "nothing_changed": "Nothing changed",
    "search_hint": "receipt, URL, wallet, WeChat ID…", "no_results": "Nothing found.",
    "not_found": "Not found.", "forbidden": "Not allowed.",
    "export_hint": "Export as CSV (opens in Excel/WPS).", "download_csv": "Download CSV",
    "fetch_status": "Download", "size": "Size", "link": "Link (not clickable)",
}

CATALOGS: Final = {"zh": ZH, "en": EN}


def words(lang: str) -> dict[str, str]:
    """The catalog of a language (Chinese when unknown)."""
    return CATALOGS.get(lang, ZH)
