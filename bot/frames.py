"""Length-prefixed frames between the HTTP workers and the engine, over a Unix socket.

Both ends are Tipline processes of one installation and the socket lives in a private
(0700) folder, so frames are pickled tuples of plain values: the cheapest encoding.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any

_LENGTH = struct.Struct(">I")


def encode(message: tuple[Any, ...]) -> bytes:
    """One frame: a 4-byte length, then the pickled tuple."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


async def read(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    """Read one frame; IncompleteReadError when the peer has gone."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    message = pickle.loads(await reader.readexactly(length))
    assert isinstance(message, tuple)
    return message
