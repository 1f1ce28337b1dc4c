"""One inbound message's transaction: claim → state → handler → store the reply.

Runs inside the engine's batch transaction (bot/server/engine.py), which already holds the
write lock (BEGIN IMMEDIATE), so checking for the message and recording it cannot race
another process: everything here commits together or not at all.
"""

from __future__ import annotations

from bot.wechat.wire import MAX_REPLY_BYTES
from db import evidence_trash, feedback
from db.connection import Database
from db.conversations import (
    dump_state,
    load_state,
    save_state,
    sweep_drafts,
    sweep_stray_evidence,
)
from db.inbound import prune_claims, record, stored_reply
from db.nonces import prune_nonces
from db.reports import SqlStore
from handlers.context import Policy
from handlers.dispatcher import dispatch
from handlers.messages import Inbound
from handlers.notices import notice_text

# Drafts, stray evidence rows and unused files dealt with per housekeeping pass (a
# minute): enough for any real backlog, small enough not to hold up the messages.
SWEEP_PER_PASS = 200


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
    text = _with_notices(db, inbound, reply.text, now)
    record(db, inbound.sender, inbound.dedup_key, inbound.kind, now, text)
    return text


def _with_notices(db: Database, inbound: Inbound, reply: str, now: int) -> str:
    """The reply, with what waits for the reporter on top; their window opens.

    In the message's transaction: a notice counts as delivered only with the reply that
    carries it, which is stored (and sent again to WeChat's retries) like any reply. Only
    what fits in one reply rides on it; the rest waits for the next one or the sender.
    """
    if not inbound.opens_window:
        return reply  # an unsubscribe or a menu link shows no reply: nothing rides on it
    if inbound.contact:
        feedback.note_message(db, inbound.sender, inbound.contact, now)
    room = MAX_REPLY_BYTES - len(reply.encode())
    lines: list[str] = []
    taken = []
    for notice in feedback.waiting(db, inbound.sender, now):
        line = notice_text(notice.kind, notice.body, notice.receipt, notice.lang,
                           notice.created_at)
        room -= len(line.encode()) + 1  # and the line break
        if room < 0:
            break  # oldest first: a later notice never overtakes one left waiting
        lines.append(line)
        taken.append(notice)
    if not taken:
        return reply
    feedback.mark_in_reply(db, taken, now)
    return "\n".join([*lines, reply] if reply else lines)


def housekeeping(db: Database, now: int, nonce_window: int, draft_ttl: int
                 ) -> list[tuple[str, int]]:
    """Forget what is past its time: nonces, claims, contacts, abandoned drafts.

    Returns the evidence files no row uses any more, to remove once this commits.
    """
    prune_nonces(db, now - nonce_window)
    prune_claims(db, now)
    feedback.forget_expired(db, now)
    # A bounded share per pass: housekeeping runs between the messages' batches.
    sweep_drafts(db, now - draft_ttl, limit=SWEEP_PER_PASS)
    sweep_stray_evidence(db, now - draft_ttl, limit=SWEEP_PER_PASS)
    return evidence_trash.take(db, now - evidence_trash.GRACE_SECONDS, SWEEP_PER_PASS)
