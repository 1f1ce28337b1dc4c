"""Settings: read once from the environment (and `.env`), validated, frozen.

Nothing else in the project calls `os.getenv`. A command asks for the settings it
needs (`require=`), so investigator commands run on a machine that holds only a copy
of the database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"

# What WeChat's console itself accepts: 3-32 letters or digits.
_TOKEN = re.compile(r"[A-Za-z0-9]{3,32}")
# The EncodingAESKey is 43 characters of base64 without its "=" padding.
_AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")
_APP_ID = re.compile(r"wx[0-9a-fA-F]{16}")


# WeChat serves media from these (the API itself, its image and video CDNs): where a
# download may go besides WECHAT_API_BASE_URL (TIPLINE_MEDIA_HOSTS replaces the list).
DEFAULT_MEDIA_HOSTS = ("qq.com", "qpic.cn", "wechat.com")


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Tipline reads from its environment, validated."""

    wechat_token: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_encoding_aes_key: str = ""
    wechat_api_base_url: str = DEFAULT_API_BASE_URL
    wechat_timestamp_tolerance: int = 300
    db_path: Path = Path("data/tipline.db")
    evidence_dir: Path = Path("data/evidence")
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    lang: str = "zh"
    draft_ttl: int = 24 * 3600
    readers: int = 1
    read_max_bytes: int = 20 * 1024 * 1024
    read_max_pixels: int = 40_000_000
    read_seconds: int = 60
    read_memory_mb: int = 1536
    console_host: str = "127.0.0.1"
    console_port: int = 8081
    console_secure_cookie: bool = True
    contact_key: str = ""
    notify_template_id: str = ""
    media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS

    @property
    def safe_mode(self) -> bool:
        """Whether encrypted (safe or compatible mode) requests can be decrypted."""
        return bool(self.wechat_encoding_aes_key)

    @property
    def api_enabled(self) -> bool:
        """Whether the WeChat API (media download, menus) can be called."""
        return bool(self.wechat_app_id and self.wechat_app_secret)


# The variables a command may require, by name.
WEBHOOK = ("WECHAT_TOKEN", "TIPLINE_SECRET_KEY")
CHAT = ("WECHAT_TOKEN",)


def load_settings(
    require: Collection[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
    dotenv_path: str | os.PathLike[str] | None = ".env",
    db_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Read `.env` and the environment (the environment wins) into validated settings."""
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        try:
            found = dotenv_values(dotenv_path)
        except UnicodeDecodeError:
            raise ConfigError(f"{dotenv_path} is not UTF-8 text: save it as UTF-8") from None
        except OSError as error:
            raise ConfigError(f"cannot read {dotenv_path}: {error.strerror}") from None
        values.update({k: v for k, v in found.items() if v is not None})
    values.update(os.environ if environ is None else environ)

    def get(name: str) -> str:
        value = values.get(name, "").strip()
        if not value and name in require:
            raise ConfigError(f"{name} is required: set it in the environment or in .env")
        return value

    token = get("WECHAT_TOKEN")
    if token and not _TOKEN.fullmatch(token):
        raise ConfigError("WECHAT_TOKEN must be 3-32 letters or digits (as in the WeChat console)")

    aes_key = get("WECHAT_ENCODING_AES_KEY")
    if aes_key and not _AES_KEY.fullmatch(aes_key):
        raise ConfigError(
            f"WECHAT_ENCODING_AES_KEY must be exactly 43 letters or digits, got {len(aes_key)} "
            "characters"
        )
    app_id = get("WECHAT_APP_ID")
    if app_id and not _APP_ID.fullmatch(app_id):
        raise ConfigError("WECHAT_APP_ID must look like wx followed by 16 hex digits")
    if aes_key and not app_id:
        raise ConfigError(
            "WECHAT_APP_ID is required when WECHAT_ENCODING_AES_KEY is set "
            "(safe mode checks the AppID inside every message)"
        )

    tolerance = _integer(values, "WECHAT_TIMESTAMP_TOLERANCE", 300, 0, 86400)
    if tolerance == 0 and not aes_key and "WECHAT_TOKEN" in require:
        # The plaintext signature is a SHA-1 of token+timestamp+nonce run together: one
        # captured URL re-splits into other (timestamp, nonce) pairs, each fresh once no
        # time window bounds them, and the body is not signed at all.
        raise ConfigError("WECHAT_TIMESTAMP_TOLERANCE=0 turns replay protection off in "
                          "plaintext mode: use a window (300) or set WECHAT_ENCODING_AES_KEY")

    base_url = get("WECHAT_API_BASE_URL") or DEFAULT_API_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("WECHAT_API_BASE_URL must be an http:// or https:// URL")

    secret_key = get("TIPLINE_SECRET_KEY")
    if secret_key and len(secret_key) < 16:
        raise ConfigError("TIPLINE_SECRET_KEY must be at least 16 characters")

    contact_key = get("TIPLINE_CONTACT_KEY")
    if contact_key and len(contact_key) < 16:
        raise ConfigError("TIPLINE_CONTACT_KEY must be at least 16 characters")
    if contact_key and contact_key == secret_key:
        raise ConfigError("TIPLINE_CONTACT_KEY must differ from TIPLINE_SECRET_KEY")

    lang = get("TIPLINE_LANG") or "zh"
    if lang not in ("zh", "en"):
        raise ConfigError("TIPLINE_LANG must be zh or en")

    return Settings(
        wechat_token=token,
        wechat_app_id=app_id,
        wechat_app_secret=get("WECHAT_APP_SECRET"),
        wechat_encoding_aes_key=aes_key,
        wechat_api_base_url=base_url.rstrip("/"),
        wechat_timestamp_tolerance=tolerance,
        db_path=Path(db_path or get("TIPLINE_DB") or "data/tipline.db"),
        evidence_dir=Path(get("TIPLINE_EVIDENCE_DIR") or "data/evidence"),
        secret_key=secret_key,
        host=get("TIPLINE_HOST") or "127.0.0.1",
        port=_integer(values, "TIPLINE_PORT", 8080, 1, 65535),
        lang=lang,
        # Not in the core table: how long a half-written report waits for its reporter.
        draft_ttl=_integer(values, "TIPLINE_DRAFT_TTL", 24 * 3600, 60, 30 * 86400),
        # The image reader (bot/reader/): how many processes, and what one image may cost.
        # 0 readers: images are kept but read only by `tipline evidence read`.
        readers=_integer(values, "TIPLINE_READERS", 1, 0, 16),
        read_max_bytes=_integer(values, "TIPLINE_READ_MAX_BYTES", 20 * 1024 * 1024,
                                1024, 1024 * 1024 * 1024),
        read_max_pixels=_integer(values, "TIPLINE_READ_MAX_PIXELS", 40_000_000,
                                 10_000, 1_000_000_000),
        read_seconds=_integer(values, "TIPLINE_READ_SECONDS", 60, 1, 3600),
        read_memory_mb=_integer(values, "TIPLINE_READ_MEMORY_MB", 1536, 256, 65536),
        console_host=get("TIPLINE_CONSOLE_HOST") or "127.0.0.1",
        console_port=_integer(values, "TIPLINE_CONSOLE_PORT", 8081, 1, 65535),
        console_secure_cookie=_integer(values, "TIPLINE_CONSOLE_SECURE_COOKIE", 1, 0, 1) == 1,
        # Feedback to reporters: the key sealing OpenIDs (empty: no pushes, only replies),
        # and a template for status pushes outside WeChat's 48-hour window.
        contact_key=contact_key,
        notify_template_id=get("TIPLINE_NOTIFY_TEMPLATE_ID"),
        media_hosts=_hosts(values, "TIPLINE_MEDIA_HOSTS", DEFAULT_MEDIA_HOSTS),
    )


def _hosts(values: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of host names (suffixes), or the default when unset."""
    raw = values.get(name, "").strip()
    if not raw:
        return default
    hosts = tuple(h.strip().lower().strip(".") for h in raw.split(",") if h.strip())
    bad = [h for h in hosts if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", h)]
    if bad:
        raise ConfigError(f"{name}: not a host name: {bad[0]}")
    return hosts


def _integer(values: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """Parse an integer setting within [low, high], naming the variable when it is not."""
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {number}")
    return number
