"""The domain's words, each spelled once: target types, statuses, identifier kinds, receipts.

Every other module (the conversation, the CLI, the exports, the SQL builders) takes its
words from here, so adding a status or a kind is one change. Pure, and cheap to import:
the CLI reads its option choices from here without loading the extractor.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Final

# What is reported, in the order the conversation numbers them (1-6).
TARGET_TYPES: Final = ("exchange", "ico", "wechat_account", "payment", "app", "other")

# A case's life: new → reviewing → escalated, or dismissed / closed.
STATUSES: Final = ("new", "reviewing", "escalated", "dismissed", "closed")

# Who uses the console: investigators work cases; admins also see the audit log and export.
ROLES: Final = ("investigator", "admin")

# Identifier kinds the extractor finds, in the order a report lists them.
KINDS: Final = (
    "url",
    "domain",
    "evm",
    "btc",
    "tron",
    "wechat_pay",
    "alipay",
    "unionpay",
    "bank_card",
    "wechat_group",
    "wechat_id",
    "official_account",
    "qq",
    "phone",
    "telegram",
    "email",
    "name",
)

# --- receipts: 10 Crockford base32 characters (50 random bits), shown as XXXXX-XXXXX ---

RECEIPT_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
RECEIPT_LENGTH: Final = 10
# What people mistype for what (Crockford's decoding rules), and the dashes phones type
# for the hyphen (full-width ones NFKC makes a hyphen).
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1", "\u2010": "-", "\u2011": "-",
                          "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-"})
# Punctuation a receipt (or a command word: handlers/words.py) may be sent with:
# "ABCDE-12345。".
TYPED_AROUND: Final = "。.!！?？ "
# A receipt as the bot shows it: five, a hyphen (or dash), five.
_SHOWN = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")


def new_receipt(bits: int | None = None) -> str:
    """A fresh receipt from 50 bits of a CSPRNG (or from `bits`, for tests)."""
    value = secrets.randbits(5 * RECEIPT_LENGTH) if bits is None else bits
    return "".join(RECEIPT_ALPHABET[(value >> (5 * i)) & 31]
                   for i in reversed(range(RECEIPT_LENGTH)))


def normalise_receipt(typed: str) -> str | None:
    """The receipt a reporter typed (any case or width, hyphens and spaces optional), or None."""
    if len(typed) > 4 * RECEIPT_LENGTH:  # room for spaces; a sentence is no receipt
        return None
    plain = unicodedata.normalize("NFKC", typed).strip(TYPED_AROUND).upper().translate(_READ_AS)
    compact = "".join(plain.split()).replace("-", "")
    if len(compact) != RECEIPT_LENGTH or any(c not in RECEIPT_ALPHABET for c in compact):
        return None
    return compact


def shown_receipt(typed: str) -> str | None:
    """The receipt if `typed` is one written as shown (XXXXX-XXXXX, any case), or None.

    Only that form counts on its own: a bare ten-letter word might be a WeChat ID.
    """
    if len(typed) > 2 * RECEIPT_LENGTH:  # every text is asked: a description skips NFKC
        return None
    plain = unicodedata.normalize("NFKC", typed).strip(TYPED_AROUND).upper().translate(_READ_AS)
    return normalise_receipt(plain) if _SHOWN.fullmatch(plain) else None


def display_receipt(receipt: str) -> str:
    """How a receipt is shown: XXXXX-XXXXX."""
    return f"{receipt[:5]}-{receipt[5:]}"
