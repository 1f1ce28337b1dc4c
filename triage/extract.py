"""Find the identifiers a tip mentions: links, domains, wallets, contact IDs, phones and names.

`extract(text)` is pure: no I/O beyond data bundled with its libraries (the public suffix
list is tldextract's snapshot, never fetched). It matches on the NFKC form of the text,
so full-width ＡＢＣ０１２ read as ASCII, and with ASCII-only boundaries, because
Python's \\b and \\w count Chinese as word characters while tips glue identifiers to
Chinese text and punctuation (「微信：abc123」, 地址TR7N…，).

Kinds and value forms (DESIGN.md, "Identifier kinds"):
  url               scheme and host lower-cased, host in A-labels; "http://" added to
                    www./path-bearing bare hosts, "https://" to bare t.me/mp.weixin links
  domain            registrable domain, lower-case A-labels; every URL/e-mail yields one
  evm btc tron      checksum-valid addresses; evm and bech32 lower-case, base58 as written
  wechat_id qq telegram   only next to their keywords (or a t.me link / wxid_); lower-case
  official_account  gh_ original ID, or the __biz of an mp.weixin.qq.com link
  phone             valid mobile/fixed-line, E.164 (CN by default, or 0086; others need +)
  email             lower-cased
  name              conservative; "公众号：币圈老王" gives a name (see triage.names)

Scanners run in the order below. Links, e-mail addresses and wallets claim their spans;
later scanners skip what overlaps a claim, so the digits of a URL are never a phone.
Wallets are looked for even inside links: an explorer URL names the address wanted.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

from triage import contacts, links, names, payments, wallets
from triage.textscan import TextScan
from triage.vocabulary import KINDS

__all__ = ["KINDS", "Identifier", "as_json", "extract"]


_SCANNERS: tuple[Callable[[TextScan], None], ...] = (
    payments.scan_payment_uris,
    links.scan_scheme_urls,
    links.scan_emails,
    links.scan_bare_hosts,
    wallets.scan_evm,
    wallets.scan_base58,
    wallets.scan_bech32,
    payments.scan_bank_cards,
    contacts.scan_wechat_tokens,
    contacts.scan_keyword_ids,
    contacts.scan_phones,
    names.scan_names,
)

_START = operator.itemgetter(0)  # of a Hit


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier: its kind, its normalised value and the original text it was read from."""

    kind: str
    value: str
    raw: str

    def __reduce__(self) -> tuple[type[Identifier], tuple[str, str, str]]:
        """Pickle as the constructor's arguments (it crosses to the engine): cheaper."""
        return Identifier, (self.kind, self.value, self.raw)


# Characters of a text searched for identifiers: a long import letter (its description's
# own limit), several times what a WeChat text message can carry. With the scan linear
# (TextScan's merged claims), this bounds a hostile text to tens of milliseconds.
MAX_TEXT = 20_000


def extract(text: str) -> list[Identifier]:
    """Return the identifiers in a tip, de-duplicated on (kind, value), in order of appearance.

    Only the first MAX_TEXT characters are searched.
    """
    scan = TextScan.of(text[:MAX_TEXT])
    for scanner in _SCANNERS:
        scanner(scan)
    hits = scan.hits
    if len(hits) > 1:
        hits.sort(key=_START)  # stable: a URL before its domain
    seen: set[tuple[str, str]] = set()
    found: list[Identifier] = []
    for start, end, kind, value in hits:
        if (kind, value) not in seen:
            seen.add((kind, value))
            found.append(Identifier(kind, value, scan.raw(start, end)))
    return found


def as_json(ids: list[Identifier]) -> list[dict[str, str]]:
    """Return identifiers as JSON-ready dicts with the keys kind, value and raw."""
    return [{"kind": i.kind, "value": i.value, "raw": i.raw} for i in ids]
