"""Find the identifiers a tip mentions: links, domains, wallets, contact IDs, phones and names.

`extract(text)` is pure: no I/O beyond data bundled with the libraries it uses. It works
on the NFKC form of the text (full-width ＡＢＣ０１２ become ASCII) and uses ASCII-only
boundaries, because Python's \\b and \\w count Chinese characters as word characters
and tips glue identifiers to Chinese text and punctuation (「微信：abc123」).

Scanners run in a fixed order. Links, e-mail addresses and wallets come first and
*claim* their spans; later scanners (keyword IDs, phones, names) skip anything that
overlaps a claim, so the digits of a URL are never a phone and the handle in a t.me
link is found once. Wallets are scanned even inside links (an explorer URL names the
address an investigator wants).

Decisions worth knowing (see also the tests):
- wechat_id, qq and telegram are found only next to a keyword (微信/VX/加V/威信…,
  QQ/扣扣/企鹅, 飞机/TG/电报…) or in a t.me link; a bare "abc123" is nobody's ID.
  wechat_id and telegram values are lower-cased (both services ignore case).
- official_account is a gh_ original ID or the __biz of an mp.weixin.qq.com link;
  "公众号：币圈老王" yields the display name as a `name`.
- A bare host (no scheme, no www.) is a `domain`; with a path ("abc.com/reg") or a
  t.me / mp.weixin.qq.com host it is also a `url` ("http://" or "https://" is added).
- `name` is conservative: a platform/person name introduced by 平台/交易所/项目/币/App/
  公众号 + 叫/名叫/名称/：, quoted after or before such a keyword, "叫X的平台", "BitKing交易所",
  or English "a platform called X". Values are lower-cased with spaces collapsed.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers

from triage import hosts, wallets

KINDS = (
    "url",
    "domain",
    "evm",
    "btc",
    "tron",
    "wechat_id",
    "official_account",
    "qq",
    "phone",
    "telegram",
    "email",
    "name",
)


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier: its kind, its normalised value and the text it was read from."""

    kind: str
    value: str
    raw: str


def extract(text: str) -> list[Identifier]:
    """Return the identifiers in a tip, de-duplicated on (kind, value), in order of appearance."""
    scan = _Scan.of(text)
    for scanner in _SCANNERS:
        scanner(scan)
    return scan.identifiers()


def as_json(ids: list[Identifier]) -> list[dict[str, str]]:
    """Return identifiers as JSON-ready dicts with keys kind, value and raw."""
    return [{"kind": i.kind, "value": i.value, "raw": i.raw} for i in ids]


# --------------------------------------------------------------------------- text

# Zero-width characters are dropped: scam ads insert them to dodge keyword filters.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """Return the NFKC text and, when it differs, a map from its indices to the original's."""
    if unicodedata.is_normalized("NFKC", text) and not _INVISIBLE.intersection(text):
        return text, None
    pieces: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        piece = unicodedata.normalize("NFKC", char)
        pieces.append(piece)
        origin.extend([i] * len(piece))
    joined = "".join(pieces)
    if not unicodedata.is_normalized("NFKC", joined):
        # Composition across characters (rare: combining marks); raw falls back to NFKC text.
        return unicodedata.normalize("NFKC", joined), None
    return joined, origin


@dataclass(slots=True)
class _Hit:
    start: int
    end: int
    kind: str
    value: str


@dataclass(slots=True)
class _Scan:
    """The normalised text of one tip and what the scanners found in it so far."""

    original: str
    text: str
    origin: list[int] | None
    hits: list[_Hit] = field(default_factory=list)
    claims: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> _Scan:
        """Start a scan of one tip."""
        normal, origin = _normalise(text)
        return cls(text, normal, origin)

    def free(self, start: int, end: int) -> bool:
        """Tell whether no earlier scanner claimed any part of [start, end)."""
        return all(end <= s or start >= e for s, e in self.claims)

    def add(self, start: int, end: int, kind: str, value: str, claim: bool = True) -> None:
        """Record an identifier found at [start, end) of the normalised text."""
        self.hits.append(_Hit(start, end, kind, value))
        if claim:
            self.claims.append((start, end))

    def raw(self, start: int, end: int) -> str:
        """Return the original text behind [start, end) of the normalised text."""
        if self.origin is None:
            source = self.original if self.text is self.original else self.text
            return source[start:end]
        return self.original[self.origin[start] : self.origin[end - 1] + 1]

    def identifiers(self) -> list[Identifier]:
        """Return the hits in order of appearance, first of each (kind, value) only."""
        seen: set[tuple[str, str]] = set()
        out: list[Identifier] = []
        for hit in sorted(self.hits, key=lambda h: h.start):  # stable: URL before its domain
            if (hit.kind, hit.value) not in seen:
                seen.add((hit.kind, hit.value))
                out.append(Identifier(hit.kind, hit.value, self.raw(hit.start, hit.end)))
        return out


# --------------------------------------------------------------------------- links

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
# Characters of an internationalised label: ASCII, Latin/Greek/Cyrillic letters, CJK.
_IDN = "a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff" + _CJK
_LABEL = rf"[{_IDN}][{_IDN}\-]*+"
_CJK_TLDS = "中国|中國|公司|网络|網絡|在线|商城|网店|集团|我爱你|香港|台湾|台灣|网址|游戏|企业|手机|信息"
_TLD = rf"(?:xn--[a-z0-9\-]{{2,59}}|[a-z]{{2,24}}|{_CJK_TLDS})(?![a-z0-9_\-])(?!\.[a-z0-9])"
_HOST = rf"(?:{_LABEL}\.)+{_TLD}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
_PORT = r"(?::\d{1,5}(?!\d))?"
_PATH = r"(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?"

_SCHEME_URL = re.compile(
    rf"(?<![a-z0-9])(?P<scheme>https?://)(?P<host>{_HOST}|{_IPV4})(?P<port>{_PORT})(?P<path>{_PATH})",
    re.IGNORECASE,
)
# A bare host starts where a run of label characters starts; a Chinese prefix glued to
# it ("网址huobi-vip.com") is trimmed afterwards, which keeps the regex linear.
_BARE_HOST = re.compile(
    rf"(?<![{_IDN}_.@/\-])(?P<host>{_HOST})(?P<port>{_PORT})(?P<path>{_PATH})", re.IGNORECASE
)
_EMAIL = re.compile(
    rf"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9][a-z0-9._%+\-]{{0,63}})@(?P<host>{_HOST})",
    re.IGNORECASE,
)
_CJK_RUN = re.compile(rf"^[{_CJK}]+")
# Words that commonly precede a Chinese-script domain and are not part of it.
_HOST_PREFIX_WORDS = re.compile(
    r"^(?:请|去|到|在|用|上|是|为|叫|访问|打开|登录|登陆|注册|进入|输入|浏览器|网址|网站|域名|地址|官网|链接)"
)
_TRAILING_PUNCT = ".,;:!?'\"*([{<"
# Full-width punctuation in the original ends a link even though NFKC made it ASCII:
# "https://abc.com/x（IP）" is a link followed by a parenthesis, not "/x(IP)".
_FULLWIDTH_STOPS = frozenset("，；！？（）：［］｛｝＜＞＂＇")
_PAIRS = {")": "(", "]": "["}
_TITLE_TLD = re.compile(r"[A-Z][a-z]")  # "money.It", "Mr.Li": a sentence, not a domain
_MAX_CJK_LABEL = 6
_TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "www.t.me", "telegram.dog"})
_TELEGRAM_PATH = re.compile(r"/(?:s/)?(?P<handle>[A-Za-z][A-Za-z0-9_]{4,31})(?=$|[/?#])")
_TELEGRAM_RESERVED = frozenset(
    {"joinchat", "addstickers", "addemoji", "addtheme", "setlanguage", "share", "proxy",
     "socks", "login", "confirmphone", "invoice", "boost", "contact", "addlist", "iv"}
)
_BIZ_PARAM = re.compile(r"[?&]__biz=(?P<biz>[A-Za-z0-9%+/=_\-]+)")
_OFFICIAL_ACCOUNT_HOST = "mp.weixin.qq.com"


def _trim_path(scan: _Scan, path: str, at: int) -> str:
    """Cut a path (at offset `at`) where the sentence resumes: full-width or trailing punctuation."""
    if scan.origin is not None:
        for i in range(len(path)):
            if scan.original[scan.origin[at + i]] in _FULLWIDTH_STOPS:
                path = path[:i]
                break
    while path:
        last = path[-1]
        if last in _TRAILING_PUNCT or (last in _PAIRS and path.count(last) > path.count(_PAIRS[last])):
            path = path[:-1]
        else:
            break
    return path


def _trim_glued_prefix(host: str) -> int:
    """Return how many leading characters of a bare host are Chinese text glued to it."""
    first = host.split(".", 1)[0]
    run = _CJK_RUN.match(first)
    if run is None:
        return 0
    if run.end() < len(first):
        return run.end()  # "网址huobi-vip.com": Chinese text, then an ASCII label
    cut = 0
    while (word := _HOST_PREFIX_WORDS.match(first[cut:])) and cut + word.end() < len(first):
        cut += word.end()  # "请访问币安.com" → "币安.com"
    return cut


def _add_link_parts(scan: _Scan, host: tuple[int, int], ascii_host: str, path: str, at: int) -> None:
    """Record what a link's host and its path (at offset `at`) reveal: domain, handle, __biz."""
    split = hosts.split_host(ascii_host)
    if split is not None:
        scan.add(host[0], host[1], "domain", split[0], claim=False)
    if ascii_host in _TELEGRAM_HOSTS:
        handle = _TELEGRAM_PATH.match(path)
        if handle and handle["handle"].lower() not in _TELEGRAM_RESERVED:
            start = at + handle.start("handle")
            scan.add(start, start + len(handle["handle"]), "telegram", handle["handle"].lower(), False)
    elif ascii_host == _OFFICIAL_ACCOUNT_HOST:
        biz = _BIZ_PARAM.search(path)
        if biz:
            start = at + biz.start("biz")
            value = urllib.parse.unquote(biz["biz"])
            scan.add(start, start + len(biz["biz"]), "official_account", value, claim=False)


def _scan_scheme_urls(scan: _Scan) -> None:
    """Find http(s):// links."""
    for m in _SCHEME_URL.finditer(scan.text):
        ascii_host = hosts.to_ascii(m["host"])
        if ascii_host is None:
            continue
        path = _trim_path(scan, m["path"], m.start("path"))
        end = m.start("path") + len(path)
        value = f"{m['scheme'].lower()}{ascii_host}{m['port']}{path}"
        scan.add(m.start(), end, "url", value)
        _add_link_parts(scan, m.span("host"), ascii_host, path, m.start("path"))


def _bare_host_plausible(host: str, suffix: str) -> bool:
    """Tell whether a host written without a scheme is a website rather than a file or prose."""
    labels = host.split(".")
    tld = labels[-1]
    if suffix.rsplit(".", 1)[-1] in hosts.FILE_EXTENSION_TLDS:
        return False
    if len(tld) == 2 and _TITLE_TLD.fullmatch(tld):
        return False
    if not tld.isascii():
        return False  # "…亏了.公司说": a Chinese sentence typed with "." more often than a site
    # Without word segmentation a long Chinese first label is mostly the sentence before it.
    return labels[0].isascii() or len(labels[0]) <= _MAX_CJK_LABEL


def _scan_bare_hosts(scan: _Scan) -> None:
    """Find hosts written without a scheme: www. links, t.me links and bare domains."""
    if "." not in scan.text:
        return
    for m in _BARE_HOST.finditer(scan.text):
        cut = _trim_glued_prefix(m["host"])
        start, host = m.start() + cut, m["host"][cut:]
        path = _trim_path(scan, m["path"], m.start("path"))
        end = m.start("path") + len(path)
        ascii_host = hosts.to_ascii(host)
        if ascii_host is None or not scan.free(start, end):
            continue
        split = hosts.split_host(ascii_host)
        if split is None or not _bare_host_plausible(host, split[1]):
            continue
        if ascii_host in _TELEGRAM_HOSTS or ascii_host == _OFFICIAL_ACCOUNT_HOST:
            scan.add(start, end, "url", f"https://{ascii_host}{m['port']}{path}")
        elif ascii_host.startswith("www.") or len(path) > 1:
            scan.add(start, end, "url", f"http://{ascii_host}{m['port']}{path}")
        else:
            scan.claims.append((start, end))
        _add_link_parts(scan, (start, m.end("host")), ascii_host, path, m.start("path"))


def _scan_emails(scan: _Scan) -> None:
    """Find e-mail addresses; each also yields its registrable domain."""
    if "@" not in scan.text:
        return
    for m in _EMAIL.finditer(scan.text):
        ascii_host = hosts.to_ascii(m["host"])
        if ascii_host is None or hosts.split_host(ascii_host) is None:
            continue
        local = m["local"].rstrip(".")
        scan.add(m.start(), m.end(), "email", f"{local.lower()}@{ascii_host}")
        _add_link_parts(scan, m.span("host"), ascii_host, "", m.end())


# --------------------------------------------------------------------------- wallets

_B58 = "1-9A-HJ-NP-Za-km-z"
_EVM = re.compile(r"(?<![0-9A-Za-z])0[xX][0-9a-fA-F]{40}(?![0-9a-fA-F])")
# Runs are matched long and then tried at the valid lengths, longest first, so an
# address glued to ASCII text ("…Lj6tUSDT") is still found; the checksum decides.
_BASE58_RUN = re.compile(rf"(?<![0-9A-Za-z])[13T][{_B58}]{{25,44}}")
_BECH32_RUN = re.compile(r"(?<![0-9A-Za-z])bc1[02-9ac-hj-np-z]{6,87}", re.IGNORECASE)
_BTC_LENGTHS = tuple(range(34, 25, -1))
_TRON_LENGTHS = (34,)
_BECH32_LENGTHS = (62, 42)


def _scan_evm(scan: _Scan) -> None:
    """Find 0x addresses, refusing mixed case that fails EIP-55."""
    for m in _EVM.finditer(scan.text):
        if wallets.is_evm(m.group()):
            scan.add(m.start(), m.end(), "evm", m.group().lower())


def _first_valid(run: str, lengths: tuple[int, ...], valid: Callable[[str], bool]) -> str | None:
    """Return the longest prefix of run with an allowed length that passes its checksum."""
    if len(run) not in lengths and valid(run):
        return run
    for length in lengths:
        if length <= len(run) and valid(run[:length]):
            return run[:length]
    return None


def _scan_base58(scan: _Scan) -> None:
    """Find legacy/P2SH bitcoin addresses and TRON addresses by base58check."""
    for m in _BASE58_RUN.finditer(scan.text):
        run = m.group()
        if run[0] == "T":
            found, kind = _first_valid(run, _TRON_LENGTHS, wallets.is_tron), "tron"
        else:
            found, kind = _first_valid(run, _BTC_LENGTHS, wallets.is_btc_base58), "btc"
        if found:
            scan.add(m.start(), m.start() + len(found), kind, found)


def _scan_bech32(scan: _Scan) -> None:
    """Find native segwit bitcoin addresses (bech32 / bech32m)."""
    for m in _BECH32_RUN.finditer(scan.text):
        found = _first_valid(m.group(), _BECH32_LENGTHS, wallets.is_btc_bech32)
        if found:
            scan.add(m.start(), m.start() + len(found), "btc", found.lower())


# --------------------------------------------------------------------------- WeChat IDs

_GH_ID = re.compile(r"(?<![0-9A-Za-z_])gh_[0-9a-f]{12}(?![0-9A-Za-z_])", re.IGNORECASE)
_WXID = re.compile(r"(?<![0-9A-Za-z_])wxid_[a-z0-9]{6,24}(?![0-9A-Za-z_])", re.IGNORECASE)


def _scan_wechat_tokens(scan: _Scan) -> None:
    """Find self-identifying WeChat tokens: gh_ original IDs and wxid_ IDs, keyword or not."""
    for pattern, kind in ((_GH_ID, "official_account"), (_WXID, "wechat_id")):
        for m in pattern.finditer(scan.text):
            # Found even inside a link (…&username=gh_…); claimed only when free.
            scan.add(m.start(), m.end(), kind, m.group().lower(), scan.free(m.start(), m.end()))


# --------------------------------------------------------------------------- keyword IDs

# Between a keyword and its ID: punctuation, brackets, 号/是/为, "ID", "is".
_SEP = r"(?P<sep>(?:[\s:=「」『』【】\[\]()<>\"“”'‘’—\-@]|号码|号|账号|帳號|是|为|(?i:id|is)(?![a-z]))*)"
_STRONG_SEP = re.compile(r"[:=「」『』【】\[\]()<>\"“”'‘’@号是为]|(?i:id|is)")
_ID_END = r"(?![A-Za-z0-9_\-@]|\.[A-Za-z0-9])"

_WECHAT_ID = re.compile(
    r"(?:微信|威信|薇信|徽信|维信|蔚信|卫星|(?<![A-Za-z0-9])(?i:v信|vx|wx|wechat|weixin|加v|\+v|➕v)"
    r"|(?<![A-Za-z0-9])(?:[Vv微薇])(?=\s*:))"
    r"(?:客服|小号|大号)?"
    + _SEP
    + rf"(?<![A-Za-z0-9_\-])(?P<id>[A-Za-z][A-Za-z0-9_\-]{{5,19}}){_ID_END}"
)
_QQ = re.compile(
    r"(?:(?:(?<![A-Za-z0-9])(?i:qq)|扣扣|企鹅)(?:群号?|号码?|账号)?"
    r"|(?<![A-Za-z0-9])(?i:q)(?:号|(?=\s*:)))"
    + _SEP
    + r"(?<![0-9])(?P<id>[1-9][0-9]{4,10})(?![0-9])"
)
_TELEGRAM = re.compile(
    r"(?:纸飞机|飞机|电报|(?<![A-Za-z0-9])(?i:telegram|tg)(?![A-Za-z]))"
    r"(?:群|频道|(?i:\s*(?:group|channel|account)(?![a-z])))?"
    + _SEP
    + rf"(?<![A-Za-z0-9_])(?P<id>[A-Za-z][A-Za-z0-9_]{{4,31}}){_ID_END}"
)
# Words that follow "WeChat"/"Telegram" in ordinary sentences ("WeChat transfer").
_ENGLISH_WORDS = frozenset(
    """transfer transfers payment payments account accounts official group groups wallet
    number contact private message messages friend friends moments channel channels support
    customer service please through using about which their there where would could should
    called named username address official people someone scammer scammers promoted
    promotion asked invited added recharge deposit withdraw public mini program""".split()
)


def _keyword_id_plausible(m: re.Match[str], ascii_keyword: bool) -> bool:
    """Tell whether the word after a contact keyword is an ID rather than prose."""
    candidate = m["id"]
    if _STRONG_SEP.search(m["sep"]):
        return True
    if candidate.lower() in _ENGLISH_WORDS:
        return False
    # After an English keyword and a mere space, demand the digits/underscores IDs carry.
    return not ascii_keyword or any(not c.isalpha() for c in candidate)


def _scan_keyword(scan: _Scan, pattern: re.Pattern[str], kind: str) -> None:
    """Find IDs of one kind introduced by their keywords."""
    for m in pattern.finditer(scan.text):
        start, end = m.span("id")
        ascii_keyword = scan.text[m.start()].isascii()
        if not scan.free(start, end) or not _keyword_id_plausible(m, ascii_keyword):
            continue
        value = m["id"] if kind == "qq" else m["id"].lower()
        scan.add(start, end, kind, value)


def _scan_keyword_ids(scan: _Scan) -> None:
    """Find Telegram handles, QQ numbers and WeChat IDs next to their keywords."""
    _scan_keyword(scan, _TELEGRAM, "telegram")
    _scan_keyword(scan, _QQ, "qq")
    _scan_keyword(scan, _WECHAT_ID, "wechat_id")


# --------------------------------------------------------------------------- phones

_PHONE = re.compile(
    r"(?<![0-9A-Za-z_+])(?:"
    r"(?P<intl>\+(?:\d[\s\-()]{0,2}){7,15})"
    r"|(?<!\d[\s\-])(?P<mobile>1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4})(?![\s\-]?\d)"
    r"|(?<!\d[\s\-])(?P<fixed>(?:\(0\d{2,3}\)|0\d{2,3})[\s\-]?\d{3,4}[\s\-]?\d{4})(?![\s\-]?\d)"
    r")(?![0-9A-Za-z_])"
)
# What a number means when these words introduce it: an order, a code, an ID card…
_NOT_A_PHONE_BEFORE = re.compile(
    r"(?:订单|单号|运单|快递|验证码|校验码|动态码|身份证|证件|卡号|银行卡|流水|交易号|哈希|编号|工号|合同|发票"
    r"|(?i:order|code|invoice|tx|hash|no\.?))[号码]*\s*[:#是为]?\s*$"
)
_AMOUNT_AFTER = re.compile(r"\s*(?:元|块|万|亿|美元|美金|刀|%|(?i:usdt|rmb|cny|btc|eth)(?![a-z]))")
_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    }
)


def _parse_phone(candidate: str, region: str | None) -> str | None:
    """Return the E.164 form of a valid mobile or fixed-line number, else None."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _PHONE_TYPES:
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _intl_phone(candidate: str) -> tuple[str, int] | None:
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
    if _NOT_A_PHONE_BEFORE.search(text, max(0, start - 12), start):
        return False
    if start and text[start - 1] in "¥$":
        return False
    return not _AMOUNT_AFTER.match(text, end)


def _scan_phones(scan: _Scan) -> None:
    """Find valid mobile and fixed-line numbers: +international, or Chinese without +."""
    text = scan.text
    for m in _PHONE.finditer(text):
        start = m.start()
        if m["intl"]:
            parsed = _intl_phone(m["intl"])
            if parsed is None:
                continue
            e164, end = parsed[0], start + parsed[1]
        else:
            end = m.end()
            e164 = _parse_phone(m.group(), "CN") or ""
        if e164 and scan.free(start, end) and _phone_context_ok(text, start, end):
            scan.add(start, end, "phone", e164)


# --------------------------------------------------------------------------- names

_QUOTED = r"(?P<open>[「『《“\"〈])(?P<q>[^「」『』《》“”\"〈〉\n,。!?;]{1,30})(?P<close>[」』》”\"〉])"
_CLOSING = {"「": "」", "『": "』", "《": "》", "“": "”", '"': '"', "〈": "〉"}
_NAME_KEYWORD = r"(?:平台|交易所|项目|代币|币|(?i:app)(?![a-z])|网站|软件|钱包|群|公众号)"
_PERSON_KEYWORD = r"(?:老师|导师|客服|经理|助理|分析师|群主|负责人)"
# A name token: CJK and ASCII, plus capitalised follow-on words ("Huobi Global").
_TOKEN = rf"(?P<t>[A-Za-z0-9{_CJK}][A-Za-z0-9{_CJK}_.\-]*(?: [A-Z0-9][A-Za-z0-9_.\-]*){{0,3}})"
_EN_NAME = r"(?P<e>(?:[A-Z0-9][A-Za-z0-9_.\-]*(?: [A-Z0-9][A-Za-z0-9_.\-]*){0,3})|[a-z][a-z0-9_.\-]{2,30})"
_EN_NAME_KEYWORD = (
    r"(?<![A-Za-z])(?i:platform|exchange|project|token|coin|app|website|site|wallet|group|channel"
    r"|scheme|teacher|mentor|manager|agent|advisor|guy|man|woman|lady|person)"
)

_NAME_PATTERNS = tuple(
    re.compile(p)
    for p in (
        # 平台名称：「币安国际」 / 交易所叫“BitKing” / 公众号《币圈老王》
        _NAME_KEYWORD + r"(?:的)?(?:名称|名字|名|\s*(?:叫做|名叫|名为|叫|称为|是))?\s*:?\s*" + _QUOTED,
        # 一个叫“币安国际”的平台 / called "CoinPro"
        r"(?:名叫|名为|叫做|叫|称为|下载|安装|(?i:called|named))了?\s*:?\s*" + _QUOTED,
        # 「火币Pro」平台 / 《币赢》App
        _QUOTED + r"(?:这个|这家|的)?\s*" + _NAME_KEYWORD,
        # 平台名称：欧易OKX / 交易所叫BitKing / 公众号：币圈老王
        _NAME_KEYWORD
        + r"(?:的)?(?:(?:名称|名字|名)\s*(?:叫做|叫|是|为|:)|\s*(?:叫做|名叫|名为|叫|称为|:))\s*:?\s*"
        + _TOKEN,
        # 一个叫币安国际的平台
        r"叫(?:做)?\s*" + _TOKEN + r"\s*的\s*" + _NAME_KEYWORD,
        # 名叫张伟 / 带单老师叫李明
        r"(?:名叫|名为|" + _PERSON_KEYWORD + r"(?:叫做|名叫|叫))\s*:?\s*" + _TOKEN,
        # BitKing交易所 / 在HBTC平台 / GEC币 / BitKing App
        r"(?<![A-Za-z0-9_.\-@/])(?P<t>[A-Za-z][A-Za-z0-9]{2,}(?: [A-Z][A-Za-z0-9]*){0,2})"
        r"(?P<sp> ?)(?:交易所|平台|币|(?<= )(?:App|APP))(?![A-Za-z])",
        # a platform called CoinPro / an exchange named "BitKing"
        _EN_NAME_KEYWORD + r"(?:\s+(?i:is|was))?\s+(?i:called|named)\s+(?:the\s+)?" + _EN_NAME,
    )
)
_NAME_STOP_CHARS = re.compile(r"[的了让我你他她它们说是就都也还被把给和跟要在再又并但却骗称等,]")
_NAME_STOPWORDS = frozenset(
    """不知道 不清楚 未知 忘了 忘记了 不记得 没有 无 暂无 其他 什么 这个 那个 一个 大家 这家 那家 人家 自己
    unknown none n/a the a an this that it my our their his her them me us
    usdt btc eth trx usdc bnb 比特币 以太坊 泰达币 人民币 数字货币 虚拟币 虚拟货币
    app web3 defi nft ico otc crypto token coin dapp
    wechat weixin alipay telegram whatsapp tiktok douyin weibo android iphone ios apple google
    qq tg vx wx""".split()
)
_LEADING_ARTICLES = ("the ", "a ", "an ", "this ", "that ", "my ")
_MAX_CJK_NAME = 12


def _clean_token(token: str) -> str:
    """Cut an unquoted name where the sentence around it resumes."""
    stop = _NAME_STOP_CHARS.search(token)
    if stop:
        token = token[: stop.start()]
    words = token.split(" ")
    kept = [words[0]]
    for word in words[1:]:
        if kept[-1].endswith((".", ",")):
            break  # "CoinEx. They…": the sentence ended
        kept.append(word)
    return " ".join(kept).strip(" .-_")


def _name_value(m: re.Match[str]) -> tuple[int, str] | None:
    """Return (offset in text, cleaned name) for one name match, or None if implausible."""
    groups = m.groupdict()
    if groups.get("q") is not None:
        if _CLOSING[m["open"]] != m["close"]:
            return None
        start, name = m.start("q"), m["q"].strip()
    else:
        group = "t" if groups.get("t") is not None else "e"
        start, name = m.start(group), _clean_token(m[group])
        if groups.get("sp") and name.islower():
            return None  # "trading App": a lower-case word before a spaced keyword is prose
        for article in _LEADING_ARTICLES:
            if name.lower().startswith(article):
                start, name = start + len(article), name[len(article) :]
    cjk = sum(1 for c in name if "\u3400" <= c <= "\u9fff")
    if len(name) < 2 or cjk > _MAX_CJK_NAME or name.isdigit():
        return None
    if " ".join(name.lower().split()) in _NAME_STOPWORDS:
        return None
    return start, name


def _scan_names(scan: _Scan) -> None:
    """Find platform and person names introduced by keywords or quoted next to them."""
    for pattern in _NAME_PATTERNS:
        for m in pattern.finditer(scan.text):
            found = _name_value(m)
            if found is None:
                continue
            start, name = found
            end = start + len(name)
            if scan.free(start, end):
                scan.add(start, end, "name", " ".join(name.lower().split()))


_SCANNERS: tuple[Callable[[_Scan], None], ...] = (
    _scan_scheme_urls,
    _scan_emails,
    _scan_bare_hosts,
    _scan_evm,
    _scan_base58,
    _scan_bech32,
    _scan_wechat_tokens,
    _scan_keyword_ids,
    _scan_phones,
    _scan_names,
)
