"""Times as investigators read and type them: ISO 8601, Beijing time unless an offset is given.

Stored times are epoch seconds. Shown and exported times carry their offset
("2024-05-01T09:30:00+08:00"), so a copy read elsewhere stays exact and imports back to the
same second; days (`--since 2024-05-01`, the chart's bars) are Beijing days, the reporters'
and investigators' own calendar.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
UTC_OFFSET = 8 * 3600  # seconds east of UTC
DAY = 86400
ZONE = "+08:00"  # what `iso` writes after the seconds
_RELATIVE = re.compile(r"(\d{1,5})([dh])")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


class BadTime(ValueError):
    """A date or time that cannot be read; the message says what is accepted."""


def parse_time(text: str) -> int:
    """Read YYYY-MM-DD or ISO 8601 (Beijing time when no offset is given) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadTime(
            f"bad date {text!r}: use YYYY-MM-DD or ISO 8601, e.g. 2024-05-01 or "
            "2024-05-01T09:30:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return int(moment.timestamp())


def parse_bound(text: str, now: int, *, end: bool = False) -> int:
    """Read a --since/--until value: a date, an ISO 8601 time, or "7d"/"12h" before now.

    A bare date as an end bound (`end=True`) means the end of that Beijing day, so
    `--until 2024-05-31` includes the 31st. Bounds are [since, until).
    """
    text = text.strip()
    relative = _RELATIVE.fullmatch(text)
    if relative:
        number, unit = int(relative[1]), relative[2]
        return now - number * (DAY if unit == "d" else 3600)
    moment = parse_time(text)
    if end and _DATE_ONLY.fullmatch(text):
        return moment + DAY
    return moment


def iso(timestamp: int) -> str:
    """Show epoch seconds as ISO 8601 in Beijing time, with its offset."""
    return datetime.fromtimestamp(timestamp, BEIJING).isoformat(timespec="seconds")


def file_stamp(timestamp: float) -> str:
    """Show epoch seconds as a Beijing time for file names, with offset: 20240501-093000+0800."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y%m%d-%H%M%S%z")


def log_stamp(timestamp: float) -> str:
    """Show epoch seconds as a Beijing time for log lines, to the millisecond, with its offset."""
    return datetime.fromtimestamp(timestamp, BEIJING).isoformat(sep=" ", timespec="milliseconds")


def short(timestamp: int) -> str:
    """Show epoch seconds as a compact Beijing time for tables (2024-05-01 09:30)."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M")


def day_number(timestamp: int) -> int:
    """Return the Beijing day a moment falls on, as days since 1970-01-01."""
    return (timestamp + UTC_OFFSET) // DAY


def day_label(day: int) -> str:
    """Show a day number (day_number) as YYYY-MM-DD."""
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
