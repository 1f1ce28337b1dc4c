"""Read one picture: its QR codes and its text, and the identifiers in both.

The same extractor as chat text reads both. Recognised lines are read as one text
(joined by newlines), and once more glued line to line, for what a phone wraps: an
address or a card number split over two lines. From the glued reading only
self-checking kinds are kept (checksummed addresses, Luhn-valid cards), so two lines
that merely touch ("微信 abc" / "123 官网") never make an identifier of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from triage.extract import Identifier, extract
from triage.pictures.decode import open_image
from triage.pictures.phash import phash
from triage.pictures.qr import decode_qr

QR, OCR = "qr", "ocr"  # where an identifier was read: the `source` of each
# Kinds whose values check themselves, so gluing wrapped lines cannot invent one.
SELF_CHECKING = frozenset({"evm", "btc", "tron", "bank_card"})
MAX_TEXT = 20_000  # characters of recognised text kept (a screenshot holds a few hundred)


@dataclass(frozen=True, slots=True)
class Found:
    """An identifier read from a picture."""

    kind: str
    value: str
    raw: str
    source: str  # QR or OCR


@dataclass(frozen=True, slots=True)
class Reading:
    """What was read from one picture."""

    found: tuple[Found, ...]
    text: str  # recognised lines joined by newlines
    qr: tuple[str, ...]  # each QR code's text
    phash: int


def read_picture(data: bytes, *, max_bytes: int, max_pixels: int,
                 lines: Callable[[Image.Image], list[str]] | None) -> Reading:
    """Decode, hash and read an image; `lines` recognises text (None: QR codes only).

    Raises decode.Unreadable with a one-line reason for what is not a readable image.
    """
    image = open_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    codes = tuple(decode_qr(image))
    recognised = lines(image) if lines is not None else []
    text = "\n".join(recognised)[:MAX_TEXT]
    found: dict[tuple[str, str], Found] = {}
    for code in codes:
        _keep(found, extract(code), QR)
    _keep(found, extract(text), OCR)
    glued = "".join(recognised)[:MAX_TEXT]
    _keep(found, [i for i in extract(glued) if i.kind in SELF_CHECKING], OCR)
    return Reading(tuple(found.values()), text, codes, phash(image))


def _keep(found: dict[tuple[str, str], Found], ids: list[Identifier], source: str) -> None:
    for i in ids:
        found.setdefault((i.kind, i.value), Found(i.kind, i.value, i.raw, source))
