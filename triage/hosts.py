"""Turn host names found in tips into IDNA A-labels and registrable domains, offline.

The public suffix list is tldextract's bundled snapshot: the extractor must never
fetch anything, and investigators need the same answer on every machine.
"""

from __future__ import annotations

import functools
import re

import idna
import tldextract

# File extensions that are also top-level domains. A bare "合约.zip" or "run.sh" in a
# tip is an attachment name far more often than a website; with a scheme it is a URL.
FILE_EXTENSION_TLDS = frozenset({"zip", "mov", "py", "sh", "md", "rs", "ps", "silk", "java", "et"})

_ASCII_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


@functools.cache
def _suffix_extractor() -> tldextract.TLDExtract:
    """Build the offline extractor once, on first use (loading the snapshot takes ~0.1 s)."""
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


@functools.lru_cache(maxsize=65536)  # "www", "com", "cc"…: most labels were seen before
def _ascii_label_ok(label: str) -> bool:
    """Tell whether one lower-case ASCII label is a well-formed LDH or A-label."""
    if not _ASCII_LABEL.fullmatch(label):
        return False
    if label[2:4] == "--" and not label.startswith("xn--"):
        return False  # RFC 5891: "ab--" prefixes are reserved for A-labels
    if label.startswith("xn--"):
        try:
            idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            return False
    return True


@functools.lru_cache(maxsize=65536)
def to_ascii(host: str) -> str | None:
    """Return the lower-case A-label form of a host name, or None if it is not valid IDNA."""
    host = host.lower().rstrip(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    if len(host) > 253:
        return None
    for label in host.split("."):  # a loop, not all(…): cheaper for a handful of labels
        if not _ascii_label_ok(label):
            return None
    return host


@functools.lru_cache(maxsize=65536)
def split_host(ascii_host: str) -> tuple[str, str] | None:
    """Return (registrable domain, public suffix) of an A-label host, or None if it has none."""
    parts = _suffix_extractor()(ascii_host)
    if not parts.suffix or not parts.domain:
        return None
    return f"{parts.domain}.{parts.suffix}", parts.suffix
