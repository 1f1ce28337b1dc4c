"""One inbound message's transaction: nonce → claim → state → handler → store the reply.

Runs inside the writer's batch (db/writer.py), so everything here commits together or
not at all, and the first statement is a write that takes the lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from bot.errors import Forbidden
from db.conversations import load_state, save_state
from db.inbound import claim, prune_claims, remember_reply
from db.nonces import admit_nonce, prune_nonces
from handlers.dispatcher import dispatch
from handlers.messages import Inbound


@dataclass(frozen=True, slots=True)
class Stamp:
    """What identifies one delivery of a request: its timestamp, nonce and body digest."""

    timestamp: int
    nonce: str
    body_sha256: bytes


def process(
    db: sqlite_utils.Database, inbound: Inbound, stamp: Stamp, now: int, default_lang: str
) -> str:
    """Apply one message exactly once and return the reply text ("" for no reply)."""
    if not admit_nonce(db, stamp.timestamp, stamp.nonce, stamp.body_sha256):
        raise Forbidden("nonce reused with a different body")
    stored = claim(db, inbound.sender, inbound.dedup_key, inbound.kind, now)
    if stored is not None:
        return stored  # WeChat's retry: answer it again, change nothing
    state = load_state(db, inbound.sender)
    before = json.dumps(state, sort_keys=True)
    reply = dispatch(inbound, state, now, default_lang)
    if json.dumps(state, sort_keys=True) != before:
        save_state(db, inbound.sender, state, now)
    remember_reply(db, inbound.sender, inbound.dedup_key, reply.text)
    return reply.text


def housekeeping(db: sqlite_utils.Database, now: int, nonce_window: int) -> None:
    """Forget nonces outside the timestamp window and claims past their retention."""
    prune_nonces(db, now - nonce_window)
    prune_claims(db, now)
