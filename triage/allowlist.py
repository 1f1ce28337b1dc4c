"""Tell whether an identifier is a legitimate service's (allowlist.txt), to keep it out of triage.

The list ships inside the package (triage/allowlist.txt, package data) so every machine,
including one that holds only a copy of the database, answers the same. Only the `domain`
kind is allowlisted: a URL or an account on qq.com still names something specific. It is
the one list of platforms: triage leaves their domains out, and a "who" answer neither
files nor echoes them (handlers.report.who_files: an article link names its official
account, not qq.com).
"""

from __future__ import annotations

import functools
from importlib import resources

from triage.hosts import split_host, to_ascii

ALLOWLIST_FILE = "allowlist.txt"


@functools.cache
def allowlisted_domains() -> frozenset[str]:
    """Return the registrable domains listed in the packaged allowlist."""
    text = resources.files("triage").joinpath(ALLOWLIST_FILE).read_text(encoding="utf-8")
    domains: set[str] = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            domains.add(entry.lower())
    return frozenset(domains)


def registrable(host: str) -> str | None:
    """Return the registrable domain (lower-case A-labels) of a host name, or None."""
    ascii_host = to_ascii(host.strip())
    if ascii_host is None:
        return None
    parts = split_host(ascii_host)
    return None if parts is None else parts[0]


def is_allowlisted(kind: str, value: str) -> bool:
    """Tell whether an identifier is a legitimate service's domain (only kind `domain`)."""
    if kind != "domain":
        return False
    domain = registrable(value)
    return domain is not None and domain in allowlisted_domains()
