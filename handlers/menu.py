"""The account's custom menu: the three buttons the conversation answers (see router.click)."""

from __future__ import annotations

from typing import Any

# (label on the phone, click key): the keys are the contract; handlers answer them.
BUTTONS = (("举报", "REPORT"), ("我的举报", "MY_REPORTS"), ("帮助", "HELP"))


def custom_menu() -> dict[str, Any]:
    """The body of WeChat's menu/create call."""
    return {"button": [{"type": "click", "name": name, "key": key} for name, key in BUTTONS]}
