"""The WeChat API client: async, every call bounded in time and retries, one shared token.

wechatpy's client is synchronous, has no timeout and retries an expired token without end;
this one runs on the event loop (aiohttp), so a slow WeChat can delay a download but never
a reporter's reply. The access token lives in SQLite and comes from `stable_token`, which
hands every process the same token instead of invalidating each other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import re
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from bot.config import Settings
from bot.wechat.egress import Egress, NotPublic, OffList
from db import api_tokens
from db.connection import connect
from triage.evidence import evidence_path
from triage.inert import inert

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answers that mean "the token you sent is no good": refresh once, then try again.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Answers that will never change for this media id: record them, do not retry.
TOO_LARGE = -2  # our own code: the media is over MAX_MEDIA_BYTES (it will not shrink)
OFF_LIST = -3  # our own code: the media is somewhere a download may not go (bot/wechat/egress)
MEDIA_GONE = frozenset({40007, 41006, 40004, TOO_LARGE, OFF_LIST})
# Refresh a token this long before WeChat says it expires (clocks, in-flight calls).
TOKEN_MARGIN = 300
# A media file larger than this is not evidence WeChat could have sent (video max 10 MB).
MAX_MEDIA_BYTES = 64 * 1024 * 1024
# A JSON answer larger than this is not one WeChat sends (a token, an error, a video URL).
MAX_ANSWER_BYTES = 1024 * 1024
PARSE_OFF_LOOP = 64 * 1024  # bytes of JSON worth a thread rather than the event loop
MAX_REDIRECTS = 3
CHUNK = 64 * 1024


class ApiError(Exception):
    """WeChat answered with an error code."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def permanent(self) -> bool:
        """Whether asking again can never help (the media id is invalid or gone)."""
        return self.errcode in MEDIA_GONE


class ApiUnavailable(Exception):
    """WeChat could not be reached or kept failing (timeouts, 5xx) within the retry budget."""


class SendUnknown(ApiUnavailable):
    """A send timed out or lost its connection mid-answer: it may or may not have arrived."""


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard one call tries: attempts, and the backoff between them."""

    attempts: int = 3
    backoff: float = 0.5  # seconds before the 2nd attempt; doubles, with jitter

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(self.backoff * 2 ** (attempt - 1) * random.uniform(0.75, 1.25))


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A media file written to the evidence store under its SHA-256."""

    sha256: str
    size: int
    mime: str
    path: Path


class TokenStore:
    """The shared access token in SQLite, read and written off the event loop."""

    def __init__(self, db_path: Path, app_id: str) -> None:
        self.db = connect(db_path)
        self.app_id = app_id

    async def load(self) -> tuple[str, int] | None:
        """The stored token and its expiry, or None."""
        return await asyncio.to_thread(api_tokens.load, self.db, self.app_id)

    async def save(self, token: str, expires_at: int) -> None:
        """Share a new token with every process."""
        await asyncio.to_thread(api_tokens.save, self.db, self.app_id, token, expires_at,
                                int(time.time()))

    def close(self) -> None:
        """Close the database connection."""
        self.db.conn.close()


class WeChatAPI:
    """The calls Tipline makes to WeChat: the token, media downloads, the custom menu."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession, tokens: TokenStore,
                 egress: Egress, retry: Retry = Retry(), timeout: float = 10.0,
                 download_timeout: float = 120.0) -> None:
        self.base = settings.wechat_api_base_url
        self.egress = egress  # the session's resolver is built from the same rule
        self.app_id = settings.wechat_app_id
        self.secret = settings.wechat_app_secret
        self.session = session
        self.tokens = tokens
        self.retry = retry
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 5.0))
        # A video may be large, but a stalled transfer is noticed after sock_read.
        self.download_timeout = aiohttp.ClientTimeout(
            total=download_timeout, sock_connect=min(timeout, 5.0), sock_read=timeout)
        self._refreshing = asyncio.Lock()

    # --- token ----------------------------------------------------------------------------

    async def access_token(self, rejected: str = "") -> str:
        """A valid token: the shared one, or a new one if it is missing, expiring or rejected."""
        async with self._refreshing:
            stored = await self.tokens.load()
            now = int(time.time())
            if stored is not None:
                token, expires_at = stored
                # Another process (or call) may have replaced a rejected token already.
                if token != rejected and expires_at - TOKEN_MARGIN > now:
                    return token
            return await self._new_token(force=bool(rejected))

    async def _new_token(self, force: bool) -> str:
        body = {"grant_type": "client_credential", "appid": self.app_id,
                "secret": self.secret, "force_refresh": force}
        answer = await self._request_json("POST", "/cgi-bin/stable_token", json_body=body)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ApiUnavailable("stable_token answered without an access_token")
        expires_in = int(answer.get("expires_in", 7200))
        await self.tokens.save(token, int(time.time()) + expires_in)
        log.info("new WeChat access token (valid %d s)", expires_in)
        return token

    async def _with_token(self, call: Callable[[str], Awaitable[T]]) -> T:
        """Run `call` with the token; on a token error refresh once and run it again."""
        token = await self.access_token()
        try:
            return await call(token)
        except ApiError as error:
            if error.errcode not in TOKEN_ERRORS:
                raise
            log.info("WeChat rejected the access token (%d): refreshing once", error.errcode)
        return await call(await self.access_token(rejected=token))

    # --- calls ----------------------------------------------------------------------------

    async def create_menu(self, menu: dict[str, Any]) -> None:
        """Set the account's custom menu."""
        # ensure_ascii=False: the menu's Chinese must reach WeChat as UTF-8, not \\u escapes.
        data = json.dumps(menu, ensure_ascii=False).encode()

        async def call(token: str) -> None:
            await self._request_json("POST", "/cgi-bin/menu/create",
                                     params={"access_token": token}, data=data)

        await self._with_token(call)

    async def download_media(self, media_id: str, evidence_dir: Path) -> StoredMedia:
        """Download temporary media into the evidence store; videos via their URL."""

        async def call(token: str) -> StoredMedia:
            return await self._download(self.base + "/cgi-bin/media/get",
                                        {"access_token": token, "media_id": media_id},
                                        evidence_dir)

        return await self._with_token(call)

    async def send_text(self, openid: str, content: str) -> None:
        """A customer-service text message (only within 48 h of the user's last message)."""
        await self._send_once("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": content}})

    async def send_template(self, openid: str, template_id: str, fields: dict[str, str]
                            ) -> None:
        """A template message: each field as {"value": …}."""
        await self._send_once("/cgi-bin/message/template/send", {
            "touser": openid, "template_id": template_id,
            "data": {key: {"value": value} for key, value in fields.items()}})

    async def _send_once(self, path: str, body: dict[str, Any]) -> None:
        """Send once, never retried here: after a timeout it may have arrived already.

        The caller decides: ApiError (WeChat refused: its errcode), ApiUnavailable (not
        sent: 5xx, busy, no connection), SendUnknown (perhaps sent).
        """
        data = json.dumps(body, ensure_ascii=False).encode()

        async def call(token: str) -> None:
            try:
                async with self.session.post(
                        self.base + path, params={"access_token": token}, data=data,
                        headers={"Content-Type": "application/json; charset=utf-8"},
                        timeout=self.timeout) as response:
                    _raise_for_server(response)
                    answer = await _json_answer(response)
            except TimeoutError:
                raise SendUnknown(f"{path}: timed out") from None
            except aiohttp.ServerDisconnectedError:
                raise SendUnknown(f"{path}: the connection closed before an answer") from None
            except aiohttp.ClientError as error:
                raise ApiUnavailable(f"{path}: {_describe(error)}") from None
            _check(answer)

        await self._with_token(call)

    # --- transport ------------------------------------------------------------------------

    async def _download(self, url: str, params: dict[str, str] | None, evidence_dir: Path,
                        follow: bool = True) -> StoredMedia:
        async def attempt() -> StoredMedia:
            async with self._get_checked(URL(url), params) as response:
                _raise_for_server(response)
                mime = response.content_type or "application/octet-stream"
                if not _is_json(mime):
                    return await _store(response, mime, evidence_dir)
                answer = await _json_answer(response)
            video_url = answer.get("video_url")
            if follow and isinstance(video_url, str) and video_url:
                # A video: WeChat answers with a URL to the file itself.
                return await self._download(video_url, None, evidence_dir, False)
            _check(answer)
            raise ApiUnavailable("WeChat answered JSON without the media")

        return await self._retrying("download", "", attempt)

    @contextlib.asynccontextmanager
    async def _get_checked(self, url: URL, params: dict[str, str] | None
                           ) -> AsyncIterator[aiohttp.ClientResponse]:
        """GET `url`, following redirects only to where a download may go (egress)."""
        for _ in range(MAX_REDIRECTS + 1):
            try:
                self.egress.check(url)
            except OffList as error:
                raise ApiError(OFF_LIST, f"download refused: {error}") from None
            try:
                response = await self.session.get(url, params=params, allow_redirects=False,
                                                  timeout=self.download_timeout)
            except aiohttp.ClientConnectorError as error:
                if isinstance(error.os_error, NotPublic):
                    raise ApiError(OFF_LIST, f"download refused: {error.os_error}") from None
                raise
            if response.status not in (301, 302, 303, 307, 308):
                try:
                    yield response
                finally:
                    response.release()
                return
            location = response.headers.get("Location", "")
            response.release()
            url, params = url.join(URL(location)), None
        raise ApiError(OFF_LIST, f"download refused: more than {MAX_REDIRECTS} redirects")

    async def _request_json(self, method: str, path: str, *,
                            params: dict[str, str] | None = None,
                            json_body: dict[str, Any] | None = None,
                            data: bytes | None = None) -> dict[str, Any]:
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if data else None

        async def attempt() -> dict[str, Any]:
            async with self.session.request(method, self.base + path, params=params,
                                            data=data, headers=headers, allow_redirects=False,
                                            timeout=self.timeout) as response:
                _raise_for_server(response)
                answer = await _json_answer(response)
            _check(answer)
            return answer

        return await self._retrying(path, f"{path}: ", attempt)

    async def _retrying(self, what: str, prefix: str, attempt: Callable[[], Awaitable[T]]
                        ) -> T:
        """Run `attempt`, again after timeouts, 5xx and "busy", at most retry.attempts times."""
        for number in range(1, self.retry.attempts + 1):
            try:
                return await attempt()
            except (aiohttp.ClientError, TimeoutError, ApiUnavailable) as error:
                reason = _describe(error)
                if number == self.retry.attempts:
                    raise ApiUnavailable(prefix + reason) from None
                log.info("WeChat %s failed (%s), attempt %d", what, reason, number)
                await asyncio.sleep(self.retry.delay(number))
        raise AssertionError("retry.attempts must be at least 1")


@contextlib.asynccontextmanager
async def open_api(settings: Settings, **options: Any) -> AsyncIterator[WeChatAPI]:
    """A client with its own HTTP session and token store, closed on exit."""
    tokens = TokenStore(settings.db_path, settings.wechat_app_id)
    egress = Egress(settings.wechat_api_base_url, settings.media_hosts)
    try:
        connector = aiohttp.TCPConnector(resolver=egress.resolver())
        async with aiohttp.ClientSession(connector=connector) as session:
            yield WeChatAPI(settings, session, tokens, egress, **options)
    finally:
        tokens.close()


async def _store(response: aiohttp.ClientResponse, mime: str, evidence_dir: Path
                 ) -> StoredMedia:
    """Stream a body to a temporary file while hashing it, then move it under its hash."""
    incoming = evidence_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(dir=incoming)
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in response.content.iter_chunked(CHUNK):
                size += len(chunk)
                if size > MAX_MEDIA_BYTES:
                    raise ApiError(TOO_LARGE, f"media larger than {MAX_MEDIA_BYTES} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            # Evidence-grade: the bytes are on disk before the database says "fetched".
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        final = evidence_path(evidence_dir, sha256)
        final.parent.mkdir(exist_ok=True)
        os.replace(name, final)  # the same bytes may arrive twice: same name, same content
        _fsync_dir(final.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    return StoredMedia(sha256, size, mime, final)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _raise_for_server(response: aiohttp.ClientResponse) -> None:
    if response.status >= 500 or response.status == 429:
        raise ApiUnavailable(f"HTTP {response.status}")
    if response.status >= 300:  # 3xx too: the API never redirects its JSON calls
        raise ApiError(0, f"HTTP {response.status}")


async def _json_answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """Read a JSON answer, at most MAX_ANSWER_BYTES of it; a large one is parsed on a thread."""
    declared = response.content_length
    if declared is not None and declared > MAX_ANSWER_BYTES:
        raise ApiUnavailable(f"WeChat's answer is larger than {MAX_ANSWER_BYTES} bytes")
    body = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise ApiUnavailable(f"WeChat's answer is larger than {MAX_ANSWER_BYTES} bytes")
    if len(body) > PARSE_OFF_LOOP:
        return await asyncio.to_thread(_decode, bytes(body))
    return _decode(bytes(body))


def _is_json(mime: str) -> bool:
    # WeChat labels its JSON error answers text/plain as often as application/json.
    return mime in ("application/json", "text/plain", "text/json")


def _decode(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise ApiUnavailable("WeChat answered with something that is not JSON") from None
    if not isinstance(answer, dict):
        raise ApiUnavailable("WeChat answered with JSON that is not an object")
    return answer


def _check(answer: dict[str, Any]) -> None:
    """Raise what an error answer means: -1 (busy) is worth another try, others are not."""
    errcode = answer.get("errcode", 0)
    if errcode == -1:
        raise ApiUnavailable("WeChat is busy (-1)")
    if errcode:
        if isinstance(errcode, bool) or not isinstance(errcode, int):
            raise ApiUnavailable("WeChat answered an errcode that is not a number")
        raise ApiError(errcode, _safe_errmsg(answer.get("errmsg", "")))


# An access token looks like this: never let one through into a log line.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9_\-]{40,}")


def _safe_errmsg(errmsg: object) -> str:
    """WeChat's errmsg as it may be logged: one line, bounded, inert, no token in it."""
    text = inert(" ".join(str(errmsg).split()))[:200]
    return _TOKEN_LIKE.sub("[redacted]", text)


def _describe(error: BaseException) -> str:
    """Say what went wrong without the URL: its query holds the access token."""
    if isinstance(error, ApiUnavailable):
        return str(error)
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectionError):
        return f"connection failed ({type(error).__name__})"
    return type(error).__name__
