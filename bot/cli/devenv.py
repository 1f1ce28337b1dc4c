"""`make run`'s first step: write a development `.env` with fresh secrets, if none exists."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings

TEMPLATE = """\
# Development settings written by `make run` on first use. See .env.example for every
# variable. Paste WECHAT_TOKEN into the WeChat console (or the test account's page).
WECHAT_TOKEN={token}
TIPLINE_SECRET_KEY={secret}
TIPLINE_CONTACT_KEY={contact}
TIPLINE_DB=./data/tipline.db
TIPLINE_EVIDENCE_DIR=./data/evidence
TIPLINE_HOST=127.0.0.1
TIPLINE_PORT=8080
"""

# The command names the URL: another terminal has no `TIPLINE_PORT=… make run` in its
# environment, so a bare `tipline chat` would talk to .env's port instead.
HOW_TO_TALK = """\
Tipline will listen on {url}
Talk to it from another terminal, as a WeChat user would:
    .venv/bin/tipline chat --url {url}
(type 帮助 or help; /help lists photos, locations and menu clicks)"""


def write_dev_env(path: Path) -> bool:
    """Write a development .env at `path` unless one exists; return whether it wrote."""
    if path.exists():
        return False
    path.write_text(
        TEMPLATE.format(token=secrets.token_hex(12), secret=secrets.token_urlsafe(32),
                        contact=secrets.token_urlsafe(32)),
        encoding="utf-8",
    )
    path.chmod(0o600)  # it holds the pseudonymisation key
    return True


def main() -> None:
    """Write .env in the current folder if missing and say how to talk to the bot."""
    if write_dev_env(Path(".env")):
        print("wrote .env with a random WECHAT_TOKEN and TIPLINE_SECRET_KEY", file=sys.stderr)
    try:
        settings = load_settings()
    except ConfigError as error:
        sys.exit(f"Error: {error}")
    url = f"http://{settings.host}:{settings.port}/wechat"
    print(HOW_TO_TALK.format(url=url), file=sys.stderr)


if __name__ == "__main__":
    main()
