"""How the console shows values: times, receipts, sizes, defanged links, kinds grouped.

Pure functions the console's templates use as filters; reporter text is never marked safe
here or anywhere (the templates autoescape it).
"""

from __future__ import annotations

import re
import urllib.parse

from triage.times import iso, short
from triage.vocabulary import display_receipt

# Kinds shown first on the triage page: payment channels and wallets name who is paid.
MONEY_KINDS = ("wechat_pay", "alipay", "unionpay", "bank_card", "evm", "btc", "tron")

__all__ = ["MONEY_KINDS", "defang", "display_receipt", "human_size", "iso", "money_first",
           "short"]


def defang(text: str) -> str:
    """A link made inert for reading: hxxps://example[.]com/path (never a live link)."""
    parts = urllib.parse.urlsplit(text) if "://" in text else None
    if parts is None or not parts.netloc:
        return text.replace(".", "[.]") if re.fullmatch(r"[\w.-]+\.[a-z]{2,}", text) else text
    host = parts.netloc.replace(".", "[.]")
    rest = text.split(parts.netloc, 1)[1]
    scheme = {"http": "hxxp", "https": "hxxps"}.get(parts.scheme.lower(), parts.scheme)
    return f"{scheme}://{host}{rest}"


def human_size(size: int | None) -> str:
    """A file size for people: 12.3 KB."""
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return ""


def money_first(kinds: list[str]) -> list[str]:
    """Kinds with payment channels and wallets first."""
    return sorted(kinds, key=lambda k: (k not in MONEY_KINDS, kinds.index(k)))
