"""Find contact identifiers in a tip: WeChat, QQ and Telegram IDs, and phone numbers.

A bare "abc123" or "283546771" is nobody's ID, so WeChat IDs, QQ numbers and Telegram
handles are taken only right after their keywords, including the evasive spellings scam
ads use to dodge filters (加V, V信, 威信, 薇信, 扣扣, 企鹅, 纸飞机…). The exceptions
identify themselves: gh_ + 12 hex (an official account's original ID) and wxid_….
Phone numbers go through phonenumbers and must be valid mobile or fixed-line numbers
(written nationally, with "+", or with China's "0086", which reads as "+86");
the words around them rule out order numbers, codes and amounts.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from triage.textscan import TextScan, holds_any

# --------------------------------------------------------------------------- WeChat tokens

_GH_ID = re.compile(r"(?<![0-9A-Za-z_])gh_[0-9a-f]{12}(?![0-9A-Za-z_])", re.IGNORECASE)
_WXID = re.compile(r"(?<![0-9A-Za-z_])wxid_[a-z0-9]{6,24}(?![0-9A-Za-z_])", re.IGNORECASE)


def scan_wechat_tokens(scan: TextScan) -> None:
    """Find self-identifying WeChat tokens, keyword or not: gh_ original IDs and wxid_ IDs."""
    if "gh_" not in scan.lower and "wxid_" not in scan.lower:
        return
    for pattern, kind in ((_GH_ID, "official_account"), (_WXID, "wechat_id")):
        for m in pattern.finditer(scan.text):
            # Found even inside a link (…&username=gh_…), where the span is already claimed.
            claim = scan.free(m.start(), m.end())
            scan.add(m.start(), m.end(), kind, m.group().lower(), claim=claim)


# --------------------------------------------------------------------------- keyword IDs

# Between a keyword and its ID: punctuation, brackets, 号/是/为, "ID", "is".
_SEP = (
    r"(?P<sep>(?:[\s:=「」『』【】\[\]()<>\"“”'‘’—\-@]|号码|号|账号|帳號|是|为"
    r"|(?i:id|is)(?![a-z]))*)"
)
_STRONG_SEP = re.compile(r"[:=「」『』【】\[\]()<>\"“”'‘’@号是为]|(?i:id|is)")
_ID_END = r"(?![A-Za-z0-9_\-@]|\.[A-Za-z0-9])"

# The keywords: 微信 and its homophones; v信, vx, wx, wechat, weixin, 加v, +v, ➕v in any
# case and not glued to a letter or digit before them; a lone V/微/薇 only with a colon
# ("V：abc123"). Each alternative starts with a literal character (the look-behind
# follows it), so that the regex engine skips ahead to those characters instead of
# trying the whole alternation at every position; alternatives sharing a first
# character keep their order.
_WECHAT_ID = re.compile(
    r"(?:微(?:信|(?<![A-Za-z0-9]微)(?=\s*:))|威信|薇(?:信|(?<![A-Za-z0-9]薇)(?=\s*:))"
    r"|徽信|维信|蔚信|卫星"
    r"|v(?<![A-Za-z0-9]v)(?:(?i:信|x)|(?=\s*:))|V(?<![A-Za-z0-9]V)(?:(?i:信|x)|(?=\s*:))"
    r"|w(?<![A-Za-z0-9]w)(?i:x|echat|eixin)|W(?<![A-Za-z0-9]W)(?i:x|echat|eixin)"
    r"|加(?<![A-Za-z0-9]加)(?i:v)|\+(?<![A-Za-z0-9]\+)(?i:v)|➕(?<![A-Za-z0-9]➕)(?i:v))"
    r"(?:客服|小号|大号)?"
    + _SEP
    + rf"(?<![A-Za-z0-9_\-])(?P<id>[A-Za-z][A-Za-z0-9_\-]{{5,19}}){_ID_END}"
)
# QQ, 扣扣, 企鹅 (maybe with 群号, 号码, 账号), 群号, or a lone Q with 号 or a colon; each
# alternative starts with a literal, as above.
_QQ = re.compile(
    r"(?:q(?<![A-Za-z0-9]q)(?:(?i:q)(?:群号?|号码?|账号)?|号|(?=\s*:))"
    r"|Q(?<![A-Za-z0-9]Q)(?:(?i:q)(?:群号?|号码?|账号)?|号|(?=\s*:))"
    r"|扣扣(?:群号?|号码?|账号)?|企鹅(?:群号?|号码?|账号)?|群号)"
    + _SEP
    + r"(?<![0-9])(?P<id>[1-9][0-9]{4,10})(?![0-9])"
)
_TELEGRAM = re.compile(  # telegram or tg in any case, neither glued to a word
    r"(?:纸飞机|飞机|电报|t(?<![A-Za-z0-9]t)(?i:elegram|g)(?![A-Za-z])"
    r"|T(?<![A-Za-z0-9]T)(?i:elegram|g)(?![A-Za-z]))"
    r"(?:群|频道|(?i:\s*(?:group|channel|account)(?![a-z])))?"
    + _SEP
    + rf"(?<![A-Za-z0-9_])(?P<id>[A-Za-z][A-Za-z0-9_]{{4,31}}){_ID_END}"
)
# Words that follow "WeChat"/"Telegram" in ordinary sentences ("WeChat transfer").
_ENGLISH_WORDS = frozenset((
    "transfer", "transfers", "payment", "payments", "account", "accounts", "official",
    "group", "groups", "wallet", "number", "contact", "private", "message", "messages",
    "friend", "friends", "moments", "channel", "channels", "support", "customer", "service",
    "please", "through", "using", "about", "which", "their", "there", "where", "would",
    "could", "should", "called", "named", "username", "address", "people", "someone",
    "scammer", "scammers", "promoted", "promotion", "asked", "invited", "added",
    "recharge", "deposit", "withdraw", "public", "mini", "program",
))  # fmt: skip


def _keyword_id_plausible(m: re.Match[str], ascii_keyword: bool) -> bool:
    """Tell whether the word after a contact keyword is an ID rather than prose."""
    candidate = m["id"]
    if _STRONG_SEP.search(m["sep"]):
        return True
    if candidate.lower() in _ENGLISH_WORDS:
        return False
    # After an English keyword and a mere space, demand the digits/underscores IDs carry.
    return not ascii_keyword or not candidate.isalpha()


# A guard is what a match of each keyword pattern must contain, lower-cased (the
# keywords without their look-arounds), run on TextScan.lower: most tips name no
# contact. Pieces are what every guard match contains, found by plain substring search
# (far cheaper than a regex); the pattern runs only if a piece is there. A pattern's
# match lower-cased then holds its guard's match, save one case: "weixin" matched
# case-insensitively with a Turkish ı or İ (lower-cased "ı", "i̇"), which the WeChat
# guard does not take. Only then is the guard itself asked, once the pattern matched.
_WECHAT_GUARD = re.compile(
    r"微信|威信|薇信|徽信|维信|蔚信|卫星|v信|vx|wx|wechat|weixin|加v|\+v|➕v|v\s*:|微\s*:|薇\s*:")
_WECHAT_PIECES = ("信", "v", "w", "卫星", "微", "薇")
_TURKISH_I = ("ı", "\u0307")  # in lower-cased text: ı, and İ's combining dot
_QQ_PIECES = ("q", "扣扣", "企鹅", "群号")  # the guard was qq|扣扣|企鹅|群号|q号|q\s*:
_TELEGRAM_KEYWORDS = ("飞机", "电报", "telegram", "tg")  # the guard is these, as written


def _scan_keyword(scan: TextScan, kind: str, pattern: re.Pattern[str],
                  pieces: tuple[str, ...], guard: re.Pattern[str] | None) -> None:
    """Find IDs of one kind introduced by their keywords."""
    if not holds_any(scan.lower, pieces):
        return
    for m in pattern.finditer(scan.text):
        if guard is not None:
            if guard.search(scan.lower) is None:
                return
            guard = None
        start, end = m.span("id")
        ascii_keyword = scan.text[m.start()].isascii()
        if scan.free(start, end) and _keyword_id_plausible(m, ascii_keyword):
            value = m["id"] if kind == "qq" else m["id"].lower()
            scan.add(start, end, kind, value)


def scan_keyword_ids(scan: TextScan) -> None:
    """Find Telegram handles, QQ numbers and WeChat IDs next to their keywords."""
    _scan_keyword(scan, "telegram", _TELEGRAM, _TELEGRAM_KEYWORDS, None)
    _scan_keyword(scan, "qq", _QQ, _QQ_PIECES, None)
    turkish = holds_any(scan.lower, _TURKISH_I)
    _scan_keyword(scan, "wechat_id", _WECHAT_ID, _WECHAT_PIECES, _WECHAT_GUARD if turkish else None)


# --------------------------------------------------------------------------- phones

_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])(?:"
    r"(?P<intl>\+(?:\d[\s\-()]{0,2}){7,15})"
    r"|0086(?P<idd>[\s\-]?(?:\d[\s\-()]{0,2}){7,13})"
    r"|(?<!\d[\s\-])1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}(?![\s\-]?\d)"
    r"|(?<!\d[\s\-])(?:\(0\d{2,3}\)|0\d{2,3})[\s\-]?\d{3,4}[\s\-]?\d{4}(?![\s\-]?\d)"
    r")(?![0-9A-Za-z_])"
)
# What a number is when these words introduce it: an order, a card, an ID, a code.
# Any "…码" but 号码 (验证码, 邀请码, 推荐码) is a code, whatever its digits look like.
_NOT_A_PHONE_BEFORE = re.compile(
    r"(?:订单|单号|运单|快递|身份证|证件|卡号|银行卡|流水|交易号|哈希|编号|工号|合同|发票|(?<!号)码"
    r"|(?<![a-z])(?i:order|code|invoice|tx|hash|no\.?|id))[号码]*\s*[:#是为]?\s*$"
)
_CONTEXT_WINDOW = 12
_CN_IDD, _CN_PLUS = "0086", "+86"  # how _PHONE's idd branch is read
_AMOUNT_AFTER = re.compile(r"\s*(?:元|块|万|亿|美元|美金|刀|%|(?i:usdt|rmb|cny|btc|eth)(?![a-z]))")
_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


# Mainland mobile numbers, checked against phonenumbers' own metadata pattern: one regex
# instead of a full parse, which cost half of a typical tip's extraction time.
def _cn_mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    pattern = metadata.mobile.national_number_pattern if metadata and metadata.mobile else None
    if not pattern:
        raise RuntimeError("phonenumbers has no mainland mobile pattern")
    return re.compile(str(pattern))


_CN_MOBILE = _cn_mobile_pattern()
_SEPARATORS = re.compile(r"[\s\-]")


@functools.lru_cache(maxsize=65536)  # the same hotline numbers come back tip after tip
def _parse_phone(candidate: str, region: str | None) -> str | None:
    """Return the E.164 form of a valid mobile or fixed-line number, else None."""
    if region == "CN":
        digits = _SEPARATORS.sub("", candidate)
        if len(digits) == 11 and _CN_MOBILE.fullmatch(digits):
            return "+86" + digits
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _PHONE_TYPES:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _parse_international(candidate: str) -> tuple[str, int] | None:
    """Parse a '+' number, dropping trailing digit groups that belong to the next words."""
    candidate = candidate.rstrip(" -(")
    while candidate:
        e164 = _parse_phone(candidate, None)
        if e164:
            return e164, len(candidate)
        cut = max(candidate.rfind(" "), candidate.rfind("-"))
        if cut <= 3:
            return None
        candidate = candidate[:cut].rstrip(" -(")
    return None


def _phone_context_ok(text: str, start: int, end: int) -> bool:
    """Tell whether the words around a number leave it free to be a phone number."""
    if _NOT_A_PHONE_BEFORE.search(text, max(0, start - _CONTEXT_WINDOW), start):
        return False
    if start and text[start - 1] in "¥$":
        return False
    return not _AMOUNT_AFTER.match(text, end)


# Every phone match contains a "+" or three digits and four more (a mobile's 1[3-9]X-XXXX,
# a fixed line's XXX(X)-XXXX): amounts and dates rarely do, so most tips skip the scan.
# (Spelt \d\d\d, not \d{3}, so that the engine skips ahead to digits.)
_DIGITS_GUARD = re.compile(r"\d\d\d[\s\-]?\d{4}")


def scan_phones(scan: TextScan) -> None:
    """Find valid mobile and fixed-line numbers: +international, 0086…, or Chinese without +."""
    if "+" not in scan.text and _DIGITS_GUARD.search(scan.text) is None:
        return
    for m in _PHONE.finditer(scan.text):
        start, end = m.span()
        e164: str | None
        if m["intl"] or m["idd"]:
            # 0086 is China's "+86" dialled from abroad (00 is its international prefix).
            intl = m["intl"] or _CN_PLUS + m["idd"]
            parsed = _parse_international(intl)
            if parsed is None:
                continue
            shift = 0 if m["intl"] else len(_CN_IDD) - len(_CN_PLUS)
            e164, end = parsed[0], start + parsed[1] + shift
        else:
            e164 = _parse_phone(m.group(), "CN")
        if e164 and scan.free(start, end) and _phone_context_ok(scan.text, start, end):
            scan.add(start, end, "phone", e164)
