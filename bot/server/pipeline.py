"""One inbound message's transaction: claim → state → handler → store the reply.

Runs inside the engine's batch transaction (bot/server/engine.py), which already holds the
write lock (BEGIN IMMEDIATE), so checking for the message and recording it cannot race
another process: everything here commits together or not at all.
"""

from __future__ import annotations

from db.connection import Database
from db.conversations import dump_state, load_state, save_state
from db.inbound import prune_claims, record, stored_reply
from db.nonces import prune_nonces
from db.reports import SqlStore
from handlers.context import Policy
from handlers.dispatcher import dispatch
from handlers.messages import Inbound


def process(
    db: Database, inbound: Inbound, now: int, default_lang: str, policy: Policy,
) -> str:
    """Apply one message exactly once and return the reply text ("" for no reply)."""
    stored = stored_reply(db, inbound.sender, inbound.dedup_key)
    if stored is not None:
        return stored  # WeChat's retry: answer it again, change nothing
    state, saved = load_state(db, inbound.sender)
    reply = dispatch(inbound, state, now, SqlStore(db), policy, default_lang)
    if (changed := dump_state(state)) != saved:  # dump_state is canonical: sorted keys
        save_state(db, inbound.sender, changed, now)
    record(db, inbound.sender, inbound.dedup_key, inbound.kind, now, reply.text)
    return reply.text


def housekeeping(db: Database, now: int, nonce_window: int) -> None:
    """Forget nonces outside the timestamp window and claims past their retention."""
    prune_nonces(db, now - nonce_window)
    prune_claims(db, now)
