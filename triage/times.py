"""Times as investigators read and type them: ISO 8601, Beijing time unless an offset is given.

Stored times are epoch seconds. Shown times carry their offset ("2024-05-01T09:30:00+08:00")
so a copy pasted elsewhere stays unambiguous; days (`--since 2024-05-01`, the chart's bars)
are Beijing days, the reporters' and investigators' own calendar.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
UTC_OFFSET = 8 * 3600  # seconds east of UTC
DAY = 86400


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


def iso(timestamp: int) -> str:
    """Show epoch seconds as ISO 8601 in Beijing time, with its offset."""
    return datetime.fromtimestamp(timestamp, BEIJING).isoformat(timespec="seconds")


def short(timestamp: int) -> str:
    """Show epoch seconds as a compact Beijing time for tables (2024-05-01 09:30)."""
    return datetime.fromtimestamp(timestamp, BEIJING).strftime("%Y-%m-%d %H:%M")


def day_number(timestamp: int) -> int:
    """Return the Beijing day a moment falls on, as days since 1970-01-01."""
    return (timestamp + UTC_OFFSET) // DAY


def day_label(day: int) -> str:
    """Show a day number (day_number) as YYYY-MM-DD."""
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
