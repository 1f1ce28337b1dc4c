"""The triage score: how much an entity (a domain, a wallet, a name…) deserves a look now.

    score = 10 × log2(1 + reporters) × 0.5 ^ (days since last seen / 30) × type weight
            × 1.5 if it matches the watchlist

  reporters    distinct reporters (pseudonyms) who named it: one person sending ten tips
               is one voice, and the log keeps a huge platform from drowning the rest
               (1 reporter → 10, 3 → 20, 7 → 30, 1,023 → 100)
  recency      halves every HALF_LIFE_DAYS (30) after the last report naming it
  type weight  the highest weight among the target types of its reports: payment
               channels 1.2 (the gap banks cannot see), exchange and ICO 1.0, app and
               WeChat account 0.9, other 0.7
  watchlist    ×1.5 for a platform regulators already track

The same formula runs in SQL (db/summary.py ranks a million reports without moving them
into Python) and here (tests check the two agree). Pure: `now` is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

SCALE = 10.0
HALF_LIFE_DAYS = 30.0
WATCHLIST_BONUS = 1.5
TYPE_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "payment": 1.2, "exchange": 1.0, "ico": 1.0, "app": 0.9, "wechat_account": 0.9,
    "other": 0.7,
})
DEFAULT_WEIGHT = 0.7  # a target type this version does not know


def recency(last_seen: int, now: int) -> float:
    """Return the decay factor for an entity last seen at `last_seen` (1 = today)."""
    age_days = max(0, now - last_seen) / 86400
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def base_score(reporters: int, last_seen: int, weight: float, now: int) -> float:
    """Return the score before the watchlist bonus."""
    return SCALE * math.log2(1 + reporters) * recency(last_seen, now) * weight


def score(reporters: int, last_seen: int, weight: float, watchlisted: bool, now: int) -> float:
    """Return an entity's score (see the module docstring)."""
    bonus = WATCHLIST_BONUS if watchlisted else 1.0
    return base_score(reporters, last_seen, weight, now) * bonus


def weight_of(target_type: str) -> float:
    """Return the weight of one target type."""
    return TYPE_WEIGHTS.get(target_type, DEFAULT_WEIGHT)

