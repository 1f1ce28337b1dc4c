"""Routes declared as data: an ordered list of (match, handler), first match wins.

A fallback route is tried only after every ordinary route, those of included routers
too: a flow's catch-all (the answer to an open draft) is declared beside the flow, yet
still yields to the words and events of routers included after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from handlers.context import Context
from handlers.messages import Reply
from handlers.words import Typed, Words
from triage.vocabulary import normalise_receipt

Handler = Callable[[Context], Reply]
Match = Callable[[Context], str | None]  # returns the language a match implies, "" for none


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of a router: when it applies, and what answers."""

    name: str
    match: Match
    handle: Handler
    fallback: bool = False  # tried after every ordinary route of the whole tree


@dataclass(slots=True)
class Router:
    """An ordered list of routes; routers nest with `include`."""

    name: str
    routes: list[Route | Router] = field(default_factory=list)
    _flattened: tuple[Route, ...] | None = None  # routes of nested routers, in order

    def word(self, words: Words, *, argument: bool = False,
             when: Callable[[Context], bool] | None = None,
             sets_language: bool = True) -> Callable[[Handler], Handler]:
        """Route a message that is one of `words` (or starts with one, if it takes an argument).

        The word sets the reply language unless `sets_language` is False (an OK at the
        end of a report written in Chinese). A word must stand alone unless it takes an
        argument, so a description that starts with "Back then…" stays a description;
        while the reporter's messages are answers (a draft, a follow-up) the argument
        must be a receipt: 补充：他们又换了网址 is an answer. `when` limits the word to
        some moments (a confirming 好的 only at the summary).
        """

        def match(ctx: Context) -> str | None:
            if ctx.inbound.kind != "text" or (when is not None and not when(ctx)):
                return None
            if ctx.typed is None:  # normalised once per message, not once per route
                ctx.typed = Typed.of(ctx.inbound.text)
            found = ctx.typed.match(words, argument)
            if found is None:
                return None
            lang, rest = found
            if rest and normalise_receipt(rest) is None and ctx.collecting():
                return None
            ctx.argument = rest
            return lang if sets_language else ""

        return self._add(match)

    def click(self, key: str) -> Callable[[Handler], Handler]:
        """Route a tap on the custom menu button with `key`."""
        return self.event("click", key=key)

    def event(self, event: str, key: str | None = None) -> Callable[[Handler], Handler]:
        """Route an event (and, for menu clicks, its key)."""

        def match(ctx: Context) -> str | None:
            inbound = ctx.inbound
            if inbound.kind != "event" or inbound.event != event:
                return None
            return "" if key is None or inbound.event_key == key else None

        return self._add(match)

    def when(self, predicate: Callable[[Context], bool]) -> Callable[[Handler], Handler]:
        """Route any message for which `predicate` holds (it may look at the state)."""
        return self._add(lambda ctx: "" if predicate(ctx) else None)

    def fallback(self, predicate: Callable[[Context], bool]) -> Callable[[Handler], Handler]:
        """Route a message for which `predicate` holds once no ordinary route matched it."""
        return self._add(lambda ctx: "" if predicate(ctx) else None, fallback=True)

    def include(self, router: Router) -> None:
        """Append another router's routes, in order, after this one's so far."""
        self.routes.append(router)
        self._flattened = None

    def resolve(self, ctx: Context) -> tuple[Route, str] | None:
        """Find the first route that matches, with the language its match implies."""
        if self._flattened is None:
            # A stable sort: ordinary routes in order, then the fallbacks in order.
            self._flattened = tuple(sorted(self._flat(), key=lambda route: route.fallback))
        for route in self._flattened:
            lang = route.match(ctx)
            if lang is not None:
                return route, lang
        return None

    def _flat(self) -> Iterator[Route]:
        for entry in self.routes:
            if isinstance(entry, Router):
                yield from entry._flat()
            else:
                yield entry

    def _add(self, match: Match, fallback: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(Route(handler.__name__, match, handler, fallback))
            self._flattened = None
            return handler

        return register
