"""The wire formats on their own: reply rendering, size limits, frames between processes."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from bot.errors import BadRequest
from bot.server import protocol
from bot.server.gate import Ticket
from bot.wechat import wire
from handlers.messages import Inbound
from triage.extract import extract


def test_a_reply_over_wechats_size_limit_is_trimmed_on_a_character_boundary() -> None:
    long = "举报内容" * 400  # 4,800 bytes of UTF-8
    trimmed = wire.fit_reply(long)
    assert len(trimmed.encode()) <= wire.MAX_REPLY_BYTES
    assert trimmed.endswith("…") and long.startswith(trimmed[:-1])


def test_user_text_with_cdata_end_round_trips_through_a_rendered_reply() -> None:
    envelope = wire.Envelope("o_alice", "gh_tipline")
    xml = wire.render_text(envelope, "a]]>b<c>&d]]>", 1700000000)
    assert wire.parse_xml(xml.encode())["Content"] == "a]]>b<c>&d]]>"


def test_a_duplicated_field_is_malformed() -> None:
    with pytest.raises(BadRequest, match="twice"):
        wire.parse_xml(b"<xml><MsgId>1</MsgId><MsgId>2</MsgId></xml>")


def test_frames_split_across_reads_are_reassembled_in_order() -> None:
    items = [("m", n, Ticket(1700000000, str(n), b"<xml/>" * n, 1700000000)) for n in range(50)]
    stream = protocol.encode(items[:20]) + protocol.encode(items[20:])
    reader = protocol.FrameReader()
    got: list[protocol.Item] = []
    for start in range(0, len(stream), 7):  # arbitrary chunking, as a socket may deliver
        got.extend(reader.feed(stream[start:start + 7]))
    assert got == items
    assert reader.feed(b"") == []


def test_a_ticket_crosses_the_socket_with_every_field_of_its_message_intact() -> None:
    found = tuple(extract("举报 btc-x.com 微信 scam_8888"))
    # A distinct value in every field, so a field the pickling leaves out or misplaces shows.
    values = {field.name: f"v{n}" for n, field in enumerate(dataclasses.fields(Inbound))}
    values.update(created_at=5, msg_id=42, latitude=31.2, longitude=121.5, identifiers=found)
    inbound = Inbound(**values)
    ticket = Ticket(5, "nonce", b"digest", 6, inbound)
    assert pickle.loads(pickle.dumps(ticket)) == ticket


def test_a_query_string_reads_as_the_standard_library_reads_it() -> None:
    import random
    from urllib.parse import parse_qsl

    rng = random.Random(7)
    pieces = ["signature", "=", "&", "nonce", "%2F", "%3D", "+", "%zz", "%e4%bd%a0", "a", "1"]
    for _ in range(5000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        assert wire.query_fields(raw) == dict(parse_qsl(raw)), raw
