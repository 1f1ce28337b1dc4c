"""Routes declared as data: an ordered list of (match, handler), first match wins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from handlers.messages import Inbound, Reply
from handlers.texts import text


@dataclass(slots=True)
class Context:
    """What a handler gets: the message, the reporter's saved state, and the time."""

    inbound: Inbound
    state: dict[str, Any]  # saved back after the handler returns
    now: int
    default_lang: str = "zh"

    @property
    def lang(self) -> str:
        """The language of this conversation: the reporter's last command word, or the default."""
        lang = self.state.get("lang")
        return lang if isinstance(lang, str) else self.default_lang

    def say(self, key: str) -> Reply:
        """Answer with catalog text `key` in the conversation's language."""
        return Reply(text(self.lang, key))


Handler = Callable[[Context], Reply]
Match = Callable[[Inbound], str | None]  # returns the language a match implies, "" for none


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a router: when it applies, and what answers."""

    name: str
    match: Match
    handle: Handler


@dataclass(slots=True)
class Router:
    """An ordered list of routes; routers nest with `include`."""

    name: str
    routes: list[Route | Router] = field(default_factory=list)
    _flattened: tuple[Route, ...] | None = None  # routes of nested routers, in order

    def word(self, zh: str, en: str) -> Callable[[Handler], Handler]:
        """Route a text whose first word is `zh` or `en`; the word sets the reply language."""
        words = {zh: "zh", en.casefold(): "en"}

        def match(inbound: Inbound) -> str | None:
            if inbound.kind != "text":
                return None
            first = inbound.text.strip().split(maxsplit=1)
            return words.get(first[0].casefold()) if first else None

        return self._add(match)

    def event(self, event: str, key: str | None = None) -> Callable[[Handler], Handler]:
        """Route an event (and, for menu clicks, its key)."""

        def match(inbound: Inbound) -> str | None:
            if inbound.kind != "event" or inbound.event != event:
                return None
            return "" if key is None or inbound.event_key == key else None

        return self._add(match)

    def message(self, predicate: Callable[[Inbound], bool]) -> Callable[[Handler], Handler]:
        """Route any message `predicate` accepts."""
        return self._add(lambda inbound: "" if predicate(inbound) else None)

    def include(self, router: Router) -> None:
        """Append another router's routes, in order, after this one's so far."""
        self.routes.append(router)
        self._flattened = None

    def resolve(self, inbound: Inbound) -> tuple[Handler, str] | None:
        """Find the first route that matches, with the language its match implies."""
        if self._flattened is None:
            self._flattened = tuple(self._flat())
        for route in self._flattened:
            lang = route.match(inbound)
            if lang is not None:
                return route.handle, lang
        return None

    def _flat(self) -> Iterator[Route]:
        for entry in self.routes:
            if isinstance(entry, Router):
                yield from entry._flat()
            else:
                yield entry

    def _add(self, match: Match) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler.__name__, match, handler))
            self._flattened = None
            return handler

        return register
