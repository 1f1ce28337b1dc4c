"""A worker's side of a request to /wechat: all of it that needs no database.

Before the engine: verify → decrypt → parse → pseudonymise → find identifiers, giving a
`Ticket`. After it: render the engine's reply text as WeChat XML → encrypt.

Why here and not in the engine: the engine is the one process that writes the database,
so whatever it does, it does for every worker in turn. Everything that only needs the
request itself runs in the workers, which `tipline serve --workers N` multiplies.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

from bot.config import Settings
from bot.errors import BadRequest, Forbidden, WebhookError
from bot.pseudonym import pseudonymiser
from bot.sealing import sealer
from bot.server.protocol import (
    PLAIN,
    SUCCESS,
    XML,
    Answer,
    Refusal,
    Ticket,
    Verdict,
    refusal,
)
from bot.wechat import wire
from handlers.report import message_text
from triage.extract import extract

log = logging.getLogger(__name__)

_ECHOSTR = re.compile(r"[A-Za-z0-9_\-+/=]{1,512}")


@dataclass(slots=True)
class Opened:
    """A verified request: its ticket, and what rendering its answer will need."""

    ticket: Ticket
    raw_timestamp: str
    nonce: str  # the reply is sealed with the request's own nonce
    encrypted: bool
    early: Answer | None = None  # known without the engine: echostr, 400, success
    envelope: wire.Envelope | None = None


class Intake:
    """Opens requests into tickets and renders the engine's verdicts as answers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.crypto = (
            wire.Crypto(settings.wechat_token, settings.wechat_encoding_aes_key,
                          settings.wechat_app_id)
            if settings.safe_mode else None
        )
        self.pseudonymise = pseudonymiser(settings.secret_key)
        self.seal = sealer(settings.contact_key)
        extract("warm-up.example.com")  # builds the suffix list now, not in a request

    def open(self, query: str, body: bytes, now: int, method: str = "POST") -> Opened | Refusal:
        """Verify, decrypt and parse a request; a refusal answers it at once."""
        try:
            q = wire.query_fields(query)
            raw_ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
            encrypted = self._verify(q, method, raw_ts, nonce)
            timestamp = check_timestamp(raw_ts, now, self.settings.wechat_timestamp_tolerance)
            if not nonce or len(nonce) > 64:
                raise Forbidden("nonce is missing or too long")
            payload = ""
            if encrypted:
                assert self.crypto is not None
                # Safe mode signs the Encrypt payload: until msg_signature holds, nothing
                # about the request is verified, so it must not spend a nonce either.
                payload = self.crypto.verified_payload(
                    wire.parse_xml(body), q.get("msg_signature", ""), raw_ts, nonce)
        except WebhookError as error:
            return Refusal(refusal(error))
        digest = hashlib.sha256(method.encode() + body).digest()
        replay_key = "s:" + q.get("msg_signature", "").lower() if encrypted else nonce
        bare = Ticket(timestamp, replay_key, digest, now)  # spends the key, runs nothing
        if method == "GET":
            echostr = q.get("echostr", "")
            early = (Answer(200, echostr.encode(), PLAIN) if _ECHOSTR.fullmatch(echostr)
                     else refusal(BadRequest("echostr is missing or malformed")))
            return Opened(bare, raw_ts, nonce, False, early)
        try:
            if encrypted:
                assert self.crypto is not None
                # Compatible mode also sends plaintext fields: only the decrypted payload counts.
                fields = wire.parse_xml(self.crypto.decrypt(payload))
            else:
                fields = wire.parse_xml(body)
            parsed = wire.to_inbound(fields, self.pseudonymise)
        except WebhookError as error:
            return Opened(bare, raw_ts, nonce, encrypted, refusal(error))
        if parsed is None:  # a type we do not handle: no reply, nothing stored
            return Opened(bare, raw_ts, nonce, encrypted, SUCCESS)
        envelope, inbound = parsed
        inbound.contact = self.seal(fields.get("FromUserName", ""))
        text_ = message_text(inbound) if inbound.kind in ("text", "link") else ""
        if len(text_) >= 4:  # shorter ("1", "完成") holds no identifier: skip the scan
            inbound.identifiers = tuple(extract(text_))
        return Opened(Ticket(timestamp, replay_key, digest, now, inbound), raw_ts, nonce,
                      encrypted, envelope=envelope)

    def render(self, opened: Opened, verdict: Verdict) -> Answer:
        """The HTTP answer to an opened request, given the engine's verdict on it."""
        if isinstance(verdict, Answer):
            return verdict  # refused (a reused nonce), or not stored (503)
        if opened.early is not None:
            return opened.early
        if not verdict.text:
            return SUCCESS
        assert opened.envelope is not None
        xml = wire.render_text(opened.envelope, verdict.text, opened.ticket.now)
        if opened.encrypted and self.crypto is not None:
            xml = self.crypto.seal(xml, opened.nonce, opened.raw_timestamp)
        return Answer(200, xml.encode(), XML)

    def _verify(self, q: dict[str, str], method: str, raw_ts: str, nonce: str) -> bool:
        """Check the signature (or that safe mode will); True if the payload is encrypted."""
        safe_mode = self.crypto is not None
        encrypted = method == "POST" and q.get("encrypt_type", "").lower() == "aes"
        if method == "POST" and safe_mode and not encrypted:
            # A safe-mode request also carries `signature`: stripping its encryption must
            # not turn it into a plaintext request with a body of the attacker's choosing.
            raise Forbidden("plaintext request, but the account is in safe mode")
        if encrypted and not safe_mode:
            raise BadRequest("encrypted request, but WECHAT_ENCODING_AES_KEY is not set")
        # Safe mode signs the payload instead (msg_signature), checked when decrypting.
        if not encrypted and not wire.signature_ok(
            q.get("signature", ""), self.settings.wechat_token, raw_ts, nonce
        ):
            raise Forbidden("signature does not match")
        return encrypted


def check_timestamp(raw: str, now: int, tolerance: int) -> int:
    """Return the request's timestamp, refusing one outside the tolerance window."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise Forbidden("timestamp is missing or not a number")
    timestamp = int(raw)
    if tolerance and abs(now - timestamp) > tolerance:
        raise Forbidden("timestamp outside the allowed window")
    return timestamp
