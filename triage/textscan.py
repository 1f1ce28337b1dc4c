"""Hold one tip's normalised text while the extraction scanners record what they find in it.

Scanners match on the NFKC form (full-width ＡＢＣ０１２ become ASCII) with zero-width
characters removed; every hit keeps its offsets so the original spelling can be quoted
back as `raw`. A scanner may *claim* a span so that later scanners leave it alone.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from typing import NamedTuple

# Character class body for CJK ideographs (extension A and the unified block).
CJK = "\u3400-\u4dbf\u4e00-\u9fff"

# Zero-width characters are dropped: scam ads insert them to dodge keyword filters.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad")


# Full-width ASCII and the ideographic space map one-to-one under NFKC. Chinese tips are
# full of "，：（）", so the per-character walk below is spared whenever swapping just
# those characters gives NFKC text: then it *is* NFKC(text), since they decompose to
# exactly their ASCII twins. One C-speed scan finds the full-width and zero-width
# characters present; each distinct one is swapped with str.replace (a regex callback
# per character cost more than all the rest of normalising).
_ONE_TO_ONE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPECIAL = re.compile("[\uff01-\uff5e\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TO_ASCII = {chr(k): chr(v) for k, v in _ONE_TO_ONE.items()}


class Normalised(NamedTuple):  # a tuple: made for every tip, and cheaper than a dataclass
    """NFKC text and how its offsets relate to the original's."""

    text: str
    # origin[i] is the original index of text[i]; None when offsets did not move
    # (aligned) or could not be followed (composition across characters: not aligned).
    origin: list[int] | None
    aligned: bool


def normalise(text: str) -> Normalised:
    """Return the NFKC text without zero-width characters, with its map to the original."""
    if text.isascii():  # ASCII is its own NFKC form, and holds no zero-width character
        return Normalised(text, None, aligned=True)
    special = set(_SPECIAL.findall(text))
    if special.isdisjoint(_INVISIBLE):
        swapped = text
        for char in special:
            swapped = swapped.replace(char, _TO_ASCII[char])
        if unicodedata.is_normalized("NFKC", swapped):
            return Normalised(swapped, None, aligned=True)
        normal = unicodedata.normalize("NFKC", text)
        if normal == text or normal == text.translate(_ONE_TO_ONE):
            return Normalised(normal, None, aligned=True)
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
        # Composition across characters (combining marks): rare, and never inside an
        # identifier; raw then quotes the NFKC text instead of the original.
        return Normalised(unicodedata.normalize("NFKC", joined), None, aligned=False)
    return Normalised(joined, origin, aligned=False)


def holds_any(text: str, pieces: tuple[str, ...]) -> bool:
    """Tell whether any of the pieces occurs in text: a guard's cheapest form.

    A substring search is a fraction of a regex search's cost; a loop, not any(…),
    because the generator cost more than the searches.
    """
    for piece in pieces:  # noqa: SIM110
        if piece in text:
            return True
    return False


class Hit(NamedTuple):
    """An identifier found at [start, end) of the normalised text."""

    start: int
    end: int
    kind: str
    value: str


class TextScan:
    """The normalised text of one tip and what the scanners found in it so far."""

    __slots__ = ("_ends", "_starts", "hits", "lower", "normalised", "original", "text")

    def __init__(self, original: str, normalised: Normalised) -> None:
        self.original = original
        self.normalised = normalised
        self.text = normalised.text  # what the scanners match on (an attribute: read often)
        # The text lower-cased, for guards: cheap tests that rule a scanner out. A guard
        # is a substring search, or a case-sensitive regex of literals, on this text (a
        # case-insensitive regex cannot skip ahead by its first characters and costs as
        # much as the scan it guards); whatever a scanner's pattern matches, its guard
        # must match here. Every tip needs it, so it is made at once.
        self.lower = self.text.lower()
        self.hits: list[Hit] = []
        # The claimed spans, merged into disjoint intervals sorted by start: a look-up is
        # one bisection, so a text naming 60,000 domains scans in linear time (it was
        # quadratic: 33.5 s for 829 KB, every hit checked against every claim).
        self._starts: list[int] = []
        self._ends: list[int] = []

    @classmethod
    def of(cls, text: str) -> TextScan:
        """Start a scan of one tip."""
        return cls(text, normalise(text))

    def _original_index(self, index: int) -> int | None:
        """Return the original index behind a normalised one, if it can be followed."""
        if self.normalised.origin is not None:
            return self.normalised.origin[index]
        return index if self.normalised.aligned else None

    def free(self, start: int, end: int) -> bool:
        """Tell whether no earlier scanner claimed any part of [start, end)."""
        starts = self._starts
        if not starts:
            return True
        i = bisect.bisect_left(starts, end)  # the claims starting before `end`…
        return i == 0 or self._ends[i - 1] <= start  # …the last of which ends by `start`

    def claim(self, start: int, end: int) -> None:
        """Keep later scanners out of [start, end)."""
        starts, ends = self._starts, self._ends
        if not starts or start > ends[-1]:  # the usual case: claims come in text order
            starts.append(start)
            ends.append(end)
            return
        lo = bisect.bisect_left(ends, start)  # the first claim ending at or after `start`
        hi = bisect.bisect_right(starts, end)  # the claims starting at or before `end`
        if lo < hi:  # overlapping or touching: merge them into one
            start, end = min(start, starts[lo]), max(end, ends[hi - 1])
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]

    def add(self, start: int, end: int, kind: str, value: str, claim: bool = True) -> None:
        """Record an identifier found at [start, end), claiming the span unless told not to."""
        self.hits.append(Hit(start, end, kind, value))
        if claim:
            self.claim(start, end)

    def first_original_in(self, start: int, end: int, chars: re.Pattern[str]) -> int | None:
        """Return the first index in [start, end) whose original character matches chars.

        `chars` is a one-character class; indices whose original cannot be followed never
        match. Aligned text is searched at C speed, not character by character.
        """
        origin = self.normalised.origin
        if origin is None:
            if not self.normalised.aligned:
                return None
            found = chars.search(self.original, start, end)
            return None if found is None else found.start()
        for index in range(start, end):
            if chars.match(self.original[origin[index]]):
                return index
        return None

    def raw(self, start: int, end: int) -> str:
        """Return the original text behind [start, end) of the normalised text."""
        if self.normalised.origin is None and self.normalised.aligned:
            return self.original[start:end]
        first, last = self._original_index(start), self._original_index(end - 1)
        if first is None or last is None:
            return self.text[start:end]
        return self.original[first : last + 1]
