"""Suggest names and domains that are possibly the same platform (火币 / Huobi / huobi-vip.com).

Suggestions are shown to investigators, scored 0-100, and never merged: two entities stay
two. Each name or domain is read as words in toneless pinyin (triage.normalise):
  name     its match-key words, Chinese read in pinyin: 「火币网」 → huobi, Huobi Pro → huobi
  domain   the registrable domain without its public suffix, split on '-', a Unicode
           label decoded first: huobi-vip.com → "huobi vip", 火币.com → huobi
and its key is those words joined ("huobivip"). A pair scores
  100  the same key: Huobi / huobi.com ("same key"), 火币 / Huobi ("same pinyin")
   95  the same words in another order: vip-huobi.cc / huobi-vip.com
   90  one key inside the other, as whole words (okx / okx-vip.com) or glued at the start
       or end (huobi / huobivip.cc, myhuobi.cc), when the shorter key has at least 4
       letters (3 as a whole word) and is at least a third of the longer one
  ratio  otherwise rapidfuzz's fuzz.ratio of the keys (utils.default_process-ed), for
       spellings one edit apart: binance / blnance 86, okx / okex 86, bybit / bybt 89
and is suggested at THRESHOLD (85) or above. Why not WRatio or token_set_ratio: WRatio
gives 85.5 to any two labels sharing one word when one is 1.5 times longer
("club-bi-560" / "club-xinghong-107"), and token_set_ratio 100 to any pair where one's
words are a subset, however generic; measured on 20,000 generated domains, that buried
the real leads under a quarter of a million suggestions.

Scale: no pair is compared unless it can score: identical keys and word orders come from
a dict; containment by looking up each entity's word runs, prefixes and suffixes among the
keys (linear); spellings by symmetric deletion: two keys one edit apart share a key with
one letter deleted, so only keys sharing one are compared. A key contained in, or a
deletion shared by, more than MAX_GROUP entities is a common word ("coin", "vip"), not a
brand, and yields nothing. Missed by design: spellings two or more edits apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain

import idna
from rapidfuzz import fuzz, utils

from triage.hosts import split_host, to_ascii
from triage.normalise import name_words, to_pinyin

THRESHOLD = 85.0
MAX_GROUP = 200
KINDS = ("name", "domain")
SAME_KEY, SAME_WORDS, CONTAINS = 100.0, 95.0, 90.0
_MIN_KEY = 3  # letters; a shorter key matches by chance
_MIN_GLUED = 4  # a glued prefix/suffix shorter than this is chance ("bit" in bitkeep)
_MAX_LENGTH_RATIO = 3  # a key inside one more than 3 times longer is a fragment

Entity = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """Two entities that are possibly the same platform, with a 0-100 score and why."""

    a: Entity
    b: Entity
    score: float
    why: str


@dataclass(frozen=True, slots=True)
class Reading:
    """An entity read for comparison: its folded key, pinyin key and pinyin words."""

    key: str
    pinyin: str
    words: tuple[str, ...]


def _domain_words(domain: str) -> tuple[str, ...]:
    """Return the words of a domain's registrable label, without its public suffix."""
    ascii_host = to_ascii(domain)
    parts = split_host(ascii_host) if ascii_host else None
    if parts is None:
        return ()
    registrable, suffix = parts
    label = registrable[: -len(suffix) - 1]
    if label.startswith("xn--"):
        try:
            label = idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            return ()
    return name_words(label)


def read(entity: Entity) -> Reading | None:
    """Read a name or domain into its keys and pinyin words; None if not comparable."""
    kind, value = entity
    if kind == "name":
        words = name_words(value)
    elif kind == "domain":
        words = _domain_words(value)
    else:
        return None
    pinyin = tuple(w for w in utils.default_process(" ".join(map(to_pinyin, words))).split())
    if len("".join(pinyin)) < _MIN_KEY:
        return None
    return Reading("".join(words), "".join(pinyin), pinyin)


def score(a: Reading, b: Reading) -> tuple[float, str] | None:
    """Return (score, why) for two readings, or None below the threshold."""
    if a.key == b.key:
        return SAME_KEY, f"same key ({a.key})"
    if a.pinyin == b.pinyin:
        return SAME_KEY, f"same pinyin ({a.pinyin})"
    if sorted(a.words) == sorted(b.words):
        return SAME_WORDS, f"same words ({' '.join(a.words)} ~ {' '.join(b.words)})"
    short, long = sorted((a, b), key=lambda r: (len(r.pinyin), r.pinyin))
    if short.pinyin in _inner_keys(long) and len(long.pinyin) <= _MAX_LENGTH_RATIO * len(
            short.pinyin):
        return CONTAINS, f"{short.pinyin} inside {' '.join(long.words)}"
    ratio = fuzz.ratio(a.pinyin, b.pinyin, score_cutoff=THRESHOLD)
    return (round(ratio, 1), f"spelling ({a.pinyin} ~ {b.pinyin})") if ratio else None


def _inner_keys(r: Reading) -> set[str]:
    """Return the shorter keys that count as inside this one: word runs, glued ends."""
    runs = {"".join(r.words[i:j]) for i in range(len(r.words))
            for j in range(i + 1, len(r.words) + 1)}
    ends = {r.pinyin[:n] for n in range(_MIN_GLUED, len(r.pinyin))}
    ends |= {r.pinyin[-n:] for n in range(_MIN_GLUED, len(r.pinyin))}
    return {k for k in runs | ends if _MIN_KEY <= len(k) < len(r.pinyin)}


def _deletions(key: str) -> set[str]:
    """Return the key and its one-letter deletions (none for keys of 3 letters)."""
    if len(key) <= _MIN_KEY:
        return {key}
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def _candidates(readings: list[Reading]) -> set[tuple[int, int]]:
    """Return the pairs of reading indexes (lower first) that may score, and no others."""
    by_pinyin: dict[str, list[int]] = defaultdict(list)
    by_words: dict[tuple[str, ...], list[int]] = defaultdict(list)
    by_deletion: dict[str, list[int]] = defaultdict(list)
    for index, r in enumerate(readings):
        by_pinyin[r.pinyin].append(index)
        by_words[tuple(sorted(r.words))].append(index)
        for variant in _deletions(r.pinyin):
            by_deletion[variant].append(index)
    pairs: set[tuple[int, int]] = set()
    groups = chain(by_pinyin.values(),  # every pair scores 100, however many
                   (g for g in by_words.values() if len(g) <= MAX_GROUP),
                   (g for g in by_deletion.values() if len(g) <= MAX_GROUP))
    for group in groups:
        pairs.update((i, j) for n, i in enumerate(group) for j in group[n + 1 :] if i != j)
    # Containment: each key's word runs and glued ends looked up among the other keys.
    containing: dict[str, list[int]] = defaultdict(list)
    for index, r in enumerate(readings):
        for inner in _inner_keys(r):
            if inner in by_pinyin:
                containing[inner].append(index)
    for inner, outers in containing.items():
        if len(outers) <= MAX_GROUP:
            pairs.update((min(i, o), max(i, o)) for i in by_pinyin[inner] for o in outers)
    return pairs


def similar(entities: list[Entity]) -> list[Suggestion]:
    """Suggest pairs of names/domains that are possibly the same platform, best first."""
    unique = sorted({e for e in entities if e[0] in KINDS})
    readable = [(entity, r) for entity in unique if (r := read(entity)) is not None]
    readings = [r for _, r in readable]
    found: dict[tuple[int, int], tuple[float, str]] = {}
    for i, j in _candidates(readings):
        if result := score(readings[i], readings[j]):
            found[i, j] = result
    suggestions = [Suggestion(readable[i][0], readable[j][0], s, why)
                   for (i, j), (s, why) in found.items()]
    return sorted(suggestions, key=lambda s: (-s.score, s.a, s.b))
