"""The words a reporter may type for each command: the contract's word first, then synonyms.

One home for every word list of the conversation: routes (handlers/router.py `word`) take
their words from here, and the README's conversation section lists them all (a test
checks). A typed message is compared after `fold` (NFKC, traditional → simplified, case),
the folding names get (triage/normalise.py), so 舉報, ＲＥＰＯＲＴ and Report all match.
Zh words set the reply language to Chinese, en words to English.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from triage.normalise import fold
from triage.vocabulary import TYPED_AROUND, normalise_receipt


@dataclass(frozen=True, slots=True)
class Words:
    """One command's words: Chinese and English, each list led by the contract's word."""

    zh: tuple[str, ...]
    en: tuple[str, ...]

    def language(self, typed: str) -> str | None:
        """The language `typed` (already folded) is a word of, or None if it is none of them."""
        if typed in self.zh:
            return "zh"
        return "en" if typed in self.en else None

    def all(self) -> tuple[str, ...]:
        """Every word, longest first (so 查询进度 is tried before 查询)."""
        return tuple(sorted((*self.zh, *self.en), key=len, reverse=True))


REPORT: Final = Words(("举报", "我要举报", "我想举报"), ("report",))
# 我的举报 is the menu button's own label: people type what they see.
STATUS: Final = Words(("查询", "进度", "查进度", "查询进度", "我的举报"), ("status", "my reports"))
HELP: Final = Words(("帮助", "说明", "使用说明", "怎么用"), ("help",))
CANCEL: Final = Words(("取消", "放弃", "取消举报", "不举报了"), ("cancel",))
# The summary says 「返回」修改: 修改 is what people then type.
BACK: Final = Words(("返回", "上一步", "修改"), ("back",))
SKIP: Final = Words(("跳过", "略过", "没有证据"), ("skip",))
DONE: Final = Words(("完成", "发完了", "就这些"), ("done", "finished"))
SUBMIT: Final = Words(("提交",), ("submit",))
# Said at the summary only (elsewhere 好的 or ok is an answer, or small talk). Nothing that
# doubts or asks: 嗯, 好吗, ok? are asked again (see report.confirming).
CONFIRM: Final = Words(
    ("确认", "确定", "确认提交", "好的", "好", "是", "是的", "对", "可以", "没问题"),
    ("yes", "ok", "okay", "confirm", "sure"),
)
ADD: Final = Words(("补充",), ("add",))
STOP: Final = Words(("退订",), ("stop", "unsubscribe"))

COMMANDS: Final = (REPORT, STATUS, HELP, CANCEL, BACK, SKIP, DONE, SUBMIT, CONFIRM, ADD, STOP)
# How far into a message a word reaches: the longest word and a separator. Only that far
# is normalised: on a 1,500-character description NFKC alone took 150 µs (measured here),
# more than parsing the message; OpenCC costs 2.5 µs a character, so traditional →
# simplified reads only as far as the longest Chinese word.
_REACH: Final = 1 + max(len(word) for words in COMMANDS for word in (*words.zh, *words.en))
_HEAD: Final = max(len(word) for words in COMMANDS for word in words.zh)

# Punctuation people add to a word on a phone keyboard (full-width forms fold to these).
TRAILING: Final = TYPED_AROUND + "~～"
# What may stand between a word and its argument: 查询 ABCDE-12345, 查询：ABCDE-12345.
SEPARATORS: Final = " :,、"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@dataclass(frozen=True, slots=True)
class Typed:
    """A text message as words see it: `folded` for matching, `plain` for arguments.

    Both have the same length, so a word matched in one cuts the other at the same place.
    """

    plain: str  # trimmed, NFKC as far as a word reaches, case kept
    folded: str  # `plain` folded as far as a word reaches

    @classmethod
    def of(cls, text: str) -> Typed:
        """Read a message's text for matching words."""
        raw = text.strip()
        plain = (unicodedata.normalize("NFKC", raw[:_REACH]) + raw[_REACH:]).strip(TRAILING)
        folded = (_same_length(fold, plain[:_HEAD])
                  + _same_length(str.casefold, plain[_HEAD:_REACH]) + plain[_REACH:])
        return cls(plain, folded)

    def match(self, words: Words, argument: bool) -> tuple[str, str] | None:
        """(language, argument) if the message is one of `words`, or starts with one.

        A word takes an argument after a separator; a Chinese word also takes a receipt
        glued on (查询H86X4-6X0Z0), nothing else: 举报人说… and 举报USDT骗局… are
        sentences, not 举报.
        """
        lang = words.language(self.folded)
        if lang is not None:
            return lang, ""
        if not argument:
            return None
        for word in words.all():
            if not self.folded.startswith(word):
                continue
            rest = self.plain[len(word):]
            after = rest[:1]  # never empty: a message that is just the word matched above
            if (after in SEPARATORS or after.isspace()
                    or (not word.isascii() and normalise_receipt(rest) is not None)):
                found = words.language(word)
                if found is not None:
                    return found, rest.lstrip(SEPARATORS).strip()
        return None


def _same_length(folding: Callable[[str], str], part: str) -> str:
    """`part` folded, or as it is when folding changes its length (ß → ss): kept unmatched."""
    folded = folding(part)
    return folded if len(folded) == len(part) else part


def script_language(text: str, identifiers: Callable[[], Iterable[str]]) -> str:
    """zh for Chinese characters, en for English words, "" for neither.

    Identifiers (`identifiers()` gives their text, asked only for text without Chinese)
    are no English: a Chinese reporter pasting huobi-vip.com is still answered in Chinese.
    """
    if _CJK.search(text):
        return "zh"
    for raw in identifiers():
        text = text.replace(raw, " ")
    return "en" if _LATIN_WORD.search(text) else ""
