"""Tips from other channels (hotline, e-mail, letters), read the way the conversation reads.

`tipline import` rows (DESIGN.md): `description` (required), `who`, `target_type` (a
code or its number 1-6), `received_at` (ISO 8601; Beijing time without an offset),
`reporter`, `channel`. What `tipline export --format jsonl` writes reads back too: a row
may carry its `receipt` (kept; a receipt already filed is skipped, never duplicated),
`status`, `assignee`, `lang` and `identifiers`; the columns it derives (evidence_count,
updated_at) are ignored. Any other column is an error naming the line: a misspelt
`recieved_at` silently dropped would lose what the row said.

A row's identifiers are what the chat would have filed for the same "who" answer and
description (`identifiers`): the same extraction, the same rule that a bare answer
naming something stands as a name, names stored under their match key. Unlike the chat,
nothing is trimmed to a phone screen's limits (letters run long).

`read_row` validates one row and raises RowError naming the line; pure, no I/O.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.draft import Triple
from handlers.report import filed_identifiers, who_files
from triage.extract import Identifier, extract
from triage.times import BadTime, parse_time
from triage.vocabulary import KINDS, STATUSES, TARGET_TYPES, normalise_receipt

FIELDS = ("description", "who", "target_type", "received_at", "reporter", "channel")
# What an export's row carries besides FIELDS: read back, or (derived) recomputed.
EXPORT_FIELDS = ("receipt", "status", "assignee", "lang", "identifiers")
DERIVED_FIELDS = ("evidence_count", "updated_at")
KNOWN_FIELDS = FIELDS + EXPORT_FIELDS + DERIVED_FIELDS
# Lines one CSV field may span. A letter's paragraphs fit well inside; a field running
# longer is most likely a quote left open, swallowing the rows below it into one.
MAX_FIELD_LINES = 100
DEFAULT_CHANNEL = "import"
MAX_DESCRIPTION = 20_000  # characters: a long letter, transcribed
MAX_WHO = 2_000
MAX_SHORT = 200  # reporter, assignee
_CHANNEL = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# What Tipline stores for a reporter: 32 hex digits (bot.pseudonym).
PSEUDONYM = re.compile(r"[0-9a-f]{32}")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


class RowError(ValueError):
    """A row that cannot be imported; the message names the line and the field."""


@dataclass(frozen=True, slots=True)
class Tip:
    """One validated import row, ready to be identified and filed."""

    line: int
    description: str
    who: str
    target_type: str
    received_at: int | None  # None: the time of the import
    reporter: str | None  # as given (raw identity or, with a receipt, a pseudonym)
    channel: str
    receipt: str | None = None
    status: str = "new"
    assignee: str | None = None
    listed: tuple[Triple, ...] = ()  # identifiers the row itself lists (an export's)
    given_lang: str | None = None  # an export's (the conversation's language)

    @property
    def keeps_pseudonym(self) -> bool:
        """Whether `reporter` is a Tipline pseudonym from an export, stored as it is."""
        return (self.receipt is not None and self.reporter is not None
                and PSEUDONYM.fullmatch(self.reporter) is not None)

    @property
    def lang(self) -> str:
        """The language given, else the description's: zh if it has Chinese characters."""
        if self.given_lang is not None:
            return self.given_lang
        return "zh" if _CJK.search(self.description) else "en"


def known_fields() -> str:
    """The fields a row may have, for an error message."""
    return (f"{', '.join(FIELDS)}; from an export also "
            f"{', '.join(EXPORT_FIELDS + DERIVED_FIELDS)}")


def read_row(fields: Mapping[str, Any], line: int, channel: str = DEFAULT_CHANNEL) -> Tip:
    """Validate one row (a JSON object or a CSV record) into a Tip, or raise RowError."""
    for name in fields:
        if name not in KNOWN_FIELDS:
            raise RowError(f"line {line}: unknown field {name!r} (fields: {known_fields()})")

    def text(name: str, limit: int) -> str:
        value = fields.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise RowError(f"line {line}: {name} must be text, got {_json_type(value)}")
        if len(value) > limit:
            raise RowError(f"line {line}: {name} is longer than {limit:,} characters")
        return value.strip()

    description = text("description", MAX_DESCRIPTION)
    if not description:
        raise RowError(f"line {line}: description is required (what happened)")
    received = text("received_at", 64)
    try:
        received_at = parse_time(received) if received else None
    except BadTime as error:
        raise RowError(f"line {line}: received_at: {error}") from None
    given_channel = text("channel", 64).lower() or channel
    if not _CHANNEL.fullmatch(given_channel):
        raise RowError(f"line {line}: channel {given_channel!r} must be a short lower-case "
                       "word (letters, digits, - or _), e.g. hotline")
    receipt = None
    if typed := text("receipt", 32):
        receipt = normalise_receipt(typed)
        if receipt is None:
            raise RowError(f"line {line}: receipt {typed!r} is not 10 letters or digits "
                           "like ABCDE-12345")
    status = text("status", 32).lower() or "new"
    lang = text("lang", 8).lower() or None
    if lang not in (None, "zh", "en"):
        raise RowError(f"line {line}: lang {lang!r} is not zh or en")
    if status not in STATUSES:
        raise RowError(f"line {line}: status {status!r} is not one of {', '.join(STATUSES)}")
    return Tip(
        line=line,
        description=description,
        who=text("who", MAX_WHO),
        target_type=_target_type(fields.get("target_type"), line),
        received_at=received_at,
        reporter=text("reporter", MAX_SHORT) or None,
        channel=given_channel,
        receipt=receipt,
        status=status,
        assignee=text("assignee", MAX_SHORT) or None,
        listed=_listed(fields.get("identifiers"), line),
        given_lang=lang,
    )


def _target_type(value: Any, line: int) -> str:
    """A target type given as its code or its number 1-6 (absent: other)."""
    if value is None or value == "":
        return "other"
    if isinstance(value, str | int) and not isinstance(value, bool):
        code = unicodedata.normalize("NFKC", str(value)).strip().lower()
        if code.isdigit() and 1 <= int(code) <= len(TARGET_TYPES):
            return TARGET_TYPES[int(code) - 1]
        if code in TARGET_TYPES:
            return code
    raise RowError(f"line {line}: target_type {value!r} is not 1-6 or one of "
                   f"{', '.join(TARGET_TYPES)}")


def _listed(value: Any, line: int) -> tuple[Triple, ...]:
    """Identifiers a row lists: an export's [{kind, value, raw}] or "kind:value; …"."""
    if value is None or value == "":
        return ()
    found: list[Triple] = []
    if isinstance(value, str):
        for item in value.split("; "):
            kind, colon, rest = item.strip().partition(":")
            if colon and kind in KINDS and rest:
                found.append((kind, rest, rest))
        return tuple(found)
    if isinstance(value, list):
        for item in value:
            if (isinstance(item, dict) and item.get("kind") in KINDS
                    and isinstance(item.get("value"), str) and item["value"]):
                raw = item.get("raw")
                found.append((item["kind"], item["value"],
                              raw if isinstance(raw, str) else item["value"]))
            else:
                raise RowError(f"line {line}: identifiers must be a list of "
                               "{kind, value, raw} objects")
        return tuple(found)
    raise RowError(f"line {line}: identifiers must be a list or \"kind:value; …\" text")


def _json_type(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


# --- identifiers, as the chat files them ------------------------------------------------



def who_identifiers(who: str) -> list[Identifier]:
    """What the chat's "who" step recognises in an answer (handlers.report.read_who)."""
    return who_files(who, extract(who))


@functools.lru_cache(maxsize=65536)
def _who_triples(who: str) -> tuple[Triple, ...]:
    # Tips about one platform repeat its "who" text word for word: a hit skips the scan
    # and the rule for bare names, and builds no Identifier only to take it apart again.
    return tuple((i.kind, i.value, i.raw) for i in who_identifiers(who))


@functools.lru_cache(maxsize=8192)
def _description_triples(text: str) -> tuple[Triple, ...]:
    # Descriptions are mostly distinct; a small cache catches forwarded scam texts.
    return tuple((i.kind, i.value, i.raw) for i in extract(text))


def identifiers(who: str, description: str, listed: tuple[Triple, ...] = ()
                ) -> tuple[Triple, ...]:
    """The (kind, value, raw) a report of this who/description is filed with, as in the chat.

    Identifiers a row lists (an export's, which may include what the reporter's text
    evidence named) are added after the extracted ones.
    """
    return filed_identifiers(_who_triples(who), _description_triples(description), listed)
