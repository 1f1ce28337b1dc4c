"""The console in a real browser: Debian's headless Chromium, driven by selenium.

An investigator signs in with a password and a code, sees what is new and big, opens a
payment code's entity page and a report with its photos, escalates it; an admin then
finds all of it in the audit log. The page never trips its Content-Security-Policy, and
a `<script>` a reporter typed stays text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.reader.service import Reader
from tests.conftest import free_port
from tests.console_kit import PASSWORD, Account, make_account
from tests.desk import Desk
from tests.images import CHAT_ZH, WECHAT_PAY, encoded, qr
from tests.test_reading import photo

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them)")


@pytest.fixture
def console(desk: Desk, tmp_path: Path) -> Iterator[str]:
    """`tipline console` as a real process, on plain http (secure cookie off)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "TIPLINE_"))}
    env.update(TIPLINE_DB=str(desk.path), TIPLINE_EVIDENCE_DIR=str(tmp_path / "evidence"),
               TIPLINE_CONSOLE_PORT=str(port), TIPLINE_CONSOLE_SECURE_COOKIE="0")
    log = (tmp_path / "console.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "console"], env=env,
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(url + "/login", timeout=1).close()
            break
        except OSError:
            assert process.poll() is None, (tmp_path / "console.log").read_text()
            assert time.monotonic() < deadline, "the console did not start"
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(10)
    assert "Traceback" not in (tmp_path / "console.log").read_text()


@pytest.fixture
def chrome(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path / 'chrome'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def sign_in(driver: Any, url: str, account: Account, offset: int = 0) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/login")
    driver.find_element(By.NAME, "name").send_keys(account.name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.NAME, "code").send_keys(account.code(offset))
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()


def csp_violations(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]]


def test_an_investigator_escalates_a_payment_code_case_and_the_admin_sees_it_audited(
    desk: Desk, tmp_path: Path, console: str, chrome: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    settings = Settings(db_path=desk.path, evidence_dir=tmp_path / "evidence")
    receipts = []
    for n, who in enumerate(("p_a", "p_b", "p_c")):
        receipt = desk.file(f"agent{n}-ex.com", reporter=who, target_type="payment",
                            description="<script>alert('x')</script> 让我扫码付款")
        photo(desk, settings, encoded(qr(WECHAT_PAY, scale=6 + n)), receipt=receipt,
              reporter=who)
        receipts.append(receipt)
    photo(desk, settings, CHAT_ZH.read_bytes(), receipt=receipts[0], reporter="p_a",
          mime="image/png")
    reader = Reader(settings, "browser-test-reader")
    try:
        while reader.run_once() is not None:
            pass
    finally:
        reader.close()
    alice = make_account(desk.path, "alice")
    root = make_account(desk.path, "root", "admin")

    sign_in(chrome, console, alice)
    WebDriverWait(chrome, 10).until(lambda d: d.current_url == console + "/")
    money = chrome.find_element(By.ID, "money")
    link = money.find_element(By.LINK_TEXT, WECHAT_PAY)
    link.click()
    assert chrome.find_element(By.ID, "entity-value").text == WECHAT_PAY
    assert "3 举报人" in chrome.page_source or "3 举报" in chrome.page_source
    chrome.find_element(By.LINK_TEXT, receipts[0]).click()

    assert chrome.find_element(By.ID, "receipt").text == receipts[0]
    images = chrome.find_elements(By.CSS_SELECTOR, "article.evidence img")
    assert len(images) == 2
    assert all(chrome.execute_script("return arguments[0].naturalWidth", img) > 0
               for img in images)
    assert "huobi_kefu88" in chrome.find_element(By.CSS_SELECTOR, "#evidence-4").text
    described = chrome.find_element(By.ID, "description").text
    assert "<script>alert('x')</script>" in described  # shown as text, never run
    assert chrome.execute_script("return document.scripts.length") == 0

    Select(chrome.find_element(By.NAME, "status")).select_by_value("escalated")
    chrome.find_element(By.NAME, "note").send_keys("payee matches three reports")
    chrome.find_element(By.ID, "save").click()
    WebDriverWait(chrome, 10).until(lambda d: "saved=1" in d.current_url)
    assert chrome.find_element(By.ID, "status").text == "escalated"
    assert desk.rows("SELECT status FROM reports WHERE receipt = ?",
                     (receipts[0].replace("-", ""),)) == [("escalated",)]
    chrome.find_element(By.ID, "switch-lang").click()
    WebDriverWait(chrome, 10).until(lambda d: "Sign out" in d.page_source)
    assert csp_violations(chrome) == []
    chrome.find_element(By.ID, "logout").click()
    WebDriverWait(chrome, 10).until(lambda d: d.current_url == console + "/login")

    sign_in(chrome, console, root)
    WebDriverWait(chrome, 10).until(lambda d: d.current_url == console + "/")
    chrome.get(console + "/audit")
    rows = [row.text for row in chrome.find_elements(By.CSS_SELECTOR, "table.audit tbody tr")]
    for action in ("login", "view entity", "view report", "view evidence thumbnail", "case",
                   "logout"):
        assert any(f"alice {action}" in row for row in rows), action
    assert csp_violations(chrome) == []
