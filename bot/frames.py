"""Length-prefixed frames between the HTTP workers and the engine, over a Unix socket.

A frame carries a list of items (requests one way, answers the other): everything one
side has to send in one turn of its event loop goes in one frame, one write, one read.
Both ends are Tipline processes of one installation and the socket lives in a private
(0700) folder, so items are pickled tuples of plain values: the cheapest encoding.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

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
