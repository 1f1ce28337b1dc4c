"""Sealed OpenIDs: AES-GCM with TIPLINE_CONTACT_KEY, so a copy of the database cannot push.

A reporter's OpenID is needed only to push them a status change or a question; it is
sealed in the HTTP worker the moment it is read, stored only while the reporter has a
report open or a question pending (db/feedback.py), and opened only by the sender.
The key is not the pseudonym key: knowing one says nothing of the other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_CONTEXT = b"tipline contact v1"  # what the key is for: mixed into the derived key


def _aead(key: str) -> AESGCM:
    return AESGCM(hashlib.sha256(_CONTEXT + key.encode()).digest())


def sealer(key: str) -> Callable[[str], bytes]:
    """A function sealing an OpenID (b"" when no key is set: nothing is kept)."""
    if not key:
        return lambda openid: b""
    aead = _aead(key)

    def seal(openid: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + aead.encrypt(nonce, openid.encode(), _CONTEXT)

    return seal


def opener(key: str) -> Callable[[bytes], str]:
    """A function opening what `sealer` sealed (raises ValueError if it was not)."""
    aead = _aead(key)

    def open_(sealed: bytes) -> str:
        from cryptography.exceptions import InvalidTag

        try:
            return aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _CONTEXT).decode()
        except (InvalidTag, ValueError) as error:
            raise ValueError("a contact sealed with another key") from error

    return open_
