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

A "who" answer says by its place what it is: `name_left` gives the words it has beside
its identifiers once fillers (官网, 客服, 微信…) are cut, if they read as a name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

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
    return found if _plausible(found[1]) else None


def _plausible(name: str) -> bool:
    """Tell whether a name cut out of a text can be a name: not too short, long or generic."""
    cjk = sum(1 for c in name if "\u3400" <= c <= "\u9fff")
    if len(name) < 2 or cjk > _MAX_CJK or name.isdigit() or name.startswith(_BAD_STARTS):
        return False
    return " ".join(name.lower().split()) not in _STOPWORDS


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


# --- the name a "who" answer gives beside its identifiers --------------------------------

# Words beside an identifier that say what it is, not whose: "火币 官网 https://… 客服微信
# huobi_kefu88" names 火币. Chinese ones are cut from either end of a word (火币客服 → 火币),
# longest first; Latin ones only as whole words ("Bitsite" keeps its "site").
_CJK_FILLER = (
    "官方网站", "钱包地址", "联系方式", "注册链接", "下载链接", "客服微信", "收款账号",
    "微信号", "手机号", "公众号", "交易所", "银行卡", "微信支付", "支付宝", "云闪付",
    "官网", "官方", "网站", "网址", "链接", "地址", "客服", "微信", "电话", "手机", "号码",
    "联系", "邮箱", "钱包", "账号", "帐号", "群号", "名字", "名称", "平台", "卡号", "收款",
    "注册", "下载", "付款", "转账", "是", "为", "叫", "的",
    # Channels, not whose: "电报 @x_support", "加V：vip88", "QQ群 123，火富天交易所".
    "纸飞机", "电报群", "电报", "加微信", "加微", "加V", "VX", "QQ群", "QQ", "微信群", "群号码",
    "频道", "推特", "脸书", "抖音", "快手", "微博", "群",
)  # fmt: skip
_LATIN_FILLER = frozenset((
    "website", "site", "web", "official", "url", "link", "address", "wechat", "weixin",
    "phone", "tel", "mobile", "support", "customer", "service", "email", "e-mail", "mail",
    "wallet", "id", "contact", "account", "number", "no", "name", "platform",
    "telegram", "tg", "qq", "whatsapp", "twitter", "facebook", "fb", "vx", "wx",
))  # fmt: skip
# Latin words of a sentence, not a name: "CoinPro token sale at coinpro-ico.io".
_PROSE = frozenset((
    "at", "on", "in", "of", "from", "by", "via", "for", "with", "to", "and", "or", "is",
    "are", "was", "were", "they", "he", "she", "we", "i", "you", "said", "says", "called",
    "named", "scam", "scammer", "fake", "fraud",
))  # fmt: skip
# Roles, not names: "带单老师 微信 li_teacher88" names the WeChat ID only (李老师 is a name).
_ROLES = frozenset((
    "老师", "带单老师", "导师", "分析师", "群主", "管理员", "代理", "经理", "助理", "客服经理",
))  # fmt: skip
_WORD_BREAKS = re.compile(r"[\s,，。.:：;；!！?？、|/\\()（）\[\]【】「」『』《》“”\"'‘’<>=+#*~]+")
_MAX_WORDS = 3  # more words left over than a name has: a sentence


# The Chinese fillers at either end, as often as they are there: one regex each way (a
# loop over the list per word cost a sixth of an import row).
_FILLERS = "|".join(map(re.escape, _CJK_FILLER))
_LEADING_FILLER = re.compile(rf"^(?:{_FILLERS})+", re.IGNORECASE)  # qq群, 加v
_TRAILING_FILLER = re.compile(rf"(?:{_FILLERS})+$", re.IGNORECASE)


def _strip_filler(word: str) -> str:
    """Cut filler words from either end of a word, as often as they are there."""
    if word.casefold() in _LATIN_FILLER:
        return ""
    return _TRAILING_FILLER.sub("", _LEADING_FILLER.sub("", word, count=1), count=1)


def name_left(typed: str, raws: Iterable[str]) -> tuple[int, str] | None:
    """Return (offset, name as typed) of the words a "who" answer has beside its identifiers.

    `raws` are the identifiers as typed; with them and the filler words taken out, what
    is left is a name if it is a few words that read as one (not a sentence, not "没有").
    """
    left = typed
    for raw in sorted((r for r in raws if r), key=len, reverse=True):
        left = left.replace(raw, "\n" * len(raw))  # keeps the offsets of the rest
    words: list[tuple[int, str]] = []
    at = 0
    for piece in _WORD_BREAKS.split(left):
        at = left.index(piece, at)
        word = _strip_filler(piece)
        if (len(word) > 1 and not word.isdigit() and word not in _ROLES
                and word.casefold() not in _STOPWORDS):
            if word.casefold() in _PROSE or _STOP_CHARS.search(word):
                return None
            words.append((at + piece.index(word), word))
            if len(words) > _MAX_WORDS:
                return None  # a sentence, not a name: no need to read the rest
        at += len(piece)
    if not words or len(words) > _MAX_WORDS:
        return None
    name = " ".join(word for _, word in words)
    return (words[0][0], name) if _plausible(name) and any(c.isalpha() for c in name) else None
