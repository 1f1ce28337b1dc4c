"""What the conversation sees of an inbound message: plain data, no WeChat library types."""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields
from typing import Any

# Message kinds the pipeline accepts; anything else is answered with "success" unstored.
MESSAGE_KINDS = frozenset(
    {"text", "image", "voice", "video", "shortvideo", "location", "link", "file"}
)
# Events the pipeline accepts (lower-case, as WeChat spells them in any case).
EVENT_KINDS = frozenset({"subscribe", "unsubscribe", "click", "view", "scan", "location",
                         "subscribe_msg_popup_event"})
# Events after which WeChat shows the passive reply and opens the 48-hour customer-service
# window (its "客服消息" rules): the rest (unsubscribe, view, location reports, consent
# popups) show nothing, so nothing may ride on their reply.
WINDOW_EVENTS = frozenset({"subscribe", "scan", "click"})
# A subscribe-message consent event's answers, one "template id=accept|reject" per item,
# `;`-separated, in its event_key.
CONSENT_EVENT = "subscribe_msg_popup_event"


# Not frozen: a frozen dataclass sets each of these fields through object.__setattr__,
# which made building one cost more than parsing the XML it came from.
@dataclass(slots=True)
class Inbound:
    """One message or event from a reporter, with the sender already pseudonymised."""

    kind: str  # one of MESSAGE_KINDS, or "event"
    sender: str  # keyed pseudonym of the OpenID, never the OpenID itself
    created_at: int  # CreateTime, seconds since the epoch
    msg_id: int | None = None  # None for events
    text: str = ""  # Content of a text message; Recognition of a voice message
    event: str = ""  # lower-case event name for kind == "event"
    event_key: str = ""  # menu key, scene, or URL
    media_id: str = ""
    media_format: str = ""  # voice format (amr, speex) or file extension
    thumb_media_id: str = ""
    pic_url: str = ""
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""  # location label
    title: str = ""  # link or file title
    description: str = ""
    url: str = ""
    # Identifiers in the text (or a link's title and URL), when found ahead of time: the
    # HTTP worker extracts them (bot/server/gate.py), so the engine's transaction need not.
    identifiers: tuple[Any, ...] | None = None
    # The sender's OpenID sealed by the worker (bot/sealing.py; b"" without a key): kept
    # only while the reporter has a report open, to push them its status.
    contact: bytes = b""

    def __reduce__(self) -> tuple[type[Inbound], tuple[Any, ...]]:
        """Pickle as the constructor's arguments: a third of the default's cost."""
        return Inbound, _arguments(self)

    @property
    def opens_window(self) -> bool:
        """Whether the reporter sees this one's reply and may be written to for 48 hours."""
        return self.kind != "event" or self.event in WINDOW_EVENTS

    @property
    def dedup_key(self) -> str:
        """The key WeChat's retries share: MsgId for messages, CreateTime+event for events."""
        if self.msg_id is not None:
            return f"m{self.msg_id}"
        # The key too: two different menu taps in one second are two events.
        return f"e{self.created_at}:{self.event}:{self.event_key}"


# Every field, in the constructor's order (one C call: what makes the pickling cheap).
_arguments = operator.attrgetter(*(field.name for field in fields(Inbound)))


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a text, or nothing (WeChat then shows no message)."""

    text: str = ""


NO_REPLY = Reply()
