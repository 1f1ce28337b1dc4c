"""Find platform and person names in a tip, conservatively: only where the wording says so.

Chinese has no spaces, so a name can only be cut out of a sentence where something marks
its edges. A name is taken when
- a keyword introduces it with a naming word or a colon: 平台叫币安国际, 平台名称：欧易OKX,
  交易所叫BitKing, 公众号：币圈老王, 带单老师叫李明, 名叫张伟, 她叫林晓雨;
- it is quoted (「」『』《》“”"〈〉) right after such a keyword, after 叫/名为/下载/安装/
  called/named, right before a keyword (「火币Pro」平台), or ends in one (“恒星交易所”);
- "叫X的平台" frames it, or an ASCII brand is glued to a keyword (BitKing交易所, GEC币,
  "BitKing App");
- English says so: "a platform/exchange/app/group/teacher called|named X".
Anything else (scare quotes, "这个平台是假的", "XX交易所" in Chinese script) is left alone:
a wrong name costs an investigator more than a missing one. Values are lower-cased with
whitespace collapsed; raw keeps the original.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from triage.textscan import CJK, TextScan, holds_any

_OPENING = '「『《“"〈'
_OPENING_QUOTES = tuple(_OPENING)
_CLOSING = {"「": "」", "『": "』", "《": "》", "“": "”", '"': '"', "〈": "〉"}
_QUOTE_BODY = r"[^「」『』《》“”\"〈〉\n,。!?;]"
_QUOTED = rf"(?P<open>[{_OPENING}])(?P<q>{_QUOTE_BODY}{{1,30}})(?P<close>[」』》”\"〉])"
_QUOTED_WITH_KEYWORD = (
    rf"(?P<open>[{_OPENING}])(?P<q>{_QUOTE_BODY}{{1,26}}(?:平台|交易所|币|群|App|APP|钱包|链))"
    r"(?P<close>[」』》”\"〉])"
)
_KEYWORD = r"(?:平台|交易所|项目|代币|币|(?i:app)(?![a-z])|网站|软件|钱包|群|公众号)"
_PERSON = r"(?:老师|导师|客服|经理|助理|分析师|群主|负责人|他|她)"
_NAMING = r"(?:的)?(?:(?:名称|名字|名)\s*(?:叫做|叫|是|为|:)|\s*(?:叫做|名叫|名为|叫|称为|:))"
# An unquoted name: CJK and ASCII, plus capitalised follow-on words ("Huobi Global").
_TOKEN = rf"(?P<t>[A-Za-z0-9{CJK}][A-Za-z0-9{CJK}_.\-]*(?: [A-Z0-9][A-Za-z0-9_.\-]*){{0,3}})"
_EN_WORD = r"[A-Z0-9][A-Za-z0-9_.\-]*"
_EN_NAME = rf"(?P<e>{_EN_WORD}(?: {_EN_WORD}){{0,3}}|[a-z][a-z0-9_.\-]{{2,30}})"
_EN_KEYWORD = (
    r"(?<![A-Za-z])(?i:platform|exchange|project|token|coin|app|website|site|wallet|group"
    r"|channel|scheme|teacher|mentor|manager|agent|advisor|guy|man|woman|lady|person)"
)

# A guard takes TextScan.lower and must find there whatever its pattern matches, lower-
# cased: where it finds nothing (most tips have no quotes, no 叫, no "called"), the pattern
# is not run at all. The quote patterns share one guard. The others look for the
# pattern's keywords in the order they must come, not for any one of them: a colon or a
# 币 is in half the tips, a keyword before a naming word is in few. Regex guards start
# every alternative with a literal, so that the engine skips ahead to those characters.
_KEYWORD_NAMING = re.compile(
    r"(?:平台|交易所|项目|代币|币|app|网站|软件|钱包|群|公众号)的?(?:名|\s*[叫名称:])")
_PERSON_NAMING = re.compile(r"(?:老师|导师|客服|经理|助理|分析师|群主|负责人|他|她)(?:叫|名叫)")
_GLUED_KEYWORD = re.compile(  # a letter or digit, maybe a space, then the keyword
    "|".join(rf"{k}(?:(?<=[a-z0-9]{k})|(?<=[a-z0-9] {k}))" for k in ("交易所", "平台", "币"))
    + r"| app(?<=[a-z0-9] app)"
)


def _quoted(lower: str) -> bool:
    return holds_any(lower, _OPENING_QUOTES)


def _keyword_naming(lower: str) -> bool:
    return holds_any(lower, ("名", "叫", "称", ":")) and _KEYWORD_NAMING.search(lower) is not None


def _person_naming(lower: str) -> bool:
    return ("名叫" in lower or "名为" in lower
            or ("叫" in lower and _PERSON_NAMING.search(lower) is not None))


_GUARDS: tuple[Callable[[str], bool], ...] = (
    _quoted, _quoted, _quoted, _quoted,
    _keyword_naming,
    lambda lower: "叫" in lower,
    _person_naming,
    lambda lower: (holds_any(lower, ("币", "平台", "交易所", "app"))
                   and _GLUED_KEYWORD.search(lower) is not None),
    lambda lower: "called" in lower or "named" in lower,
)
_PATTERNS = tuple(
    (re.compile(p), guard)
    for guard, p in zip(_GUARDS, (
        # 平台名称：「币安国际」 / 交易所叫“BitKing” / 公众号《币圈老王》
        _KEYWORD + r"(?:的)?(?:名称|名字|名|\s*(?:叫做|名叫|名为|叫|称为|是))?\s*:?\s*" + _QUOTED,
        # 一个叫“币安国际”的平台 / 下载了“火币Pro” / called "CoinPro"
        r"(?:名叫|名为|叫做|叫|称为|下载|安装|(?i:called|named))了?\s*:?\s*" + _QUOTED,
        # 「火币Pro」平台 / 《币赢》App
        _QUOTED + r"(?:这个|这家|的)?\s*" + _KEYWORD,
        # “恒星交易所” / “百倍币交流群”: the quoted name carries its own keyword
        _QUOTED_WITH_KEYWORD,
        # 平台名称：欧易OKX / 交易所叫BitKing / 公众号：币圈老王
        _KEYWORD + _NAMING + r"\s*:?\s*" + _TOKEN,
        # 一个叫币安国际的平台
        r"叫(?:做)?\s*" + _TOKEN + r"\s*的\s*" + _KEYWORD,
        # 名叫张伟 / 带单老师叫李明 / 她叫林晓雨
        r"(?:名叫|名为|" + _PERSON + r"(?:叫做|名叫|叫))\s*:?\s*" + _TOKEN,
        # BitKing交易所 / 在HBTC平台 / GEC币 / BitKing App. (The look-behind follows the
        # first letter so that the regex engine can skip ahead to letters.)
        r"(?P<t>[A-Za-z](?<![A-Za-z0-9_.\-@/][A-Za-z])[A-Za-z0-9]{2,}(?: [A-Z][A-Za-z0-9]*){0,2})"
        r"(?P<sp> ?)(?:交易所|平台|币|(?<= )(?:App|APP))(?![A-Za-z])",
        # a platform called CoinPro / an exchange named "BitKing"
        _EN_KEYWORD + r"(?:\s+(?i:is|was))?\s+(?i:called|named)\s+(?:the\s+)?" + _EN_NAME,
    ), strict=True)
)
# The patterns in order, each guard asked once for the run of patterns sharing it.
_GROUPS = tuple(
    (guard, tuple(pattern for pattern, g in _PATTERNS if g is guard))
    for guard in dict.fromkeys(_GUARDS)
)

# Where an unquoted Chinese name ends: particles, pronouns and verbs of the sentence.
_STOP_CHARS = re.compile(r"[的了让我你他她它们说是就都也还被把给和跟要在再又并但却骗称等,]")
# Non-answers, pronouns, currencies and the channels a scam used: never a platform's name.
_STOPWORDS = frozenset((
    "不知道", "不清楚", "未知", "忘了", "忘记了", "不记得", "没有", "无", "暂无", "其他", "什么",
    "这个", "那个", "一个", "这家", "那家",
    "unknown", "none", "n/a", "the", "a", "an", "this", "that", "it", "my", "our", "their",
    "his", "her", "them", "me", "us",
    "usdt", "btc", "eth", "trx", "usdc", "bnb", "比特币", "以太坊", "泰达币", "人民币",
    "数字货币", "虚拟币", "虚拟货币", "app", "web3", "defi", "nft", "ico", "otc", "crypto",
    "token", "coin", "dapp",
    "wechat", "weixin", "alipay", "telegram", "whatsapp", "tiktok", "douyin", "weibo",
    "android", "iphone", "ios", "apple", "google", "qq", "tg", "vx", "wx",
))  # fmt: skip
# Sentence subjects and roles, not names: "老师叫大家…", "他叫客服…".
_BAD_STARTS = (
    "大家", "别人", "人家", "自己", "对方", "客户", "朋友", "所有人",
    "客服", "警察", "老师", "经理", "助理", "领导", "老板", "家人", "同事",
)  # fmt: skip
_LEADING_ARTICLES = ("the ", "a ", "an ", "this ", "that ", "my ")
_MAX_CJK = 12


def _cut_token(token: str) -> str:
    """Cut an unquoted name where the sentence around it resumes."""
    stop = _STOP_CHARS.search(token)
    if stop:
        token = token[: stop.start()]
    words = token.split(" ")
    kept = [words[0]]
    for word in words[1:]:
        if kept[-1].endswith((".", ",")):
            break  # "CoinEx. They…": the sentence ended
        kept.append(word)
    return " ".join(kept).strip(" .-_")


def _unquoted(m: re.Match[str]) -> tuple[int, str] | None:
    """Return (offset, name) of an unquoted name match, or None if it reads as prose."""
    group = "t" if m.groupdict().get("t") is not None else "e"
    start, name = m.start(group), _cut_token(m[group])
    if m.groupdict().get("sp") and name.islower():
        return None  # "trading App": a lower-case word before a spaced keyword is prose
    for article in _LEADING_ARTICLES:
        if name.lower().startswith(article):
            start, name = start + len(article), name[len(article) :]
    return start, name


def _name_in(m: re.Match[str]) -> tuple[int, str] | None:
    """Return (offset in text, name as written) for one match, or None if implausible."""
    if m.groupdict().get("q") is not None:
        if _CLOSING[m["open"]] != m["close"]:
            return None
        found: tuple[int, str] | None = (m.start("q"), m["q"].strip())
    else:
        found = _unquoted(m)
    if found is None:
        return None
    name = found[1]
    cjk = sum(1 for c in name if "\u3400" <= c <= "\u9fff")
    if len(name) < 2 or cjk > _MAX_CJK or name.isdigit() or name.startswith(_BAD_STARTS):
        return None
    return None if " ".join(name.lower().split()) in _STOPWORDS else found


def scan_names(scan: TextScan) -> None:
    """Find platform and person names introduced by keywords or quoted next to them."""
    text, lower = scan.text, scan.lower
    for guard, patterns in _GROUPS:
        if not guard(lower):
            continue
        for pattern in patterns:
            for m in pattern.finditer(text):
                found = _name_in(m)
                if found is None:
                    continue
                start, name = found
                if scan.free(start, start + len(name)):
                    scan.add(start, start + len(name), "name", " ".join(name.lower().split()))
