"""The console's tables: accounts, sessions, login failures and the append-only audit log.

Decisions (is this password right, is this session alive, is this name throttled) are
made in triage/accounts.py; this module only reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from db.connection import write_transaction


@dataclass(frozen=True, slots=True)
class User:
    """A console account."""

    id: int
    name: str
    role: str
    password_hash: str
    totp_secret: str
    totp_last_step: int
    created_at: int
    credentials_at: int
    disabled_at: int | None


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser, and whose."""

    token_hash: str
    user: User
    csrf: str
    lang: str
    address: str
    created_at: int
    seen_at: int
    revoked_at: int | None


_USER = ("id, name, role, password_hash, totp_secret, totp_last_step, created_at, "
         "credentials_at, disabled_at")


def add_user(db: sqlite_utils.Database, name: str, role: str, password_hash: str,
             totp_secret: str, now: int) -> User:
    """Create an account; raises sqlite3.IntegrityError if the name is taken."""
    with write_transaction(db):
        db.execute("INSERT INTO users (name, role, password_hash, totp_secret, created_at, "
                   "credentials_at) VALUES (?, ?, ?, ?, ?, ?)",
                   (name, role, password_hash, totp_secret, now, now))
    user = find_user(db, name)
    assert user is not None
    return user


def find_user(db: sqlite_utils.Database, name: str) -> User | None:
    """The account with this name, or None."""
    row = db.execute(f"SELECT {_USER} FROM users WHERE name = ?", (name,)).fetchone()
    return None if row is None else User(*row)


def list_users(db: sqlite_utils.Database) -> list[User]:
    """Every account, by name."""
    return [User(*row) for row in db.execute(f"SELECT {_USER} FROM users ORDER BY name")]


def set_credentials(db: sqlite_utils.Database, user_id: int, password_hash: str,
                    totp_secret: str, now: int) -> None:
    """Replace a password and a TOTP secret; every session of the account ends."""
    with write_transaction(db):
        db.execute("UPDATE users SET password_hash = ?, totp_secret = ?, totp_last_step = 0, "
                   "credentials_at = ?, disabled_at = NULL WHERE id = ?",
                   (password_hash, totp_secret, now, user_id))
        db.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                   (now, user_id))


def disable_user(db: sqlite_utils.Database, user_id: int, now: int) -> None:
    """Disable an account and end its sessions."""
    with write_transaction(db):
        db.execute("UPDATE users SET disabled_at = ? WHERE id = ?", (now, user_id))
        db.execute("UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                   (now, user_id))


def use_totp_step(db: sqlite_utils.Database, user_id: int, step: int) -> bool:
    """Spend a TOTP time step: False if it (or a later one) was used already."""
    with write_transaction(db):
        return bool(db.execute("UPDATE users SET totp_last_step = ? "
                               "WHERE id = ? AND totp_last_step < ?",
                               (step, user_id, step)).rowcount)


def open_session(db: sqlite_utils.Database, token_hash: str, user_id: int, csrf: str,
                 lang: str, address: str, now: int) -> None:
    """Record a new session."""
    with write_transaction(db):
        db.execute("INSERT INTO sessions (token_hash, user_id, csrf, lang, address, created_at, "
                   "seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (token_hash, user_id, csrf, lang, address, now, now))


def find_session(db: sqlite_utils.Database, token_hash: str) -> Session | None:
    """The session with this token hash, with its account, or None."""
    row = db.execute(
        "SELECT s.token_hash, s.csrf, s.lang, s.address, s.created_at, s.seen_at, "
        f"s.revoked_at, {', '.join('u.' + c.strip() for c in _USER.split(','))} "
        "FROM sessions AS s JOIN users AS u ON u.id = s.user_id WHERE s.token_hash = ?",
        (token_hash,)).fetchone()
    if row is None:
        return None
    token, csrf, lang, address, created, seen, revoked, *user = row
    return Session(token, User(*user), csrf, lang, address, created, seen, revoked)


def touch_session(db: sqlite_utils.Database, token_hash: str, now: int) -> None:
    """Note that a session was used now (its idle timeout starts again)."""
    with write_transaction(db):
        db.execute("UPDATE sessions SET seen_at = ? WHERE token_hash = ?", (now, token_hash))


def set_session_lang(db: sqlite_utils.Database, token_hash: str, lang: str) -> None:
    """Switch a session's language."""
    with write_transaction(db):
        db.execute("UPDATE sessions SET lang = ? WHERE token_hash = ?", (lang, token_hash))


def revoke_session(db: sqlite_utils.Database, token_hash: str, now: int) -> None:
    """End a session (logout)."""
    with write_transaction(db):
        db.execute("UPDATE sessions SET revoked_at = ? WHERE token_hash = ? "
                   "AND revoked_at IS NULL", (now, token_hash))


def prune_sessions(db: sqlite_utils.Database, older_than: int) -> int:
    """Forget sessions that ended or started before a time, and old login failures."""
    with write_transaction(db):
        gone = db.execute("DELETE FROM sessions WHERE created_at < ? OR revoked_at < ?",
                          (older_than, older_than)).rowcount
        db.execute("DELETE FROM login_failures WHERE at < ?", (older_than,))
    return int(gone)


def open_attempt(db: sqlite_utils.Database, scopes: list[str], since: int, now: int
                 ) -> tuple[dict[str, int], list[int]]:
    """Failed logins per scope since a time, and this attempt counted as one more.

    One write transaction: parallel attempts are counted one after another, so a burst
    cannot all pass the count before any is recorded. Returns the rows to clear if the
    attempt succeeds or is refused unchecked.
    """
    with write_transaction(db):
        counts = {scope: int(db.execute("SELECT count(*) FROM login_failures WHERE scope = ? "
                                        "AND at >= ?", (scope, since)).fetchone()[0])
                  for scope in scopes}
        ids = [int(db.execute("INSERT INTO login_failures (scope, at) VALUES (?, ?) "
                              "RETURNING rowid", (scope, now)).fetchone()[0])
               for scope in scopes]
    return counts, ids


def clear_attempt(db: sqlite_utils.Database, ids: list[int]) -> None:
    """Take back an attempt's count: it succeeded, or was refused before any check."""
    with write_transaction(db):
        db.conn.executemany("DELETE FROM login_failures WHERE rowid = ?", [(i,) for i in ids])


def audit(db: sqlite_utils.Database, at: int, actor: str, action: str, target: str = "",
          detail: dict[str, Any] | str = "", address: str = "") -> None:
    """Append one entry to the audit log."""
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    with write_transaction(db):
        db.execute("INSERT INTO audit_log (at, actor, action, target, detail, address) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (at, actor, action, target, text, address))


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: int
    actor: str
    action: str
    target: str
    detail: str
    address: str


def audit_page(db: sqlite_utils.Database, before: int | None, limit: int) -> list[AuditEntry]:
    """Audit entries newest first, `limit` of them below id `before` (keyset pagination)."""
    rows = db.execute(
        "SELECT id, at, actor, action, target, detail, address FROM audit_log "
        "WHERE id < ? ORDER BY id DESC LIMIT ?", (before or (1 << 62), limit)).fetchall()
    return [AuditEntry(*row) for row in rows]
