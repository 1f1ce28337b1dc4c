"""What HTTP workers and the engine say to each other, and how it crosses their socket.

Both sides import this module and nothing of each other. A worker opens a request into a
`Ticket` (bot/server/gate.py) and the engine (bot/server/engine.py) answers each with a
`Verdict`: a `Reply` (the text to send back) or an `Answer` (a final HTTP answer: 403,
503). A request refused before the engine is a `Refusal`. These are named tuples: they
cross the socket pickled, and a tuple pickles cheapest.

Frames are length-prefixed: a frame carries a list of items (requests one way, answers the
other): everything one side has to send in one turn of its event loop goes in one frame,
one write, one read. Both ends are Tipline processes of one installation and the socket
lives in a private (0700) folder, so items are pickled tuples of plain values.
"""

from __future__ import annotations

import logging
import pickle
import struct
from typing import Any, NamedTuple

from bot.errors import WebhookError
from handlers.messages import Inbound

log = logging.getLogger(__name__)

XML = "application/xml"
PLAIN = "text/plain"
# Frame kinds: a ticket to answer, or a health check.
MESSAGE, PING = "m", "p"


class Ticket(NamedTuple):
    """A verified request as the engine needs it.

    Only a request whose signature (or, in safe mode, msg_signature) held becomes one. Its
    replay key is spent whatever comes of it; `inbound` is the message to run, None when
    there is none (the URL check, a type we do not handle, a malformed body).
    """

    timestamp: int
    # The nonce in plaintext mode (its signature does not cover the body, so a nonce may
    # carry one body only); msg_signature in safe mode, which covers the encrypted payload,
    # so two genuine messages sharing a second and a nonce never collide.
    replay_key: str
    body_sha256: bytes  # a nonce is good for one body: WeChat's retries repeat it
    now: int
    inbound: Inbound | None = None


class Answer(NamedTuple):
    """A final HTTP answer: status, body, content type."""

    status: int
    body: bytes
    content_type: str


class Reply(NamedTuple):
    """The engine's reply to a message: the text to send back ("" for none)."""

    text: str


class Refusal(NamedTuple):
    """A request refused before it reached the engine, and the answer that says so."""

    answer: Answer


# The engine's verdict on a ticket.
Verdict = Reply | Answer

SUCCESS = Answer(200, b"success", PLAIN)
UNSTORED = Answer(503, b"try again", PLAIN)
NONCE_REUSED = Answer(403, b"forbidden", PLAIN)


def refusal(error: WebhookError) -> Answer:
    """The answer to a refused request: why goes to the operator's log, not the sender."""
    log.warning("refused a request (%d): %s", error.status, error)
    return Answer(error.status, b"forbidden" if error.status == 403 else b"bad request", PLAIN)


# --- frames -----------------------------------------------------------------------------

_LENGTH = struct.Struct(">I")

Item = tuple[Any, ...]


def encode(items: list[Item]) -> bytes:
    """One frame: a 4-byte length, then the pickled list of items."""
    payload = pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


class FrameReader:
    """Reassembles frames from the chunks a socket delivers."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Item]:
        """Add received bytes; return the items of every frame now complete."""
        buffer = self._buffer
        buffer += data
        items: list[Item] = []
        start = 0
        while len(buffer) - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + length
            if len(buffer) < end:
                break
            items.extend(pickle.loads(buffer[start + _LENGTH.size:end]))
            start = end
        del buffer[:start]
        return items
