"""A console on a real port over a test database, accounts with real TOTP, and a client."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pyotp
from aiohttp.test_utils import TestServer

from bot.config import Settings
from bot.console.app import init_console
from db.connection import connect
from db.console import add_user, find_user
from db.migrations import migrate
from triage.accounts import hash_password, new_totp_secret

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Account:
    """A console account as its owner knows it."""

    name: str
    role: str
    secret: str

    def code(self, offset: int = 0) -> str:
        """The TOTP code of now (or `offset` steps away)."""
        return str(pyotp.TOTP(self.secret).at(time.time() + 30 * offset))


def make_account(db_path: Path, name: str, role: str = "investigator") -> Account:
    """Add a console account to the database."""
    db = connect(db_path)
    migrate(db)
    secret = new_totp_secret()
    add_user(db, name, role, hash_password(PASSWORD), secret, int(time.time()))
    db.close()
    return Account(name, role, secret)


def user_id(db_path: Path, name: str) -> int:
    db = connect(db_path)
    found = find_user(db, name)
    db.close()
    assert found is not None
    return found.id


@asynccontextmanager
async def console_server(settings: Settings, secure: bool = False) -> AsyncIterator[str]:
    """The console on a free port of 127.0.0.1; yields its base URL."""
    settings = dataclasses.replace(settings, console_secure_cookie=secure)
    server = TestServer(init_console(settings), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class Browser:
    """An HTTP client with its own cookies, as one browser is."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str, **kwargs: object) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.session.get(self.base + path, allow_redirects=False,
                                    **kwargs) as response:  # type: ignore[arg-type]
            body = await response.read()
            text = body.decode("utf-8", "replace")
            found = _CSRF.search(text)
            if found:
                self.csrf = found.group(1)
            return response.status, text, response

    async def post(self, path: str, data: dict[str, object], *, csrf: bool = True,
                   headers: dict[str, str] | None = None
                   ) -> tuple[int, str, aiohttp.ClientResponse]:
        form = {**data, **({"csrf": self.csrf} if csrf else {})}
        async with self.session.post(self.base + path, data=form, allow_redirects=False,
                                     headers=headers or {}) as response:
            return response.status, await response.text(), response

    async def sign_in(self, account: Account, code: str | None = None) -> int:
        status, _, _ = await self.post("/login", {
            "name": account.name, "password": PASSWORD, "code": code or account.code()},
            csrf=False)
        if status == 303:
            await self.get("/assigned")  # picks up the CSRF token (and is no triage visit)
        return status
