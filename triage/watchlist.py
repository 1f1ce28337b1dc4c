"""Read a watchlist CSV into validated entries, and say which terms an identifier is looked up by.

The CSV (DESIGN.md, `tipline watchlist import`): a header with the columns name, aliases,
domains and addresses (more columns are ignored), UTF-8 with or without a BOM; the three
list columns hold items separated by ';' (or the full-width '；'). Each entry becomes
terms, the rows db/watchlist.py stores and matches on:
  name, pinyin   match_key / pinyin_key of the name and of every alias (triage.normalise)
  domain         registrable domain, lower-case A-labels ("https://www.Binance.com/zh" →
                 binance.com); a domain on the allowlist of legitimate services is refused,
                 since it would flag every report that mentions it
  evm btc tron   classified and validated by the extractor's checksum validators, in the
                 extractor's value form, so a stored address equals an extracted one
The aliases as written are kept beside the entry, not among its terms (nothing looks
them up), for `tipline watchlist list`.
Everything is validated before anything is stored; the first problem is a WatchlistError
whose message names the line. `Listed` turns an entry back into the four columns
(`tipline watchlist list`: a table that never cuts, JSON, or a CSV `parse_csv` reads).
Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from triage import wallets
from triage.allowlist import is_allowlisted, registrable
from triage.exports import shown_width
from triage.inert import inert
from triage.normalise import match_key, pinyin_key

COLUMNS = ("name", "aliases", "domains", "addresses")
NAME_KINDS = ("name", "pinyin")
ADDRESS_KINDS = ("evm", "btc", "tron")
_MIN_NAME_KEY = 2  # one letter would match every one-letter name


class WatchlistError(Exception):
    """The CSV cannot be imported; the message names the line."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One watchlist platform: its name, the CSV line it came from, and its terms."""

    name: str
    line: int
    terms: tuple[tuple[str, str], ...]
    aliases: tuple[str, ...] = ()  # as written, for the listing


def classify_address(address: str) -> tuple[str, str] | None:
    """Return (kind, value) of a checksum-valid wallet address, in extract()'s form, else None."""
    if wallets.is_evm(address):
        return "evm", address.lower()
    if wallets.is_btc_bech32(address):
        return "btc", address.lower()
    if wallets.is_btc_base58(address):
        return "btc", address
    if wallets.is_tron(address):
        return "tron", address
    return None


def domain_of(text: str) -> str | None:
    """Return the registrable domain of a host name or URL, or None if it has none."""
    text = text.strip()
    host = urlsplit(text if "://" in text else f"//{text}").hostname
    return registrable(host) if host else None


def _items(cell: str) -> list[str]:
    """Split a list cell on ';' (ASCII or full-width), dropping blanks."""
    return [item.strip() for item in cell.replace("；", ";").split(";") if item.strip()]


def _name_terms(text: str, line: int) -> list[tuple[str, str]]:
    """Return the name and pinyin terms of a name or alias."""
    key = match_key(text)
    if len(key) < _MIN_NAME_KEY:
        raise WatchlistError(f"line {line}: name {text!r} is too short to match on")
    return [("name", key), ("pinyin", pinyin_key(text))]


def entry_terms(name: str, aliases: list[str], domains: list[str], addresses: list[str],
                line: int) -> tuple[tuple[str, str], ...]:
    """Return the de-duplicated terms of one row, or raise WatchlistError naming the line."""
    terms: list[tuple[str, str]] = []
    for text in (name, *aliases):
        terms += _name_terms(text, line)
    for text in domains:
        domain = domain_of(text)
        if domain is None:
            raise WatchlistError(f"line {line}: {text!r} is not a domain name")
        if is_allowlisted("domain", domain):
            raise WatchlistError(
                f"line {line}: {domain} is on the allowlist of legitimate services"
            )
        terms.append(("domain", domain))
    for text in addresses:
        address = classify_address(text)
        if address is None:
            raise WatchlistError(
                f"line {line}: {text!r} is not a valid BTC, EVM or TRON address "
                "(wrong length, characters or checksum)"
            )
        terms.append(address)
    return tuple(dict.fromkeys(terms))


def parse_csv(data: bytes) -> list[Entry]:
    """Parse and validate a whole watchlist CSV; raise WatchlistError on the first problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise WatchlistError(f"line {line}: not UTF-8 text (save the file as UTF-8)") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise WatchlistError(
            f"the file is empty: expected the header {','.join(COLUMNS)}"
        ) from None
    except csv.Error as error:
        raise WatchlistError(f"line 1: {error}") from None
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise WatchlistError(
            f"line 1: missing column(s) {', '.join(missing)}: the header must name "
            f"{','.join(COLUMNS)}"
        )
    where = {column: header.index(column) for column in COLUMNS}
    entries: list[Entry] = []
    first_line: dict[str, int] = {}
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise WatchlistError(f"line {reader.line_num}: {error}") from None
        line = reader.line_num
        cells = {column: row[i].strip() if i < len(row) else "" for column, i in where.items()}
        if not any(cells.values()):
            continue  # a blank line, or a spreadsheet's empty trailing row
        name = cells["name"]
        if not name:
            raise WatchlistError(f"line {line}: the name is empty")
        if name in first_line:
            raise WatchlistError(
                f"line {line}: {name!r} is already on line {first_line[name]} "
                "(put its aliases, domains and addresses on one row)"
            )
        first_line[name] = line
        aliases = _items(cells["aliases"])
        terms = entry_terms(name, aliases, _items(cells["domains"]),
                            _items(cells["addresses"]), line)
        entries.append(Entry(name, line, terms, tuple(aliases)))
    return entries


def lookup_terms(kind: str, value: str) -> list[tuple[str, str]]:
    """Return the terms an identifier is looked up by in the watchlist, best first."""
    if kind == "name":
        key = match_key(value)
        if len(key) < _MIN_NAME_KEY:
            return []
        return list(dict.fromkeys([("name", key), ("pinyin", pinyin_key(value))]))
    if kind in ("domain", "url"):
        domain = domain_of(value)
        return [("domain", domain)] if domain else []
    if kind == "email":
        domain = registrable(value.rpartition("@")[2])
        return [("domain", domain)] if domain else []
    if kind in ADDRESS_KINDS:
        address = classify_address(value.strip())
        return [address] if address else []
    return []


# --- listing --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Listed:
    """One watchlist entry as `tipline watchlist list` shows it: the CSV's four columns."""

    name: str
    aliases: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)  # registrable: what matches
    addresses: list[str] = field(default_factory=list)  # in the extractor's form

    @classmethod
    def of(cls, name: str, written: Sequence[str] | None, terms: Iterable[tuple[str, str]]
           ) -> Listed:
        """The entry with its aliases as written (None: not kept) and its stored terms."""
        terms = list(terms)
        if written is not None:
            aliases = list(written)
        else:  # imported before aliases were kept as written: their match keys
            own = match_key(name)
            aliases = sorted({v for k, v in terms if k == "name" and v != own})
        return cls(name, aliases,
                   sorted(v for k, v in terms if k == "domain"),
                   [v for kind in ADDRESS_KINDS for k, v in sorted(terms) if k == kind])

    def cells(self) -> tuple[list[str], ...]:
        """The four columns, a list of items each."""
        return [self.name], self.aliases, self.domains, self.addresses


def listing_csv(entries: Sequence[Listed]) -> str:
    """The entries as a CSV `parse_csv` reads back: a BOM for spreadsheets, CRLF."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(["; ".join(items) for items in entry.cells()])
    return "\ufeff" + text.getvalue()


def listing_table(entries: Sequence[Listed]) -> str:
    """The entries as a plain table, each item on its own line, nothing ever cut.

    Columns are as wide as their widest item (a Chinese character counts two): a long
    address stays whole, and a terminal narrower than the table wraps lines, not values.
    """
    rows = [tuple([name] for name in COLUMNS),
            *(tuple([inert(item) for item in items] for items in entry.cells())
              for entry in entries)]
    widths = [max(shown_width(item) for row in rows for item in row[i] or [""])
              for i in range(len(COLUMNS))]
    lines: list[str] = []
    for row in rows:
        for n in range(max(len(items) for items in row)):
            cells = [items[n] if n < len(items) else "" for items in row]
            line = "  ".join(cell + " " * (width - shown_width(cell))
                             for cell, width in zip(cells, widths, strict=True))
            lines.append(line.rstrip())
    return "".join(line + "\n" for line in lines)
