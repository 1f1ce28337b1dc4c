"""WeChat's wire formats: signatures, AES (safe mode), message XML in and reply XML out.

The only module that imports wechatpy. We use its AES envelope (`PrpCrypto`) and do the
rest ourselves, for reasons learned the hard way (see DESIGN.md):
- signatures are compared with `hmac.compare_digest` (wechatpy compares with `!=`);
- XML is parsed by a strict expat reader that refuses any DOCTYPE (no entity tricks),
  duplicate fields and non-UTF-8 text, at a quarter of `parse_message`'s cost;
- replies are rendered with `]]>` split across CDATA sections (wechatpy's
  `create_reply` would let user text break the XML) and capped below WeChat's
  passive-reply size.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus
from xml.parsers import expat

from wechatpy.crypto import PrpCrypto

from bot.errors import BadRequest, Forbidden
from handlers.messages import CONSENT_EVENT, EVENT_KINDS, MESSAGE_KINDS, Inbound

# WeChat drops a passive reply much over 2 KB; keep the rendered Content under this.
MAX_REPLY_BYTES = 1800
MAX_ID = 64
_ELLIPSIS = "…"


def sign(token: str, *parts: str) -> str:
    """WeChat's signature: SHA-1 of the token and parts, sorted and concatenated."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()


def signature_ok(signature: str, token: str, *parts: str) -> bool:
    """Whether `signature` is right for these parts, compared in constant time."""
    return hmac.compare_digest(signature.encode(), sign(token, *parts).encode())


def query_fields(raw: str) -> dict[str, str]:
    """The fields of a query string, as `dict(parse_qsl(raw))` reads them, at a third the cost.

    WeChat's parameters (hex, digits, OpenIDs) need no unquoting: only a pair that has
    escapes pays for it. As in parse_qsl, a pair without a value is left out, and a
    repeated name keeps its last value.
    """
    fields: dict[str, str] = {}
    for pair in raw.split("&"):
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name), unquote_plus(value)
        if value:
            fields[name] = value
    return fields


# --- XML in -------------------------------------------------------------------------


def _refuse(*_: object) -> None:
    raise BadRequest("DOCTYPE and entity declarations are not accepted")


class XmlFields(dict[str, str]):
    """The `<xml>` document's fields (its direct children), and its nested records.

    `records[name]` lists, for a field holding repeated groups (a subscribe popup's
    `<List>` items, a broadcast report's `<item>`s, the photos of pic_sysphoto), each
    group's leaf values: [{"TemplateId": …, "SubscribeStatusString": "accept"}, …].
    """

    records: dict[str, list[dict[str, str]]]


def parse_xml(body: bytes) -> XmlFields:
    """Read WeChat's `<xml>` document: its fields, and repeated nested groups as records."""
    fields = XmlFields()
    fields.records = {}
    path: list[str] = []
    groups: list[dict[str, str]] = []  # the leaf values of each open element below a field
    chunks: list[str] = []

    def start(name: str, _attrs: object) -> None:
        if not path and name != "xml":
            raise BadRequest("the root element must be <xml>")
        path.append(name)
        groups.append({})
        chunks.clear()
        if len(path) > 8:
            raise BadRequest("the XML nests too deep")

    def end(name: str) -> None:
        text = "".join(chunks)
        chunks.clear()
        group = groups.pop()
        path.pop()
        depth = len(path)  # of the closed element's parent: 0 is outside <xml>
        if depth == 1:  # a field of <xml>
            if name in fields:
                raise BadRequest(f"field {name} appears twice")
            fields[name] = text if not group else ""
        elif depth >= 2:
            if group:  # a group of leaves: one record of the field it is in
                fields.records.setdefault(path[1], []).append(group)
            elif name not in groups[-1]:
                groups[-1][name] = text

    # encoding="utf-8" overrides whatever the document declares: WeChat sends UTF-8.
    parser = expat.ParserCreate(encoding="utf-8")
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chunks.append
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise BadRequest(f"malformed XML: {expat.ErrorString(error.code)}") from None
    return fields


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a reply goes to: the sender's OpenID and the account it wrote to."""

    openid: str
    account: str


def _required(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name)
    if value is None:
        raise BadRequest(f"missing field {name}")
    return value


def _number(fields: Mapping[str, str], name: str) -> int:
    value = _required(fields, name).strip()
    # isascii: int() would also accept full-width and other Unicode digits.
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise BadRequest(f"field {name} must be a number")
    return int(value)


def _coordinate(fields: Mapping[str, str], name: str) -> float:
    try:
        value = float(_required(fields, name))
    except ValueError:
        raise BadRequest(f"field {name} must be a number") from None
    if not -180.0 <= value <= 180.0:
        raise BadRequest(f"field {name} is out of range")
    return value


def to_inbound(
    fields: Mapping[str, str], pseudonymise: Callable[[str], str]
) -> tuple[Envelope, Inbound] | None:
    """Turn parsed fields into an envelope and an `Inbound`; None for unknown types."""
    openid = _required(fields, "FromUserName")
    account = _required(fields, "ToUserName")
    if not openid or not account:
        raise BadRequest("empty FromUserName or ToUserName")
    if len(openid) > MAX_ID or len(account) > MAX_ID:
        # Real OpenIDs are 28 characters; the reply echoes both, so bound them.
        raise BadRequest("FromUserName or ToUserName is too long")
    created_at = _number(fields, "CreateTime")
    kind = _required(fields, "MsgType").strip().lower()
    envelope = Envelope(openid, account)
    if kind == "event":
        event = _required(fields, "Event").strip().lower()
        if event not in EVENT_KINDS:
            return None
        key = fields.get("EventKey", "")
        if event == CONSENT_EVENT:  # one <List> per template the popup asked about
            items = getattr(fields, "records", {}).get("SubscribeMsgPopupEvent", [])
            key = ";".join(f"{i.get('TemplateId', '')}={i.get('SubscribeStatusString', '')}"
                           for i in items)[:1000]
        inbound = Inbound(
            kind="event",
            sender=pseudonymise(openid),
            created_at=created_at,
            event=event,
            event_key=key,
        )
        return envelope, inbound
    if kind not in MESSAGE_KINDS:
        return None
    sender = pseudonymise(openid)
    msg_id = _number(fields, "MsgId")
    get = fields.get
    if kind == "text":
        inbound = Inbound("text", sender, created_at, msg_id, text=_required(fields, "Content"))
    elif kind == "location":
        inbound = Inbound(
            "location", sender, created_at, msg_id,
            latitude=_coordinate(fields, "Location_X"),
            longitude=_coordinate(fields, "Location_Y"),
            label=get("Label", ""),
        )
    elif kind == "link":
        inbound = Inbound(
            "link", sender, created_at, msg_id,
            title=get("Title", ""), description=get("Description", ""),
            url=_required(fields, "Url"),
        )
    else:  # image, voice, video, shortvideo, file: a media id to fetch
        media_id = get("MediaId") or get("FileKey") or ""
        if not media_id:
            raise BadRequest("missing field MediaId")
        inbound = Inbound(
            kind, sender, created_at, msg_id,
            text=get("Recognition", ""),
            media_id=media_id,
            media_format=get("Format", ""),
            thumb_media_id=get("ThumbMediaId", ""),
            pic_url=get("PicUrl", ""),
            title=get("Title", ""),
            description=get("Description", ""),
        )
    return envelope, inbound


# --- XML out ------------------------------------------------------------------------


def cdata(text: str) -> str:
    """Wrap text in CDATA so that no text, `]]>` included, can end the section early."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def fit_reply(text: str, limit: int = MAX_REPLY_BYTES) -> str:
    """Trim text to at most `limit` bytes of UTF-8, ending with an ellipsis if cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    cut = encoded[: limit - len(_ELLIPSIS.encode())].decode(errors="ignore")
    return cut + _ELLIPSIS


def render_text(envelope: Envelope, text: str, now: int) -> str:
    """Render a passive text reply to the sender."""
    return (
        f"<xml><ToUserName>{cdata(envelope.openid)}</ToUserName>"
        f"<FromUserName>{cdata(envelope.account)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(fit_reply(text))}</Content></xml>"
    )


# --- Safe mode ----------------------------------------------------------------------


class _Prp(PrpCrypto):  # type: ignore[misc]
    """wechatpy's AES envelope with a CSPRNG prefix (its own uses random.sample, slowly)."""

    def get_random_string(self) -> str:
        return secrets.token_hex(8)


class Crypto:
    """The AES envelope of safe and compatible mode, for one account."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        key = base64.b64decode(encoding_aes_key + "=")
        self.token = token
        self.app_id = app_id
        self._prp = _Prp(key)

    def open(self, fields: Mapping[str, str], msg_signature: str, timestamp: str, nonce: str
             ) -> bytes:
        """Check `msg_signature` over the Encrypt payload and return the decrypted XML."""
        return self.decrypt(self.verified_payload(fields, msg_signature, timestamp, nonce))

    def verified_payload(self, fields: Mapping[str, str], msg_signature: str, timestamp: str,
                         nonce: str) -> str:
        """The Encrypt payload, once `msg_signature` proved WeChat sent it."""
        encrypt = fields.get("Encrypt")
        if not encrypt:
            raise BadRequest("missing field Encrypt")
        if not signature_ok(msg_signature, self.token, timestamp, nonce, encrypt):
            raise Forbidden("msg_signature does not match")
        return encrypt

    def decrypt(self, encrypt: str) -> bytes:
        """The XML inside a verified Encrypt payload."""
        try:
            xml = self._prp.decrypt(encrypt, self.app_id)
        except Exception:
            # Garbage raises IndexError, struct.error, ValueError, binascii.Error, or
            # InvalidAppIdException: all of them mean a bad request, never a 500.
            raise BadRequest("the Encrypt payload does not decrypt") from None
        return str(xml).encode()

    def seal(self, xml: str, nonce: str, timestamp: str) -> str:
        """Encrypt a reply the way WeChat expects it in safe mode."""
        encrypt = self._prp.encrypt(xml, self.app_id).decode()
        signature = sign(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt>{cdata(encrypt)}</Encrypt>"
            f"<MsgSignature>{cdata(signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
        )

    # WeChat's side, for the chat simulator and the tests.
    def encrypt_payload(self, xml: str) -> str:
        """Encrypt an inbound message as WeChat's server would."""
        return str(self._prp.encrypt(xml, self.app_id).decode())


# --- WeChat's side: building requests (tipline chat, tests, benchmarks) ----------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request as WeChat's server would send it: query parameters and body."""

    params: dict[str, str]
    body: bytes


def inbound_xml(fields: Mapping[str, str | int | float]) -> str:
    """Render an inbound message the way WeChat's server does."""
    parts = []
    for name, value in fields.items():
        text = str(value) if isinstance(value, int | float) else cdata(value)
        parts.append(f"<{name}>{text}</{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


def sign_request(
    token: str,
    xml: str,
    *,
    openid: str,
    crypto: Crypto | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    """Sign (and with `crypto`, encrypt in safe mode) a message as WeChat's server does."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or str(struct.unpack(">I", os.urandom(4))[0])
    params = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "openid": openid}
    if crypto is None:
        return SignedRequest(params, xml.encode())
    encrypt = crypto.encrypt_payload(xml)
    params["encrypt_type"] = "aes"
    params["msg_signature"] = sign(token, ts, nonce, encrypt)
    # Safe mode sends only the envelope's ToUserName and Encrypt.
    body = (
        f"<xml><ToUserName>{cdata('gh_tipline')}</ToUserName>"
        f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
    )
    return SignedRequest(params, body.encode())


def open_reply(crypto: Crypto, body: bytes) -> bytes:
    """Decrypt a safe-mode reply as WeChat's server would, checking its signature."""
    fields = parse_xml(body)
    return crypto.open(
        {"Encrypt": fields["Encrypt"]}, fields["MsgSignature"], fields["TimeStamp"],
        fields["Nonce"],
    )
