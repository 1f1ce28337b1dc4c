"""Console accounts: passwords (argon2id), TOTP codes, session lifetimes, login throttling.

The rules only; db/console.py stores what they decide on. Every time is passed in.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from db.console import Session

MIN_PASSWORD = 12  # characters
IDLE_SECONDS = 30 * 60  # a session unused this long ends
ABSOLUTE_SECONDS = 12 * 3600  # and none lasts longer than a working day
TOTP_DIGITS, TOTP_PERIOD = 6, 30
TOTP_WINDOW = 1  # steps either side of now: a phone's clock may be 30 s off
ISSUER = "Tipline"
# Failed logins allowed per 15 minutes, per account name (known or not) and per address.
THROTTLE_WINDOW = 15 * 60
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_ADDRESS = 20


class AccountError(ValueError):
    """A value an account cannot take; the message is one line for the admin."""


@functools.cache
def _hasher() -> object:
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id, the library's current recommended parameters


def check_password(password: str) -> str:
    """Return the password if it is long enough, or raise AccountError."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return str(_hasher().hash(password))  # type: ignore[attr-defined]


def password_ok(stored: str, password: str) -> bool:
    """Whether a password matches its stored hash (slow on purpose: call it off the loop)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(stored, password))  # type: ignore[attr-defined]
    except (VerificationError, InvalidHashError):
        return False


# A hash of nothing anyone knows: unknown names are checked against it, so a wrong name
# takes as long as a wrong password.
@functools.cache
def decoy_hash() -> str:
    """A hash no password matches, computed once."""
    return hash_password(secrets.token_urlsafe(32))


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    import pyotp

    return str(pyotp.random_base32(32))


def totp_uri(name: str, secret: str) -> str:
    """The otpauth:// URI an authenticator app enrols from."""
    import pyotp

    return str(pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
               .provisioning_uri(name=name, issuer_name=ISSUER))


def totp_step(secret: str, code: str, now: float) -> int | None:
    """The time step a code belongs to (within the window), or None if it matches none."""
    import pyotp

    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = int(now // TOTP_PERIOD)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            return step
    return None


def token_hash(token: str) -> str:
    """What is stored of a session token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh session token or CSRF token (256 bits)."""
    return secrets.token_urlsafe(32)


def session_alive(session: Session, now: int) -> bool:
    """Whether a session may still be used: not ended, timed out, disabled or reset."""
    user = session.user
    return (session.revoked_at is None and user.disabled_at is None
            and session.created_at >= user.credentials_at
            and now - session.seen_at <= IDLE_SECONDS
            and now - session.created_at <= ABSOLUTE_SECONDS)


def throttle_scopes(name: str, address: str) -> list[str]:
    """The counters a login attempt is throttled by."""
    return [f"name:{name.casefold()}", f"address:{address}"]


def throttled(failures: dict[str, int]) -> bool:
    """Whether recent failures forbid another attempt."""
    return any(count >= (MAX_FAILURES_PER_NAME if scope.startswith("name:")
                         else MAX_FAILURES_PER_ADDRESS)
               for scope, count in failures.items())
