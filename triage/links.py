"""Find links, bare domains and e-mail addresses in a tip, with the domain each reveals.

- http(s):// links are URLs whatever their host (an IP address included).
- A host written without a scheme is a `domain`; it is also a `url` when it starts with
  "www.", carries a path ("abc.com/reg"), or is t.me / mp.weixin.qq.com. "http://"
  (https:// for those two) is prepended to make the value openable.
- Every URL and e-mail address also yields its registrable domain, lower-case A-labels.
- A t.me link yields the Telegram handle (not invite links: joinchat/…, +…); an
  mp.weixin.qq.com link with __biz= yields that official account's __biz, URL-decoded;
  an Alipay, UnionPay or WeChat group link its code (triage/payments.py).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from triage import hosts, payments
from triage.textscan import CJK, TextScan

# Characters of an internationalised label: ASCII, Latin/Greek/Cyrillic letters, CJK.
_IDN = "a-z0-9\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff" + CJK
_LABEL = rf"[{_IDN}][{_IDN}\-]*+"
_CJK_TLDS = "中国|中國|公司|网络|網絡|在线|商城|网店|集团|我爱你|香港|台湾|台灣|网址|游戏|企业|信息"
_TLD = rf"(?:xn--[a-z0-9\-]{{2,59}}|[a-z]{{2,24}}|{_CJK_TLDS})(?![a-z0-9_\-])(?!\.[a-z0-9])"
_HOST = rf"(?:{_LABEL}\.)+{_TLD}"
_IPV4 = r"(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
_PORT = r"(?P<port>(?::\d{1,5}(?!\d))?)"
_PATH = r"(?P<path>(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?)"

_SCHEME_URL = re.compile(
    rf"(?<![a-z0-9])(?P<scheme>https?://)(?P<host>{_HOST}|{_IPV4}){_PORT}{_PATH}", re.IGNORECASE
)
# A bare host starts where a run of label characters starts; Chinese text glued in front
# ("网址huobi-vip.com") is trimmed afterwards. Starting only at run starts keeps it linear.
_BARE_HOST = re.compile(rf"(?<![{_IDN}_.@/\-])(?P<host>{_HOST}){_PORT}{_PATH}", re.IGNORECASE)
_EMAIL = re.compile(
    rf"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9][a-z0-9._%+\-]{{0,63}})@(?P<host>{_HOST})",
    re.IGNORECASE,
)

# Every host has a dot followed by its top-level domain: most dots in tips end a
# sentence or sit in a number.
_DOT_TLD = re.compile(rf"\.(?:[a-z]|{_CJK_TLDS})", re.IGNORECASE)
_HOST_RUN = re.compile(rf"[{_IDN}\-.]*", re.IGNORECASE)  # what a host is made of

_CJK_RUN = re.compile(rf"[{CJK}]+")
# Words that commonly precede a Chinese-script domain and are not part of it.
_HOST_PREFIX_WORDS = re.compile(
    "请|去|到|在|用|上|是|为|叫|访问|打开|登录|登陆|注册|进入|输入|浏览器|网址|网站|域名|地址|官网|链接"
)
# Without word segmentation, a long Chinese first label is mostly the sentence before it.
_MAX_CJK_LABEL = 6
_TITLE_CASE_TLD = re.compile(r"[A-Z][a-z]")  # "money.It", "Mr.Li": a sentence, not a domain

_TRAILING_PUNCT = frozenset(".,;:!?'\"*([{<")
_BRACKETS = {")": "(", "]": "["}
# Full-width punctuation in the original ends a link even though NFKC made it ASCII:
# "https://abc.com/x（IP）" is a link followed by a parenthesis, not "/x(IP)".
_FULLWIDTH_STOPS = re.compile("[，；！？（）：［］｛｝＜＞＂＇]")

_TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "www.t.me", "telegram.dog"})
_TELEGRAM_PATH = re.compile(r"/(?:s/)?(?P<handle>[A-Za-z][A-Za-z0-9_]{4,31})(?=$|[/?#])")
_TELEGRAM_RESERVED = frozenset((
    "joinchat", "addstickers", "addemoji", "addtheme", "addlist", "setlanguage", "share",
    "proxy", "socks", "login", "confirmphone", "invoice", "boost", "contact",
))  # fmt: skip
_OFFICIAL_ACCOUNT_HOST = "mp.weixin.qq.com"
_BIZ_PARAM = re.compile(r"[?&]__biz=(?P<biz>[A-Za-z0-9%+/=_\-]+)")


def _trim_path(scan: TextScan, path: str, at: int) -> str:
    """Cut a path (found at offset `at`) where the sentence around it resumes."""
    if not path:
        return path
    stop = scan.first_original_in(at, at + len(path), _FULLWIDTH_STOPS)
    if stop is not None:
        path = path[: stop - at]
    while path:
        last = path[-1]
        unbalanced = last in _BRACKETS and path.count(last) > path.count(_BRACKETS[last])
        if last not in _TRAILING_PUNCT and not unbalanced:
            break
        path = path[:-1]
    return path


def _glued_prefix_length(host: str) -> int:
    """Return how many leading characters of a bare host are Chinese text glued to it."""
    if host[0] < "\u3400":  # most hosts: not a CJK character, so no Chinese run to cut
        return 0
    first = host.split(".", 1)[0]
    run = _CJK_RUN.match(first)
    if run is None:
        return 0
    if run.end() < len(first):
        return run.end()  # "网址huobi-vip.com": Chinese text, then an ASCII label
    cut = 0
    while (word := _HOST_PREFIX_WORDS.match(first, cut)) and word.end() < len(first):
        cut = word.end()  # "请访问币安.com" → "币安.com"
    return cut


def _bare_host_plausible(host: str, suffix: str) -> bool:
    """Tell whether a host written without a scheme is a website rather than a file or prose."""
    labels = host.split(".")
    tld = labels[-1]
    if suffix.rsplit(".", 1)[-1] in hosts.FILE_EXTENSION_TLDS:
        return False
    if len(tld) == 2 and _TITLE_CASE_TLD.fullmatch(tld):
        return False
    if not tld.isascii():
        return False  # "…亏了.公司说": a Chinese sentence typed with "." far more often than a site
    return labels[0].isascii() or len(labels[0]) <= _MAX_CJK_LABEL


def _add_link_parts(
    scan: TextScan, host: tuple[int, int], ascii_host: str, path: str, at: int
) -> None:
    """Record what a link's host and its path (at offset `at`) reveal: domain, handle, __biz."""
    split = hosts.split_host(ascii_host)
    if split is not None:
        scan.add(host[0], host[1], "domain", split[0], claim=False)
    if ascii_host in _TELEGRAM_HOSTS:
        handle = _TELEGRAM_PATH.match(path)
        if handle and handle["handle"].lower() not in _TELEGRAM_RESERVED:
            start, end = (at + i for i in handle.span("handle"))
            scan.add(start, end, "telegram", handle["handle"].lower(), claim=False)
    elif (code := payments.link_codes(ascii_host, path)) is not None:
        start, end, kind, value = code
        scan.add(at + start, at + end, kind, value, claim=False)
    elif ascii_host == _OFFICIAL_ACCOUNT_HOST:
        biz = _BIZ_PARAM.search(path)
        if biz:
            start, end = (at + i for i in biz.span("biz"))
            value = urllib.parse.unquote(biz["biz"])
            scan.add(start, end, "official_account", value, claim=False)


def _scheme_urls(text: str) -> Iterator[re.Match[str]]:
    """Yield what _SCHEME_URL.finditer would, searching only from near each "://".

    A match starts at most len("https") before its "://": the case-insensitive pattern
    gives the regex engine no first character to skip ahead to, so it would otherwise
    try every position of the text.
    """
    pos = 0
    while (colon := text.find("://", pos)) >= 0:
        m = _SCHEME_URL.search(text, max(pos, colon - len("https")))
        if m is None:
            return
        yield m
        pos = m.end()


def scan_scheme_urls(scan: TextScan) -> None:
    """Find http(s):// links."""
    for m in _scheme_urls(scan.text):
        ascii_host = hosts.to_ascii(m["host"])
        if ascii_host is None:
            continue
        path = _trim_path(scan, m["path"], m.start("path"))
        value = f"{m['scheme'].lower()}{ascii_host}{m['port']}{path}"
        scan.add(m.start(), m.start("path") + len(path), "url", value)
        _add_link_parts(scan, m.span("host"), ascii_host, path, m.start("path"))


def scan_emails(scan: TextScan) -> None:
    """Find e-mail addresses; each also yields its registrable domain."""
    if "@" not in scan.text:
        return
    for m in _EMAIL.finditer(scan.text):
        ascii_host = hosts.to_ascii(m["host"])
        if ascii_host is None or hosts.split_host(ascii_host) is None:
            continue
        scan.add(m.start(), m.end(), "email", f"{m['local'].lower()}@{ascii_host}")
        _add_link_parts(scan, m.span("host"), ascii_host, "", m.end())


def _bare_hosts(text: str) -> Iterator[re.Match[str]]:
    """Yield what _BARE_HOST.finditer would, trying only where a host could start.

    A host is a run of label characters and dots holding a dot before its top-level
    domain, and _BARE_HOST starts only where such a run starts (any later position
    follows a label character, a '-' or a '.'). So for each dot followed by a top-level
    domain, the one place to try is the start of its run, found by matching backwards
    on the reversed text; the regex engine, given no first character to skip ahead to,
    would otherwise try every position.
    """
    if "." not in text:
        return
    reverse, end, pos = text[::-1], len(text), 0
    while (dot := _DOT_TLD.search(text, pos)) is not None:
        run = _HOST_RUN.match(reverse, end - dot.start(), end - pos)
        assert run is not None  # "[…]*" matches anywhere
        run_start = end - run.end()
        m = _BARE_HOST.match(text, run_start)
        if m is None:
            pos = dot.start() + 1
            continue
        yield m
        pos = m.end()


def scan_bare_hosts(scan: TextScan) -> None:
    """Find hosts written without a scheme: www. links, t.me links and bare domains."""
    for m in _bare_hosts(scan.text):
        cut = _glued_prefix_length(m["host"])
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
            scan.claim(start, end)
        _add_link_parts(scan, (start, m.end("host")), ascii_host, path, m.start("path"))
