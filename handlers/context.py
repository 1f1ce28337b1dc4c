"""What a handler gets: the message, the reporter's state, storage, the rules, the time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handlers.draft import Draft
from handlers.messages import Inbound, Reply
from handlers.store import REPLY_TO_KEY, Store
from handlers.texts import name, text
from handlers.words import Typed
from triage.vocabulary import new_receipt


@dataclass(frozen=True, slots=True)
class Policy:
    """The limits a conversation runs under (from settings; defaults are the product's)."""

    draft_ttl: int = 24 * 3600  # seconds a draft waits for its reporter
    max_evidence: int = 20  # pieces of evidence per report
    reports_per_day: int = 10  # per reporter
    messages_per_minute: int = 30  # per reporter, before "please wait"
    max_who: int = 300  # characters kept of the "who" answer
    max_what: int = 1500  # characters kept of the description
    media_status: str = "pending"  # fetch status of new media: pending, or why not


@dataclass(slots=True)
class Context:
    """Everything a handler may use; handlers never see aiohttp, wechatpy or SQLite."""

    inbound: Inbound
    state: dict[str, Any]  # saved back after the handler returns
    now: int
    store: Store
    policy: Policy = field(default_factory=Policy)
    default_lang: str = "zh"
    receipts: Callable[[], str] = new_receipt  # a CSPRNG unless a test says otherwise
    typed: Typed | None = None  # the text as command words see it; set once per message
    argument: str = ""  # what follows the command word matched (查询 ABCDE-12345)
    draft: Draft | None = None  # the open report; the dispatcher keeps it in `state`

    @property
    def lang(self) -> str:
        """The language of this conversation: the reporter's last command word, or the default."""
        lang = self.state.get("lang")
        return lang if isinstance(lang, str) else self.default_lang

    def t(self, key: str, **values: Any) -> str:
        """Catalog text `key` in the conversation's language."""
        return text(self.lang, key, **values)

    def name(self, code: str) -> str:
        """A stored code (target type, status, kind) in the conversation's language."""
        return name(self.lang, code)

    def collecting(self) -> bool:
        """Whether the reporter's messages are answers: a draft, or a follow-up to a report."""
        return (self.draft is not None or REPLY_TO_KEY in self.state
                or self.store.pending_question(self.inbound.sender) is not None)

    def say(self, *keys: str) -> Reply:
        """Answer with catalog texts, one paragraph each."""
        return Reply("\n".join(self.t(key) for key in keys))
