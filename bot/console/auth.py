"""Signing in and staying signed in: sessions in SQLite, CSRF, cross-site refusal, headers.

A request passes, in order: security headers on whatever it gets back → a cross-site POST
refused (Origin, Sec-Fetch-Site) → the session cookie looked up by its hash (alive: not
ended, idle or too old, the account neither disabled nor reset since) → every POST of a
signed-in user checked for the session's CSRF token in constant time → the role.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.console.web import CONSOLE, SESSION, address, local_path, render
from db import console as accounts_db
from triage import accounts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Paths open without a session.
PUBLIC = frozenset({"/login", "/static/console.css"})
ADMIN_ONLY = ("/audit", "/export")
# Content-Security-Policy: nothing inline, nothing from elsewhere, never framed.
CSP = ("default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer, errors included, carries the security headers."""
    try:
        response = await handler(request)
    except web.HTTPException as error:  # redirects and refusals: raised, with the headers
        for name, value in HEADERS.items():
            error.headers.setdefault(name, value)
        raise
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def same_site_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse state changes sent from another site (before anything else reads them)."""
    if request.method not in ("GET", "HEAD"):
        # Sec-Fetch-Site, sent by every current browser, decides. (With Referrer-Policy
        # no-referrer a browser's own same-origin form says `Origin: null`, so Origin
        # decides only for a client that sends no Sec-Fetch-Site.)
        site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        if site is not None:
            if site not in ("same-origin", "none"):
                raise web.HTTPForbidden(text="cross-site request refused")
        elif origin is not None and origin != f"{_scheme(request)}://{request.host}":
            raise web.HTTPForbidden(text="cross-site request refused")
    return await handler(request)


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the session; send the signed-out to /login; check CSRF and the role."""
    console = request.app[CONSOLE]
    token = request.cookies.get(console.cookie, "")
    session = None
    if token:
        now = int(time.time())
        found = await console.pool.run(accounts_db.find_session, accounts.token_hash(token))
        if found is not None and accounts.session_alive(found, now):
            session = found
            if now - found.seen_at >= 30:  # a write per half-minute of use, not per click
                await console.pool.run(accounts_db.touch_session, found.token_hash, now)
    request[SESSION] = session
    if request.path in PUBLIC:
        return await handler(request)
    if session is None:
        if request.method == "GET":
            raise web.HTTPSeeOther("/login")
        raise web.HTTPForbidden(text="sign in first")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise web.HTTPForbidden(text="bad or missing CSRF token")
    if request.path.startswith(ADMIN_ONLY) and session.user.role != "admin":
        return render(request, "error.html", status=403, message_key="forbidden")
    return await handler(request)


async def login_page(request: web.Request) -> web.StreamResponse:
    """The sign-in form (or the triage page, for the signed-in)."""
    if request.get(SESSION) is not None:
        raise web.HTTPSeeOther("/")
    return render(request, "login.html", error=None)


async def login(request: web.Request) -> web.StreamResponse:
    """Check the name, password and TOTP code; open a session."""
    console = request.app[CONSOLE]
    form = await request.post()
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    code = str(form.get("code", ""))[:16]
    where = address(request)
    now = int(time.time())
    scopes = accounts.throttle_scopes(name, where)
    # Throttled first, before any hashing: a flood costs a count, not an argon2 pass. The
    # attempt counts as a failure from the start, so parallel attempts cannot all pass.
    failures, attempt = await console.pool.run(accounts_db.open_attempt, scopes,
                                               now - accounts.THROTTLE_WINDOW, now)
    if accounts.throttled(failures):
        await console.pool.run(accounts_db.clear_attempt, attempt)
        await console.pool.run(accounts_db.audit, now, name or "?", "login throttled", "",
                               "", where)
        return render(request, "login.html", status=429, error="login_throttled")
    user = await console.pool.run(accounts_db.find_user, name)
    stored = user.password_hash if user is not None else accounts.decoy_hash()
    # argon2 takes tens of milliseconds: on a thread, so other users are not held up.
    right = await asyncio.to_thread(accounts.password_ok, stored, password)
    step = accounts.totp_step(user.totp_secret, code, now) if user is not None else None
    fresh = (user is not None and right and step is not None and user.disabled_at is None
             and await console.pool.run(accounts_db.use_totp_step, user.id, step))
    if not fresh or user is None:
        reason = ("no such account" if user is None else "disabled" if user.disabled_at
                  else "wrong password" if not right else "code reused or wrong")
        await console.pool.run(accounts_db.audit, now, name or "?", "login failed", "",
                               reason, where)
        return render(request, "login.html", status=401, error="login_failed")
    await console.pool.run(accounts_db.clear_attempt, attempt)
    token, csrf = accounts.new_token(), accounts.new_token()
    await console.pool.run(accounts_db.open_session, accounts.token_hash(token), user.id, csrf,
                           "zh", where, now)
    await console.pool.run(accounts_db.audit, now, user.name, "login", "", "", where)
    response = web.HTTPSeeOther("/")
    response.set_cookie(console.cookie, token, path="/", httponly=True, secure=console.secure,
                        samesite="Strict", max_age=accounts.ABSOLUTE_SECONDS)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    console = request.app[CONSOLE]
    session = request[SESSION]
    assert session is not None
    now = int(time.time())
    await console.pool.run(accounts_db.revoke_session, session.token_hash, now)
    await console.pool.run(accounts_db.audit, now, session.user.name, "logout", "", "",
                           address(request))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(console.cookie, path="/", secure=console.secure, samesite="Strict")
    raise response


async def switch_lang(request: web.Request) -> web.StreamResponse:
    """Switch the session between Chinese and English."""
    console = request.app[CONSOLE]
    session = request[SESSION]
    assert session is not None
    lang = "en" if session.lang == "zh" else "zh"
    await console.pool.run(accounts_db.set_session_lang, session.token_hash, lang)
    back = str((await request.post()).get("back", "/"))
    raise web.HTTPSeeOther(local_path(back))


def _scheme(request: web.Request) -> str:
    """The scheme the browser used (nginx in front says so in X-Forwarded-Proto)."""
    if request.remote in ("127.0.0.1", "::1"):
        return request.headers.get("X-Forwarded-Proto", request.scheme)
    return request.scheme
