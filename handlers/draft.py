"""The report being written, typed, and the shape it is kept in in the reporter's state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

Triple = tuple[str, str, str]  # an identifier as filed: (kind, value, raw)


@dataclass(slots=True)
class Draft:
    """What the report conversation has collected so far.

    Kept in the reporter's JSON state (db/conversations.py) in the shape the untyped draft
    of earlier releases had, so drafts saved by them still load: a field that is None is
    left out (absent means "not asked yet"), except an answer skipped, stored as null;
    identifiers are [kind, value, raw] lists; `done` becomes one `<step>_done` flag per
    step that takes many messages.
    """

    id: str  # the evidence waits under it until the report is filed
    started_at: int
    updated_at: int
    step: str = ""  # the question being asked: a Step's name, or "confirm"
    target_type: str | None = None
    who: str | None = None
    who_ids: list[Triple] | None = None
    what: str | None = None
    what_ids: list[Triple] | None = None
    evidence: int = 0  # pieces kept so far
    note_ids: list[Triple] = field(default_factory=list)  # named by text and link evidence
    done: dict[str, bool] = field(default_factory=dict)  # False once 返回/back reopened it
    skipped: set[str] = field(default_factory=set)  # answers given as nothing (跳过/skip)

    def holds(self, answer: str) -> bool:
        """Whether the field `answer` holds an answer (a skipped one counts)."""
        return getattr(self, answer) is not None or answer in self.skipped

    def skip(self, answer: str) -> None:
        """Answer the field `answer` with nothing (and nothing recognised in it)."""
        setattr(self, answer, None)
        if hasattr(self, f"{answer}_ids"):  # an earlier answer's identifiers go with it
            setattr(self, f"{answer}_ids", None)
        self.skipped.add(answer)

    def to_state(self) -> dict[str, Any]:
        """The draft as the reporter's state keeps it (JSON types only)."""
        state: dict[str, Any] = {f"{step}_done": ended for step, ended in self.done.items()}
        for name in _STORED:
            value = getattr(self, name)
            if value is not None or name in self.skipped:
                state[name] = [list(t) for t in value] if isinstance(value, list) else value
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Draft:
        """The draft kept in a reporter's state, by `to_state` or by an earlier release."""
        values: dict[str, Any] = {
            name: [tuple(t) for t in value] if isinstance(value, list) else value
            for name, value in state.items() if name in _STORED
        }
        values.setdefault("updated_at", values["started_at"])
        done = {key.removesuffix("_done"): bool(ended) for key, ended in state.items()
                if key.endswith("_done")}
        skipped = {name for name, value in values.items() if value is None}
        return cls(**values, done=done, skipped=skipped)


# The fields kept under their own name; `done` and `skipped` are spelt out as above.
_STORED = tuple(f.name for f in fields(Draft) if f.name not in ("done", "skipped"))
