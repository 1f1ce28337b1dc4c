"""A 64-bit perceptual hash (DCT), and the distance that says two images are copies.

pHash: the image in grey at 32 x 32, its 2-D DCT, and one bit per coefficient of the
8 x 8 lowest frequencies (less the DC term), set when above their median. Resizing,
recompression and light cropping move few bits; different images of the same layout
(two chats in one app) differ in 22-40 bits (DESIGN.md, measured): ≤ 8 means a copy.
Written over numpy (a 32 x 32 matrix product) rather than imagehash, which needs scipy.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and Pillow load only where images are read, not where hashes meet
    from PIL import Image

SIZE = 32
LOW = 8
NEAR = 8  # bits of 64: at most this many differ between copies of one image


@functools.cache
def _dct_matrix() -> Any:
    """The orthonormal DCT-II matrix of order SIZE."""
    import numpy as np

    n = np.arange(SIZE)
    matrix = np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / (2 * SIZE))
    matrix[0] *= 1 / np.sqrt(2)
    return matrix * np.sqrt(2 / SIZE)


def phash(image: Image.Image) -> int:
    """The image's perceptual hash as a signed 64-bit integer (SQLite's INTEGER)."""
    import numpy as np
    from PIL.Image import Resampling

    grey = np.asarray(image.convert("L").resize((SIZE, SIZE), Resampling.LANCZOS),
                      dtype=np.float64)
    dct = _dct_matrix()
    low = (dct @ grey @ dct.T)[:LOW, :LOW].flatten()[1:]  # without the DC term
    bits = low > np.median(low)
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    value <<= 1  # 63 coefficients: the last bit stays 0
    return value - (1 << 64) if value >= 1 << 63 else value


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


# Two hashes at most NEAR bits apart agree on at least one of NEAR + 1 bands (pigeonhole):
# comparing only hashes that share a band finds every near pair without all pairs.
_BANDS = NEAR + 1
# (shift, width) of each band: 64 bits in NEAR + 1 parts of 7 or 8 bits.
_BAND_SPANS = tuple((sum(64 // _BANDS + (i < 64 % _BANDS) for i in range(band)),
                     64 // _BANDS + (band < 64 % _BANDS)) for band in range(_BANDS))


def near_groups(hashes: list[int]) -> list[list[int]]:
    """Indexes of `hashes` grouped by near-identity (≤ NEAR bits, transitively), 2+ each."""
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for shift, width in _BAND_SPANS:
        buckets: dict[int, list[int]] = {}
        mask = (1 << width) - 1
        for i, value in enumerate(hashes):
            buckets.setdefault(((value & ((1 << 64) - 1)) >> shift) & mask, []).append(i)
        for members in buckets.values():
            for a_at, a in enumerate(members):
                for b in members[a_at + 1:]:
                    if root(a) != root(b) and distance(hashes[a], hashes[b]) <= NEAR:
                        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(hashes)):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]
