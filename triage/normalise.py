"""Reduce a platform name to the keys it is matched on: a name key and a pinyin key.

Reporters write one platform many ways: 火幣網, 火币, 「火币Pro」, Huobi Global, ＨＵＯＢＩ.
`match_key` folds those spellings together:
  1. NFKC (full-width ＨＵＯＢＩ → HUOBI), traditional → simplified Chinese (OpenCC 't2s',
     whose dictionaries ship inside the package: no network), case-fold;
  2. split into words: runs of letters/digits, cut where Chinese meets Latin script
     ("火币Pro" → 火币 | pro), everything else (spaces, punctuation, symbols) dropped;
  3. drop generic trailing words that say what kind of thing the name is, not which one:
     whole Latin words (exchange, global, pro, app…) and Chinese endings (交易所, 平台,
     官网, 国际, 网…), repeatedly, but never below two characters: 火币网 → 火币 while
     币网 stays 币网, and "CoinPro" stays coinpro (only a separate word "Pro" goes);
  4. join the words without spaces.
`pinyin_key` is the match key read in toneless pinyin (火币 → huobi), so a Chinese name
meets its romanised brand (Huobi, huobi-vip.com's label). Pinyin has homophones (货币 is
also huobi): a pinyin match is a lead for an investigator, never a verdict.
"""

from __future__ import annotations

import functools
import unicodedata

import opencc
from pypinyin import Style, lazy_pinyin

# Latin words that only say "a platform": dropped when they are a separate trailing word.
_LATIN_SUFFIXES = frozenset({
    "exchange", "global", "official", "international", "intl", "pro", "app", "platform",
})
# Chinese endings, longest first so 交易平台 goes before 平台 is tried. 网 (火币网 is
# Huobi's old Chinese name) is safe only because of the two-character floor.
_CJK_SUFFIXES = (
    "官方网站", "交易平台", "国际版", "国际站", "全球站", "中国站", "交易所", "平台", "官网",
    "官方", "国际", "全球", "中国", "网",
)  # fmt: skip
_MIN_KEY = 2  # a key shorter than this is no longer a name


def _is_cjk(char: str) -> bool:
    """Tell whether a character is a CJK ideograph (unified block or extension A)."""
    return "\u3400" <= char <= "\u4dbf" or "\u4e00" <= char <= "\u9fff"


@functools.cache
def _t2s() -> opencc.OpenCC:
    """Build the traditional→simplified converter once (it loads its dictionaries)."""
    return opencc.OpenCC("t2s")


def fold(text: str) -> str:
    """Return text in NFKC, simplified Chinese and case-folded."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # most names and every A-label domain skip the dictionaries
        text = str(_t2s().convert(text))
    return text.casefold()


def _split(text: str) -> list[str]:
    """Split folded text into runs of letters/digits, cutting where CJK meets other script."""
    words: list[str] = []
    current = ""
    for char in text:
        if unicodedata.category(char)[0] not in "LN":
            if current:
                words.append(current)
            current = ""
        elif current and _is_cjk(char) != _is_cjk(current[-1]):
            words.append(current)
            current = char
        else:
            current += char
    if current:
        words.append(current)
    return words


def _strip_suffixes(words: list[str]) -> list[str]:
    """Drop generic trailing words and Chinese endings while the name stays long enough."""
    words = list(words)
    while words:
        last = words[-1]
        rest = sum(len(w) for w in words[:-1])
        if last in _LATIN_SUFFIXES and rest >= _MIN_KEY:
            words.pop()
            continue
        ending = next((s for s in _CJK_SUFFIXES if _is_cjk(last[0]) and last.endswith(s)), "")
        if ending and rest + len(last) - len(ending) >= _MIN_KEY:
            shorter = last[: -len(ending)]
            words[-1:] = [shorter] if shorter else []
            continue
        break
    return words


@functools.lru_cache(maxsize=65536)
def name_words(name: str) -> tuple[str, ...]:
    """Return the words of a name after folding and dropping generic endings."""
    return tuple(_strip_suffixes(_split(fold(name))))


def match_key(name: str) -> str:
    """Return the key names are matched on: folded, generic endings dropped, no spaces."""
    return "".join(name_words(name))


def to_pinyin(word: str) -> str:
    """Return a word in toneless pinyin, syllables joined (Latin text passes unchanged)."""
    if word.isascii():
        return word
    return "".join(lazy_pinyin(word, style=Style.NORMAL, errors="default"))


def pinyin_key(name: str) -> str:
    """Return the match key read in toneless pinyin: 火币 → huobi, Huobi → huobi."""
    return to_pinyin(match_key(name))
