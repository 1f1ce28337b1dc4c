"""The investigator console over HTTP: every refusal, every header, every audit entry.

A real console on a real port over a real SQLite file, accounts with real argon2id
hashes and TOTP codes; the browser-level story is tests/test_console_browser.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import rows
from tests.console_kit import Account, Browser, console_server, make_account
from tests.desk import Desk, tipline
from tests.images import WECHAT_PAY, encoded, qr
from tests.test_reading import photo
from triage.accounts import MAX_FAILURES_PER_NAME


@pytest.fixture
def console_settings(desk: Desk, tmp_path: Path) -> Settings:
    return Settings(db_path=desk.path, evidence_dir=tmp_path / "evidence")


@pytest.fixture
async def base(console_settings: Settings) -> AsyncIterator[str]:
    async with console_server(console_settings) as url:
        yield url


@pytest.fixture
async def browser(base: str) -> AsyncIterator[Browser]:
    one = Browser(base)
    yield one
    await one.close()


@pytest.fixture
def alice(desk: Desk) -> Account:
    return make_account(desk.path, "alice")


@pytest.fixture
def root(desk: Desk) -> Account:
    return make_account(desk.path, "root", "admin")


def audit(desk: Desk) -> list[tuple[str, str, str]]:
    return [(a, b, c) for a, b, c in desk.rows(
        "SELECT actor, action, target FROM audit_log ORDER BY id")]


# --- signing in -------------------------------------------------------------------------------


async def test_without_a_session_pages_send_you_to_sign_in_and_posts_are_refused(
    browser: Browser, desk: Desk
) -> None:
    receipt = desk.file("site.example-ex.com")
    for path in ("/", f"/reports/{receipt}", "/entities/domain/example-ex.com", "/audit",
                 "/search?q=x", "/evidence/" + "a" * 64):
        status, _, response = await browser.get(path)
        assert (status, response.headers["Location"]) == (303, "/login"), path
    status, _, _ = await browser.post(f"/reports/{receipt}", {"status": "closed"}, csrf=False)
    assert status == 403
    assert desk.rows("SELECT status FROM reports") == [("new",)]


async def test_an_investigator_signs_in_with_a_password_and_a_code(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    assert await browser.sign_in(alice) == 303
    status, page, _ = await browser.get("/")
    assert status == 200 and "研判" in page and "alice" in page
    assert ("alice", "login", "") in audit(desk)


@pytest.mark.parametrize("wrong", ["password", "code", "name"])
async def test_a_wrong_password_code_or_name_gets_the_same_answer(
    browser: Browser, alice: Account, desk: Desk, wrong: str
) -> None:
    form = {"name": "alice", "password": "correct horse battery", "code": alice.code()}
    form[wrong] = {"password": "guess guess guess", "code": "000000", "name": "mallory"}[wrong]
    status, page, response = await browser.post("/login", form, csrf=False)
    assert status == 401 and "不正确" in page
    assert "Set-Cookie" not in response.headers
    assert audit(desk)[-1][1] == "login failed"


async def test_a_totp_code_works_once(base: str, alice: Account) -> None:
    code = alice.code()
    first, second = Browser(base), Browser(base)
    try:
        assert await first.sign_in(alice, code) == 303
        assert await second.sign_in(alice, code) == 401  # replayed
    finally:
        await first.close()
        await second.close()


async def test_logins_are_throttled_per_name_known_or_not(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    for name in ("alice", "nobody-at-all"):
        for _ in range(MAX_FAILURES_PER_NAME):
            status, _, _ = await browser.post("/login", {
                "name": name, "password": "wrong wrong wrong", "code": "123456"}, csrf=False)
            assert status == 401
        status, page, _ = await browser.post("/login", {
            "name": name, "password": "correct horse battery", "code": alice.code()},
            csrf=False)
        assert status == 429 and "15" in page
    assert ("alice", "login throttled", "") in audit(desk)


async def test_a_burst_of_parallel_guesses_gets_no_more_tries_than_one_after_another(
    base: str, alice: Account, desk: Desk
) -> None:
    guessers = [Browser(base) for _ in range(4 * MAX_FAILURES_PER_NAME)]
    try:
        answers = await asyncio.gather(*(guesser.post("/login", {
            "name": "alice", "password": f"guess {n}", "code": "123456"}, csrf=False)
            for n, guesser in enumerate(guessers)))
    finally:
        await asyncio.gather(*(guesser.close() for guesser in guessers))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(401) == MAX_FAILURES_PER_NAME
    assert statuses.count(429) == len(guessers) - MAX_FAILURES_PER_NAME


async def test_the_session_cookie_is_host_only_secure_httponly_and_strict(
    console_settings: Settings, alice: Account
) -> None:
    async with console_server(console_settings, secure=True) as url:
        browser = Browser(url)
        try:
            status, _, response = await browser.post("/login", {
                "name": "alice", "password": "correct horse battery", "code": alice.code()},
                csrf=False)
        finally:
            await browser.close()
    assert status == 303
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-tipline=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie


async def test_only_the_hash_of_a_session_token_is_stored(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    await browser.sign_in(alice)
    token = next(c.value for c in browser.session.cookie_jar if c.key == "tipline")
    assert desk.rows("SELECT token_hash FROM sessions") == [
        (hashlib.sha256(token.encode()).hexdigest(),)]


@pytest.mark.parametrize("ending", ["logout", "disable", "reset", "idle", "age"])
async def test_logout_disable_reset_and_timeouts_end_sessions(
    base: str, desk: Desk, ending: str
) -> None:
    account = make_account(desk.path, f"user-{ending}")
    browser = Browser(base)
    try:
        assert await browser.sign_in(account) == 303
        if ending == "logout":
            assert (await browser.post("/logout", {}))[0] == 303
        elif ending in ("disable", "reset"):
            result = tipline(desk.path, "user", ending, account.name, *(
                ("--password-stdin", "--json") if ending == "reset" else ()),
                input="another good password\n")
            assert result.exit_code == 0, result.output
        elif ending == "idle":
            desk.db.execute("UPDATE sessions SET seen_at = seen_at - 31 * 60")
        else:  # older than a working day, however busy
            desk.db.execute("UPDATE sessions SET created_at = created_at - 13 * 3600")
            desk.db.execute("UPDATE users SET credentials_at = credentials_at - 14 * 3600")
        status, _, response = await browser.get("/")
        assert (status, response.headers.get("Location")) == (303, "/login")
    finally:
        await browser.close()


# --- every state change: a CSRF token, same site, the right role ----------------------------


async def test_a_post_without_the_sessions_csrf_token_changes_nothing(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipt = desk.file("site.example-ex.com")
    await browser.sign_in(alice)
    status, _, _ = await browser.post(f"/reports/{receipt}",
                                      {"status": "closed", "csrf": "forged"}, csrf=False)
    assert status == 403
    status, _, _ = await browser.post(f"/reports/{receipt}", {"status": "closed"}, csrf=False)
    assert status == 403
    assert desk.rows("SELECT status FROM reports") == [("new",)]


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Sec-Fetch-Site": "cross-site"}])
async def test_a_cross_site_post_is_refused_even_with_the_token(
    browser: Browser, alice: Account, desk: Desk, headers: dict[str, str]
) -> None:
    receipt = desk.file("site.example-ex.com")
    await browser.sign_in(alice)
    status, _, _ = await browser.post(f"/reports/{receipt}", {"status": "closed"},
                                      headers=headers)
    assert status == 403
    assert desk.rows("SELECT status FROM reports") == [("new",)]


async def test_an_investigator_changes_a_case_and_it_is_audited_and_in_history(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipt = desk.file("site.example-ex.com")
    await browser.sign_in(alice)
    await browser.get(f"/reports/{receipt}")
    status, _, response = await browser.post(f"/reports/{receipt}", {
        "status": "escalated", "assignee": "alice", "note": "same QR as last week"})
    assert status == 303 and response.headers["Location"].endswith("saved=1")
    assert desk.rows("SELECT status, assignee FROM reports") == [("escalated", "alice")]
    assert [row[0] for row in desk.rows("SELECT action FROM report_history ORDER BY id")] == [
        "filed", "status", "assign", "note"]
    assert ("alice", "view report", receipt) in audit(desk)
    assert ("alice", "case", receipt) in audit(desk)
    status, page, _ = await browser.get("/assigned")
    assert receipt in page


async def test_an_investigator_cannot_open_the_audit_log_or_export(
    browser: Browser, alice: Account
) -> None:
    await browser.sign_in(alice)
    for path in ("/audit", "/export"):
        assert (await browser.get(path))[0] == 403
    assert (await browser.post("/export", {}))[0] == 403


async def test_an_admin_sees_the_audit_log_and_exports_csv(
    browser: Browser, root: Account, desk: Desk
) -> None:
    desk.file("site.example-ex.com")
    await browser.sign_in(root)
    status, page, _ = await browser.get("/audit")
    assert status == 200 and "login" in page
    await browser.get("/export")
    status, body, response = await browser.post("/export", {"status": "new"})
    assert status == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert body.lstrip("\ufeff").startswith("receipt,") and "example-ex.com" in body
    assert ("root", "export", "") in audit(desk)


# --- what pages show, and how ----------------------------------------------------------------


async def test_every_page_carries_the_security_headers(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipt = desk.file("site.example-ex.com")
    pages = ["/login"]
    await browser.sign_in(alice)
    pages += ["/", f"/reports/{receipt}", "/entities/domain/example-ex.com", "/search?q=abc",
              "/assigned", "/audit"]
    for path in pages:
        _, _, response = await browser.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp, path
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


async def test_reporter_text_is_escaped_and_links_are_defanged(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipt = desk.file("https://evil-ex.com/x 客服",
                        description='<script>alert(1)</script> <img src=x onerror=alert(2)>')
    await browser.sign_in(alice)
    status, page, _ = await browser.get(f"/reports/{receipt}")
    assert status == 200
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "hxxps://evil-ex[.]com/x" in page and 'href="https://evil-ex.com' not in page


async def test_a_photo_is_served_to_a_signed_in_user_as_an_image_and_a_thumbnail(
    browser: Browser, alice: Account, desk: Desk, console_settings: Settings
) -> None:
    receipt = desk.file("pay.example-ex.com")
    data = encoded(qr(WECHAT_PAY), "PNG")
    photo(desk, console_settings, data, receipt=receipt, mime="image/png")
    sha = hashlib.sha256(data).hexdigest()
    await browser.sign_in(alice)
    _, page, _ = await browser.get(f"/reports/{receipt}")
    assert f'<img src="/evidence/{sha}?thumb=1"' in page
    status, _, response = await browser.get(f"/evidence/{sha}")
    assert status == 200 and response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline")
    status, _, response = await browser.get(f"/evidence/{sha}?thumb=1")
    assert status == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert ("alice", "view evidence", sha) in audit(desk)


async def test_an_html_file_sent_as_a_photo_is_never_served_as_a_page(
    browser: Browser, alice: Account, desk: Desk, console_settings: Settings
) -> None:
    receipt = desk.file("pay.example-ex.com")
    data = b"<html><script>alert(1)</script></html>"
    photo(desk, console_settings, data, receipt=receipt, mime="image/svg+xml")
    await browser.sign_in(alice)
    status, _, response = await browser.get(f"/evidence/{hashlib.sha256(data).hexdigest()}")
    assert status == 200 and response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_search_opens_a_receipt_and_lists_the_entities_an_identifier_names(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipt = desk.file("coinvip.example-ex.com 微信 coinvip888")
    await browser.sign_in(alice)
    status, _, response = await browser.get(f"/search?q={receipt.lower().replace('-', '')}")
    assert (status, response.headers["Location"]) == (303, f"/reports/{receipt}")
    status, page, _ = await browser.get("/search?q=coinvip888")
    assert '/entities/wechat_id/coinvip888' in page


async def test_an_entity_page_lists_its_reports_newest_first_a_page_at_a_time(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    receipts = [desk.file(f"big-ex.com 微信 agent{n:03d}", reporter=f"p_{n % 7}")
                for n in range(60)]
    tipline(desk.path, "triage")  # indexes the entity tables
    await browser.sign_in(alice)
    status, page, _ = await browser.get("/entities/domain/big-ex.com")
    assert status == 200 and receipts[-1] in page and receipts[0] not in page
    assert "60 举报" in page and "7 举报人" in page
    older = page.split('?before=')[1].split('"')[0]
    _, second, _ = await browser.get(f"/entities/domain/big-ex.com?before={older}")
    assert receipts[0] in second and receipts[-1] not in second


async def test_new_since_my_last_visit_is_kept_per_user(
    base: str, alice: Account, root: Account, desk: Desk
) -> None:
    desk.file("one.example-ex.com")
    first, second = Browser(base), Browser(base)
    try:
        await first.sign_in(alice)
        _, page, _ = await first.get("/")
        assert "首次访问" in page
        time.sleep(1.1)
        desk.file("two.example-ex.com", at=int(time.time()))
        _, page, _ = await first.get("/")
        assert 'id="new-reports">1<' in page
        await second.sign_in(root)
        _, page, _ = await second.get("/")
        assert "首次访问" in page  # root's first visit, whatever alice saw
    finally:
        await first.close()
        await second.close()


async def test_the_language_switch_sends_you_back_only_to_a_page_of_the_console(
    browser: Browser, alice: Account
) -> None:
    await browser.sign_in(alice)
    for back, landing in (("/assigned", "/assigned"), ("/\\evil.example", "/"),
                          ("//evil.example", "/"), ("https://evil.example", "/"),
                          ("/\tevil", "/")):
        status, _, response = await browser.post("/lang", {"back": back})
        assert (status, response.headers["Location"]) == (303, landing), back


async def test_a_link_with_dot_segments_opens_its_own_entity_page(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    hostile = "https://evil-ex.com/a/../../../audit?x=1#y"
    receipt = desk.file(f"网址 {hostile} 客服")
    tipline(desk.path, "triage")
    await browser.sign_in(alice)
    _, page, _ = await browser.get(f"/reports/{receipt}")
    [link] = [href for href in re.findall(r'href="(/entities/url/[^"]+)"', page)]
    assert "/" not in link.removeprefix("/entities/url/")
    status, entity, _ = await browser.get(link)
    assert status == 200 and receipt in entity


async def test_expired_sessions_and_old_failed_logins_are_forgotten_while_it_runs(
    console_settings: Settings, alice: Account, desk: Desk
) -> None:
    from tests.console_kit import user_id

    long_ago = int(time.time()) - 2 * 86400
    db = desk.db
    db.execute("INSERT INTO sessions (token_hash, user_id, csrf, lang, address, created_at, "
               "seen_at) VALUES ('old', ?, 'c', 'zh', '', ?, ?)",
               (user_id(desk.path, "alice"), long_ago, long_ago))
    db.execute("INSERT INTO login_failures (scope, at) VALUES ('name:alice', ?)", (long_ago,))
    async with console_server(console_settings):
        for _ in range(100):
            if not rows(desk.path, "SELECT 1 FROM sessions UNION ALL "
                                   "SELECT 1 FROM login_failures"):
                break
            await asyncio.sleep(0.05)
    assert rows(desk.path, "SELECT count(*) FROM sessions") == [(0,)]
    assert rows(desk.path, "SELECT count(*) FROM login_failures") == [(0,)]


def test_every_console_word_exists_in_both_languages() -> None:
    from bot.console.texts import EN, ZH

    assert set(ZH) == set(EN)


async def test_the_triage_page_lists_a_domains_urls_under_it_each_a_link(
    browser: Browser, alice: Account, desk: Desk
) -> None:
    for n in range(3):  # three links to one site, each from two people
        for reporter in (f"p_a{n}", f"p_b{n}"):
            desk.file(f"https://www.huobi-vip.com/reg?ref={n}", reporter=reporter)
    await browser.sign_in(alice)
    status, page, _ = await browser.get("/")
    assert status == 200
    assert page.count('<ul class="urls">') == 1
    for n in range(3):
        assert (f'<li><a href="/entities/url/https%3A%2F%2Fwww.huobi-vip.com%2Freg%3Fref%3D{n}">'
                in page)
    # A URL listed under its domain has no row of its own.
    assert page.count("https://www.huobi-vip.com/reg?ref=0</a>") == 1
