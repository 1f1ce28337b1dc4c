"""Feedback to reporters: their sealed contact, the outbox, and questions awaiting an answer.

Outbox rows are made by triggers on report_history (migration 0013), in the transaction
of the change itself. A sender claims due rows under a lease and settles each once:
`sent` (a customer-service or template message), `delivered in reply` (at the top of the
reply to the reporter's next message), `superseded` (a newer status replaced it) or
`failed: <reason>`. Nothing here sees an OpenID in the clear: contacts hold it sealed.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from db.connection import write_transaction

PENDING, SENT, IN_REPLY = "pending", "sent", "delivered in reply"
WINDOW_SECONDS = 48 * 3600  # customer-service messages are allowed this long after a message
WINDOW_MESSAGES = 5  # and at most this many in one window
KEEP_SECONDS = 30 * 86400  # a contact outlives the reporter's last open report this long


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell a reporter."""

    id: int
    report_id: int
    receipt: str
    lang: str
    kind: str  # "status" or "question"
    body: str  # the status, or the question's text
    created_at: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Contact:
    """How a reporter can be reached now."""

    reporter: str
    sealed_openid: bytes | None
    last_message_at: int
    window_sent: int
    stopped: bool
    refused: bool


_NOTICE = ("o.id, o.report_id, r.receipt, r.lang, o.kind, o.body, o.created_at, o.attempts")


def note_message(db: sqlite_utils.Database, reporter: str, sealed: bytes, now: int) -> None:
    """A reporter wrote: their window opens, and their contact is kept while it is needed.

    Runs in the message's own transaction, after its handler (a report just filed counts).
    """
    keep = bool(sealed) and _needs_contact(db, reporter)
    db.execute(
        "INSERT INTO contacts (reporter, sealed_openid, last_message_at, window_sent) "
        "VALUES (?, ?, ?, 0) ON CONFLICT (reporter) DO UPDATE SET "
        "last_message_at = excluded.last_message_at, window_sent = 0, "
        "sealed_openid = CASE WHEN ? AND stopped_at IS NULL AND refused_at IS NULL "
        "  THEN excluded.sealed_openid "
        "  WHEN keep_until > excluded.last_message_at THEN sealed_openid END, "
        "keep_until = CASE WHEN ? THEN NULL ELSE keep_until END",
        (reporter, sealed if keep else None, now, keep, keep))


def _needs_contact(db: sqlite_utils.Database, reporter: str) -> bool:
    """Whether the reporter has a report still open or a question pending."""
    return db.execute(
        "SELECT 1 FROM reports WHERE reporter = ? AND status NOT IN ('dismissed', 'closed') "
        "UNION ALL SELECT 1 FROM reports AS r JOIN questions AS q ON q.report_id = r.id "
        "WHERE r.reporter = ? AND q.answered_at IS NULL LIMIT 1",
        (reporter, reporter)).fetchone() is not None


def contact(db: sqlite_utils.Database, reporter: str) -> Contact | None:
    """The reporter's contact, or None."""
    row = db.execute("SELECT reporter, sealed_openid, last_message_at, window_sent, "
                     "stopped_at IS NOT NULL, refused_at IS NOT NULL FROM contacts "
                     "WHERE reporter = ?", (reporter,)).fetchone()
    return None if row is None else Contact(row[0], row[1], row[2], row[3], bool(row[4]),
                                            bool(row[5]))


def stop(db: sqlite_utils.Database, reporter: str, now: int) -> None:
    """退订: no more pushes, and the sealed OpenID goes (queries still work)."""
    db.execute(
        "INSERT INTO contacts (reporter, last_message_at, stopped_at) VALUES (?, ?, ?) "
        "ON CONFLICT (reporter) DO UPDATE SET stopped_at = excluded.stopped_at, "
        "sealed_openid = NULL", (reporter, now, now))


def consent(db: sqlite_utils.Database, reporter: str, accepted: bool, now: int) -> None:
    """A subscribe-message popup's answer: a refusal stops pushes, an acceptance allows them."""
    db.execute(
        "INSERT INTO contacts (reporter, last_message_at, refused_at) VALUES (?, ?, ?) "
        "ON CONFLICT (reporter) DO UPDATE SET refused_at = excluded.refused_at",
        (reporter, now, None if accepted else now))


def refused(db: sqlite_utils.Database, reporter: str, now: int) -> None:
    """WeChat says the reporter refuses messages (43101): stop pushing to them."""
    with write_transaction(db):
        db.execute("UPDATE contacts SET refused_at = ?, sealed_openid = NULL "
                   "WHERE reporter = ?", (now, reporter))


def count_send(db: sqlite_utils.Database, reporter: str) -> None:
    """One more customer-service message used in the reporter's window."""
    with write_transaction(db):
        db.execute("UPDATE contacts SET window_sent = window_sent + 1 WHERE reporter = ?",
                   (reporter,))


def window_used(db: sqlite_utils.Database, reporter: str) -> None:
    """WeChat says the window's messages are used up (45047) or it closed (45015)."""
    with write_transaction(db):
        db.execute("UPDATE contacts SET window_sent = ? WHERE reporter = ?",
                   (WINDOW_MESSAGES, reporter))


def waiting(db: sqlite_utils.Database, reporter: str, now: int) -> list[Notice]:
    """What waits for the reporter, oldest first; rows a sender holds right now are left to it."""
    return [Notice(*row) for row in db.execute(
        f"SELECT {_NOTICE} FROM outbox AS o JOIN reports AS r ON r.id = o.report_id "
        "WHERE o.report_id IN (SELECT id FROM reports WHERE reporter = ?) "
        "AND o.state = 'pending' AND o.claimed_until <= ? ORDER BY o.id",
        (reporter, now)).fetchall()]


def mark_in_reply(db: sqlite_utils.Database, notices: list[Notice], now: int) -> None:
    """These notices ride on the reply being made: delivered with it.

    Runs in the message's own transaction: if the reply is not stored, neither is this.
    """
    db.conn.executemany("UPDATE outbox SET state = ?, via = 'reply', settled_at = ? "
                        "WHERE id = ?", [(IN_REPLY, now, n.id) for n in notices])


def claim(db: sqlite_utils.Database, worker: str, now: int, lease: int, limit: int
          ) -> list[tuple[Notice, str]]:
    """Take due notices no one holds, for `lease` seconds: (notice, reporter) pairs."""
    with write_transaction(db):
        ids = [row[0] for row in db.execute(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ?, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= ? "
            "  AND claimed_until <= ? ORDER BY due_at, id LIMIT ?) RETURNING id",
            (worker, now + lease, now, now, limit)).fetchall()]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = db.execute(
            f"SELECT {_NOTICE}, r.reporter FROM outbox AS o "
            f"JOIN reports AS r ON r.id = o.report_id WHERE o.id IN ({marks}) ORDER BY o.id",
            ids).fetchall()
    return [(Notice(*row[:-1]), row[-1]) for row in rows]


def settle(db: sqlite_utils.Database, notice: Notice, worker: str, state: str, via: str,
           now: int, error: str | None = None) -> bool:
    """Close a claimed notice; False if it was no longer ours (a reply took it meanwhile)."""
    with write_transaction(db):
        return bool(db.execute(
            "UPDATE outbox SET state = ?, via = ?, settled_at = ?, last_error = ?, "
            "claimed_by = NULL, claimed_until = 0 WHERE id = ? AND claimed_by = ? "
            "AND state = 'pending'", (state, via, now, error, notice.id, worker)).rowcount)


def leave_for_reply(db: sqlite_utils.Database, notice: Notice, worker: str, why: str) -> None:
    """No push can reach the reporter now: the notice waits for their next message."""
    with write_transaction(db):
        db.execute("UPDATE outbox SET due_at = 1 << 62, claimed_by = NULL, claimed_until = 0, "
                   "last_error = ? WHERE id = ? AND claimed_by = ?", (why, notice.id, worker))


def retry_later(db: sqlite_utils.Database, notice: Notice, worker: str, due_at: int,
                error: str) -> None:
    """Give a notice back, due again at `due_at`."""
    with write_transaction(db):
        db.execute("UPDATE outbox SET due_at = ?, claimed_by = NULL, claimed_until = 0, "
                   "last_error = ? WHERE id = ? AND claimed_by = ?",
                   (due_at, error, notice.id, worker))


def release(db: sqlite_utils.Database, worker: str | None = None) -> None:
    """Give back what `worker` holds (everything when None)."""
    where, params = ("AND claimed_by = ?", (worker,)) if worker else ("", ())
    with write_transaction(db):
        db.execute("UPDATE outbox SET claimed_by = NULL, claimed_until = 0 "
                   f"WHERE state = 'pending' {where}", params)


def pending_question(db: sqlite_utils.Database, reporter: str) -> str | None:
    """The receipt of the reporter's report with a question awaiting an answer, if any."""
    row = db.execute(
        "SELECT r.receipt FROM reports AS r JOIN questions AS q ON q.report_id = r.id "
        "WHERE r.reporter = ? AND q.answered_at IS NULL ORDER BY q.id DESC LIMIT 1",
        (reporter,)).fetchone()
    return None if row is None else str(row[0])


def answered(db: sqlite_utils.Database, report_id: int, now: int) -> None:
    """The reporter finished answering the report's questions."""
    db.execute("UPDATE questions SET answered_at = ? WHERE report_id = ? "
               "AND answered_at IS NULL", (now, report_id))


def forget_expired(db: sqlite_utils.Database, now: int) -> int:
    """Drop sealed OpenIDs no longer needed (the engine's housekeeping batch, once a minute).

    Past their 30 days; or kept for a report that is gone (a purge deletes an open report
    without closing it, so no 30 days were ever set) and with nothing else open or asked.
    """
    return int(db.execute(
        "UPDATE contacts SET sealed_openid = NULL WHERE sealed_openid IS NOT NULL "
        "AND (keep_until < ? OR (keep_until IS NULL AND NOT EXISTS ("
        "  SELECT 1 FROM reports WHERE reports.reporter = contacts.reporter "
        "  AND status NOT IN ('dismissed', 'closed')) AND NOT EXISTS ("
        "  SELECT 1 FROM reports AS r JOIN questions AS q ON q.report_id = r.id "
        "  WHERE r.reporter = contacts.reporter AND q.answered_at IS NULL)))",
        (now,)).rowcount)


def deliveries(db: sqlite_utils.Database, report_id: int
               ) -> list[tuple[str, str, int, str, str | None, int, int | None, str | None]]:
    """Every notice of a report and its delivery state, oldest first."""
    return [tuple(row) for row in db.execute(
        "SELECT kind, body, created_at, state, via, attempts, settled_at, last_error "
        "FROM outbox WHERE report_id = ? ORDER BY id", (report_id,))]
