"""Receipt codes: 10 Crockford base32 characters (50 random bits), shown as XXXXX-XXXXX."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH = 10
# What people mistype for what (Crockford's decoding rules).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_receipt(bits: int | None = None) -> str:
    """A fresh receipt from 50 bits of a CSPRNG (or from `bits`, for tests)."""
    value = secrets.randbits(5 * LENGTH) if bits is None else bits
    return "".join(ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(LENGTH)))


def normalise(typed: str) -> str | None:
    """The receipt a reporter typed (any case, hyphens and spaces optional), or None."""
    compact = "".join(typed.split()).replace("-", "").upper().translate(_READ_AS)
    if len(compact) != LENGTH or any(c not in ALPHABET for c in compact):
        return None
    return compact


def display(receipt: str) -> str:
    """How a receipt is shown: XXXXX-XXXXX."""
    return f"{receipt[:5]}-{receipt[5:]}"
