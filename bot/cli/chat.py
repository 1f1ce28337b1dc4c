"""`tipline chat`: a terminal WeChat that signs (and encrypts) messages to a running server."""

from __future__ import annotations

import itertools
import secrets
import shlex
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bot.config import Settings
from bot.wechat import wire

CHAT_HELP = """\
Type a message and press Enter; it is sent as a WeChat text message.
  /photo [MEDIA_ID]              send a photo
  /voice MEDIA_ID [RECOGNITION]  send a voice message (with its speech-to-text)
  /video MEDIA_ID                send a video
  /file MEDIA_ID [TITLE]         send a file
  /location LAT LON [LABEL]      send a location
  /link URL [TITLE]              send a link (a shared article)
  /subscribe, /unsubscribe       follow or unfollow the account
  /click KEY                     tap a menu button (REPORT, MY_REPORTS, HELP)
  /quit                          leave"""


class ChatError(Exception):
    """A line the simulator cannot turn into a message, or a server it cannot reach."""


@dataclass
class Simulator:
    """WeChat's server, as seen by one follower: builds, signs and sends messages."""

    url: str
    token: str
    openid: str
    crypto: wire.Crypto | None = None
    account: str = "gh_tipline"
    timeout: float = 10.0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(int(time.time() * 1000)))

    @classmethod
    def from_settings(cls, settings: Settings, url: str, openid: str) -> Simulator:
        """Build a simulator that signs like the server expects for `settings`."""
        crypto = None
        if settings.safe_mode:
            crypto = wire.Crypto(settings.wechat_token, settings.wechat_encoding_aes_key,
                                   settings.wechat_app_id)
        return cls(url, settings.wechat_token, openid, crypto)

    def message(self, line: str) -> dict[str, str | int | float]:
        """Turn one typed line into WeChat's message fields."""
        base: dict[str, str | int | float] = {
            "ToUserName": self.account, "FromUserName": self.openid,
            "CreateTime": int(time.time()),
        }
        if not line.startswith("/"):
            return {**base, "MsgType": "text", "Content": line, "MsgId": self._msg_id()}
        try:
            command, *args = shlex.split(line[1:])
        except ValueError as error:
            raise ChatError(f"cannot read that line: {error}") from None
        build = _COMMANDS.get(command)
        if build is None:
            raise ChatError(f"unknown command /{command}; type /help")
        try:
            fields = build(args)
        except (IndexError, ValueError):
            raise ChatError(f"/{command} needs more: type /help") from None
        if fields.get("MsgType") != "event":
            fields["MsgId"] = self._msg_id()
        return {**base, **fields}

    def send(self, fields: dict[str, str | int | float]) -> str:
        """Send one message and return the reply's text ("" when the server says nothing)."""
        request = wire.sign_request(self.token, wire.inbound_xml(fields),
                                      openid=self.openid, crypto=self.crypto)
        url = self.url + "?" + urllib.parse.urlencode(request.params)
        http = urllib.request.Request(url, data=request.body, method="POST",
                                      headers={"Content-Type": "application/xml"})
        try:
            with urllib.request.urlopen(http, timeout=self.timeout) as response:
                body: bytes = response.read()
        except urllib.error.HTTPError as error:
            raise ChatError(f"the server answered {error.code} {error.reason}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ChatError(f"cannot reach {self.url}: {error}") from None
        return reply_text(body, self.crypto)

    def _msg_id(self) -> int:
        return next(self._ids)


def reply_text(body: bytes, crypto: wire.Crypto | None) -> str:
    """The text a WeChat user would see for a reply body."""
    if body.strip() in (b"", b"success"):
        return ""
    if crypto is not None:
        body = wire.open_reply(crypto, body)
    fields = wire.parse_xml(body)
    if fields.get("MsgType") == "text":
        return fields.get("Content", "")
    return f"[{fields.get('MsgType', 'unknown')} reply]"


def _media(kind: str) -> Callable[[list[str]], dict[str, str | int | float]]:
    def build(args: list[str]) -> dict[str, str | int | float]:
        media_id = args[0] if args else secrets.token_hex(16)
        fields: dict[str, str | int | float] = {"MsgType": kind, "MediaId": media_id}
        if kind == "image":
            fields["PicUrl"] = f"http://mmbiz.qpic.cn/{media_id}"
        elif kind == "voice":
            fields.update(Format="amr", Recognition=" ".join(args[1:]))
        elif kind == "video":
            fields["ThumbMediaId"] = secrets.token_hex(16)
        elif kind == "file":
            fields.update(Title=" ".join(args[1:]) or "file", Description="")
        return fields

    return build


_COMMANDS: dict[str, Callable[[list[str]], dict[str, str | int | float]]] = {
    "photo": _media("image"),
    "voice": _media("voice"),
    "video": _media("video"),
    "file": _media("file"),
    "location": lambda a: {"MsgType": "location", "Location_X": float(a[0]),
                           "Location_Y": float(a[1]), "Scale": 15,
                           "Label": " ".join(a[2:])},
    "link": lambda a: {"MsgType": "link", "Url": a[0], "Title": " ".join(a[1:]) or a[0],
                       "Description": ""},
    "subscribe": lambda a: {"MsgType": "event", "Event": "subscribe", "EventKey": ""},
    "unsubscribe": lambda a: {"MsgType": "event", "Event": "unsubscribe", "EventKey": ""},
    "click": lambda a: {"MsgType": "event", "Event": "CLICK", "EventKey": a[0]},
}
