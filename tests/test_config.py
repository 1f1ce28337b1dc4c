"""Configuration: read once, the environment wins, a bad value names its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.devenv import write_dev_env
from bot.config import WEBHOOK, ConfigError, load_settings


def test_the_environment_wins_over_the_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("WECHAT_TOKEN=fromfile\nTIPLINE_PORT=9000\n")
    settings = load_settings(environ={"WECHAT_TOKEN": "fromenv"}, dotenv_path=dotenv)
    assert (settings.wechat_token, settings.port) == ("fromenv", 9000)


def test_defaults_match_the_contract() -> None:
    settings = load_settings(environ={}, dotenv_path=None)
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com"
    assert settings.wechat_timestamp_tolerance == 300
    assert str(settings.db_path) == "data/tipline.db"
    assert (settings.host, settings.port, settings.lang) == ("127.0.0.1", 8080, "zh")
    assert not settings.safe_mode and not settings.api_enabled


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"TIPLINE_SECRET_KEY": "k" * 32}, "WECHAT_TOKEN"),
        ({"WECHAT_TOKEN": "abc123"}, "TIPLINE_SECRET_KEY"),
        ({"WECHAT_TOKEN": "abc123", "TIPLINE_SECRET_KEY": "short"}, "TIPLINE_SECRET_KEY"),
        ({"WECHAT_TOKEN": "has space", "TIPLINE_SECRET_KEY": "k" * 32}, "WECHAT_TOKEN"),
    ],
)
def test_serve_settings_name_what_is_missing(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(WEBHOOK, environ=environ, dotenv_path=None)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WECHAT_ENCODING_AES_KEY", "a" * 42),
        ("WECHAT_ENCODING_AES_KEY", "a" * 42 + "!"),
        ("WECHAT_APP_ID", "not-an-app-id"),
        ("WECHAT_TIMESTAMP_TOLERANCE", "five minutes"),
        ("WECHAT_TIMESTAMP_TOLERANCE", "-1"),
        ("TIPLINE_PORT", "70000"),
        ("TIPLINE_LANG", "fr"),
        ("WECHAT_API_BASE_URL", "api.weixin.qq.com"),
    ],
)
def test_an_invalid_value_names_its_variable(name: str, value: str) -> None:
    environ = {"WECHAT_APP_ID": "wx2c2769f8efd9abc2", name: value}
    with pytest.raises(ConfigError, match=name):
        load_settings(environ=environ, dotenv_path=None)


def test_safe_mode_needs_the_app_id() -> None:
    with pytest.raises(ConfigError, match="WECHAT_APP_ID"):
        load_settings(environ={"WECHAT_ENCODING_AES_KEY": "a" * 43}, dotenv_path=None)


def test_investigator_commands_need_only_the_database() -> None:
    settings = load_settings(environ={"TIPLINE_DB": "/tmp/copy.db"}, dotenv_path=None)
    assert str(settings.db_path) == "/tmp/copy.db"


def test_make_run_writes_a_dev_env_once_with_fresh_secrets(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    assert write_dev_env(first) and write_dev_env(second)
    assert not write_dev_env(first)  # an existing .env is never overwritten
    a = load_settings(WEBHOOK, environ={}, dotenv_path=first)
    b = load_settings(WEBHOOK, environ={}, dotenv_path=second)
    assert a.secret_key != b.secret_key and a.wechat_token != b.wechat_token
    assert first.stat().st_mode & 0o077 == 0


def test_tolerance_zero_is_refused_for_the_webhook_in_plaintext_mode() -> None:
    """Regression (hardening 7): WECHAT_TIMESTAMP_TOLERANCE=0 disabled replay protection."""
    plain = {"WECHAT_TOKEN": "abc123", "TIPLINE_SECRET_KEY": "k" * 32,
             "WECHAT_TIMESTAMP_TOLERANCE": "0"}
    with pytest.raises(ConfigError, match="WECHAT_TIMESTAMP_TOLERANCE=0 turns replay"):
        load_settings(WEBHOOK, environ=plain, dotenv_path=None)
    safe = {**plain, "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "WECHAT_APP_ID": "wx2c2769f8efd9abc2"}
    assert load_settings(WEBHOOK, environ=safe, dotenv_path=None).wechat_timestamp_tolerance == 0
    assert load_settings(environ=plain, dotenv_path=None)  # investigators' commands: no webhook


def test_the_contact_key_must_differ_from_the_pseudonym_key() -> None:
    same = {"TIPLINE_SECRET_KEY": "k" * 32, "TIPLINE_CONTACT_KEY": "k" * 32}
    with pytest.raises(ConfigError, match="TIPLINE_CONTACT_KEY must differ"):
        load_settings(environ=same, dotenv_path=None)


def test_a_dotenv_that_is_not_utf8_is_one_line_naming_it(tmp_path: Path) -> None:
    """Regression (hardening 15): a corrupt .env gave a traceback."""
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"WECHAT_TOKEN=\xff\xfe\x00abc\n")
    with pytest.raises(ConfigError, match=r"\.env is not UTF-8 text"):
        load_settings(environ={}, dotenv_path=dotenv)
