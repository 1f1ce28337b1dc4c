"""The report conversation: target type → who → what happened → evidence → confirm.

The steps are declared once, in `STEPS`; adding a step is adding a line there (with its
question in the catalogs, and its answer's field in `Draft` unless it takes many
messages): the order, the numbering "(2/5)", back, skip and done follow from the tuple.
The draft (handlers/draft.py) lives in the reporter's state, so it survives restarts and
is shared by worker processes; the step to ask is always the first one not yet answered,
so a quick report that arrives with its "who" filled in skips that step.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from handlers import words
from handlers.context import Context
from handlers.draft import Draft, Triple
from handlers.messages import Inbound, Reply
from handlers.router import Router
from handlers.store import EvidenceItem, NewReport
from triage.allowlist import is_allowlisted
from triage.extract import Identifier, extract
from triage.names import name_left
from triage.normalise import match_key
from triage.vocabulary import KINDS, TARGET_TYPES
from triage.vocabulary import display_receipt as display

# Reads an answer into the draft: returns what to echo ("" for nothing), or None when the
# answer is unusable and the question must be asked again.
Reader = Callable[[Context, Draft], str | None]

MEDIA_KINDS = frozenset({"image", "voice", "video", "shortvideo", "file"})
EVIDENCE_KINDS = MEDIA_KINDS | {"location", "link", "text"}
# Identifiers that make a bare message a quick report (a name alone does not).
QUICK_KINDS = frozenset(KINDS) - {"name"}
# Answers to "who is it" that name nobody: whole answers, and phrases a short answer
# may wrap ("我也不知道").
NON_ANSWERS = frozenset({"没有", "无", "未知", "unknown", "no", "none", "n/a", "idk", "no idea",
                         "not sure", "don't know", "dont know", "i don't know"})
NON_ANSWER_PHRASES = ("不知道", "不清楚", "不记得", "忘了", "不确定", "没看到")
CONFIRM = "confirm"
ECHO_ITEMS = 6  # identifiers echoed back: enough to check, short enough for a phone


@dataclass(frozen=True, slots=True)
class Step:
    """One question of the conversation."""

    name: str
    question: str  # catalog key
    read: Reader
    retry: str  # catalog key said before asking again
    optional: bool = False  # 跳过/skip allowed
    collects: bool = False  # takes many messages, ended by 完成/done or 跳过/skip
    required: str = "cannot_skip"  # catalog key said to 跳过/skip: what to send instead
    pictured: str = ""  # catalog key said when a photo answers it ("": a photo does not)

    def answered(self, draft: Draft) -> bool:
        """Whether the draft already holds this step's answer."""
        return draft.done.get(self.name, False) if self.collects else draft.holds(self.name)


def _plain(inbound: Inbound) -> str:
    """The text of a message, NFKC-normalised (full-width digits and letters included)."""
    return unicodedata.normalize("NFKC", inbound.text).strip() if inbound.kind == "text" else ""


def read_target_type(ctx: Context, draft: Draft) -> str | None:
    """Stores the target type chosen by number (1-6)."""
    answer = _plain(ctx.inbound).strip("()（）.、 ")
    if answer.isdigit() and 1 <= int(answer) <= len(TARGET_TYPES):
        draft.target_type = TARGET_TYPES[int(answer) - 1]
        return ""
    return None


def found_in(inbound: Inbound) -> list[Identifier]:
    """The identifiers in a message's text (or a link's title and URL)."""
    if inbound.identifiers is not None:
        return list(inbound.identifiers)
    return extract(message_text(inbound))


def message_text(inbound: Inbound) -> str:
    """The text a message carries for extraction."""
    return f"{inbound.title} {inbound.url}".strip() if inbound.kind == "link" else inbound.text


def who_files(typed: str, found: Iterable[Identifier]) -> list[Identifier]:
    """The identifiers a "who" answer is filed with, in the chat and in an import alike.

    What the extractor found, less one-character names and the platforms' own domains
    (qq.com under an article link, alipay.com: triage.allowlist), and beside them the name
    the answer gives: the words left once identifiers and filler words (官网, 客服, 微信…)
    are taken out (triage.names.name_left). An answer with nothing but words stands
    whole as a name if it names something ("我也不知道" does not).
    """
    found = list(found)
    kept = [i for i in found if (i.kind != "name" or len(i.value) > 1)
            and not is_allowlisted(i.kind, i.value)]
    if not typed or any(i.kind == "name" for i in kept):
        return kept
    if all(i.kind == "name" for i in found):
        plain = unicodedata.normalize("NFKC", typed).strip()
        return [Identifier("name", plain.casefold(), typed)] if names_something(plain) else []
    left = name_left(typed, (i.raw for i in found))
    if left is None:
        return kept
    at, raw = left
    name = Identifier("name", " ".join(unicodedata.normalize("NFKC", raw).casefold().split()),
                      raw)
    before = sum(1 for i in kept if 0 <= typed.find(i.raw) < at)  # in order of appearance
    return [*kept[:before], name, *kept[before:]]


def read_who(ctx: Context, draft: Draft) -> str | None:
    """Stores who is reported and echoes the identifiers recognised in it."""
    inbound = ctx.inbound
    typed, note = _trim(ctx, message_text(inbound).strip(), ctx.policy.max_who)
    found = extract(typed) if note else found_in(inbound)
    # A forwarded article's title is its headline, not a name: only its link was "typed".
    found = who_files(inbound.url if inbound.kind == "link" else typed, found)
    if not found:
        return None
    draft.who = typed
    draft.who_ids = _triples(found)
    return _join(note, _echo(ctx, found))


def read_what(ctx: Context, draft: Draft) -> str | None:
    """Stores the description of what happened."""
    typed = ctx.inbound.text.strip() if ctx.inbound.kind == "text" else ""
    plain = unicodedata.normalize("NFKC", typed)
    if len(plain) < 4 or not any(c.isalpha() for c in plain):
        return None
    draft.what, note = _trim(ctx, typed, ctx.policy.max_what)
    draft.what_ids = _triples(extract(draft.what) if note else found_in(ctx.inbound))
    return note


def read_evidence(ctx: Context, draft: Draft) -> str | None:
    """Keeps one piece of evidence and says how many there are."""
    return keep_evidence(ctx, draft)


STEPS: tuple[Step, ...] = (
    Step("target_type", "ask_target_type", read_target_type, "bad_target_type",
         required="cannot_skip_target_type"),
    Step("who", "ask_who", read_who, "bad_who", required="cannot_skip_who",
         pictured="who_pictured"),
    Step("what", "ask_what", read_what, "bad_what", required="cannot_skip_what"),
    Step("evidence", "ask_evidence", read_evidence, "ask_evidence", optional=True,
         collects=True),
)

router = Router("report")


# --- starting ---------------------------------------------------------------------------


@router.word(words.REPORT, argument=True)
def start(ctx: Context) -> Reply:
    """Starts a report (or continues the open one); text after the word fills it in."""
    if ctx.draft is not None:
        return Reply(_join(ctx.t("continue_draft"), question(ctx, ctx.draft)))
    return begin(ctx, seed=ctx.argument)


@router.click("REPORT")
def start_from_menu(ctx: Context) -> Reply:
    """Starts a report from the 举报 menu button."""
    if ctx.draft is not None:
        return Reply(_join(ctx.t("continue_draft"), question(ctx, ctx.draft)))
    return begin(ctx)


def _open_draft(ctx: Context) -> Draft | None:
    """A new draft for the reporter, or None if they reached the daily limit."""
    if ctx.store.filed_since(ctx.inbound.sender, ctx.now - 86400) >= ctx.policy.reports_per_day:
        return None
    ctx.draft = Draft(f"{ctx.inbound.sender[:16]}-{ctx.inbound.dedup_key}", ctx.now, ctx.now)
    return ctx.draft


def begin(ctx: Context, seed: str = "", evidence: bool = False) -> Reply:
    """Opens a draft, filled in from `seed` text or the message itself as evidence."""
    draft = _open_draft(ctx)
    if draft is None:
        return Reply(ctx.t("daily_limit", limit=ctx.policy.reports_per_day))
    echo = ""
    if seed and any(i.kind in QUICK_KINDS for i in extract(seed)):
        echo = read_who(_with_text(ctx, seed), draft) or ""
    if evidence:
        if ctx.inbound.kind == "link":
            echo = read_who(ctx, draft) or ""
            if "mp.weixin.qq.com" in ctx.inbound.url:
                draft.target_type = "wechat_account"  # a forwarded official-account article
        # A photo or a location on its own is acknowledged (a link is, by its echo).
        echo = _join(echo, keep_evidence(ctx, draft, acknowledge=ctx.inbound.kind != "link"))
    return advance(ctx, draft, echo)


def quick_report(ctx: Context) -> bool:
    """Whether a message sent outside a draft is a tip in itself."""
    inbound = ctx.inbound
    if ctx.draft is not None or inbound.kind == "event":
        return False
    if inbound.kind == "text":
        return any(i.kind in QUICK_KINDS for i in found_in(inbound))
    return inbound.kind in EVIDENCE_KINDS


def start_quick(ctx: Context) -> Reply:
    """Starts a report from a bare URL, address, account, phone, article link or photo."""
    if ctx.inbound.kind == "text":
        draft = _open_draft(ctx)
        if draft is None:
            return Reply(ctx.t("daily_limit", limit=ctx.policy.reports_per_day))
        return advance(ctx, draft, read_who(ctx, draft) or "")
    return begin(ctx, evidence=True)


# --- words inside a draft ---------------------------------------------------------------


@router.word(words.CANCEL)
def cancel(ctx: Context) -> Reply:
    """Drops the draft and its evidence."""
    draft, ctx.draft = ctx.draft, None
    if draft is None:
        return ctx.say("nothing_to_cancel")
    ctx.store.discard_draft(draft.id)
    return ctx.say("cancelled")


@router.word(words.BACK)
def back(ctx: Context) -> Reply:
    """Goes back to the previous question."""
    draft = ctx.draft
    if draft is None:
        return ctx.say("no_draft")
    names = [step.name for step in STEPS] + [CONFIRM]
    index = names.index(draft.step)
    if index > 0:
        previous = STEPS[index - 1]
        if previous.collects:
            draft.done[previous.name] = False
        draft.step = previous.name
    return Reply(question(ctx, draft))


@router.word(words.SKIP)
def skip(ctx: Context) -> Reply:
    """Skips an optional question."""
    return _end_step(ctx, lambda step: step.optional, lambda step: step.required)


@router.word(words.DONE)
def done(ctx: Context) -> Reply:
    """Ends a question that takes many messages (the evidence)."""
    return _end_step(ctx, lambda step: step.collects, lambda step: "answer_first")


def _end_step(ctx: Context, may_end: Callable[[Step], bool],
              refusal: Callable[[Step], str]) -> Reply:
    """Close the current question if `may_end` allows it, and ask the next one."""
    draft = ctx.draft
    if draft is None:
        return ctx.say("no_draft")
    step = _current(draft)
    if step is None or not may_end(step):
        said = "answer_first" if step is None else refusal(step)
        return Reply(_join(ctx.t(said), question(ctx, draft)))
    if step.collects:
        draft.done[step.name] = True
    else:
        draft.skip(step.name)
    return advance(ctx, draft)


@router.word(words.SUBMIT)
def submit(ctx: Context) -> Reply:
    """Files the confirmed report and answers with its receipt."""
    draft = ctx.draft
    if draft is None:
        return ctx.say("no_draft")
    if draft.step != CONFIRM:
        return Reply(_join(ctx.t("answer_first"), question(ctx, draft)))
    receipt = ctx.receipts()
    while ctx.store.receipt_taken(receipt):  # 50 random bits: a second try is already rare
        receipt = ctx.receipts()
    ctx.store.file_report(NewReport(
        receipt=receipt, reporter=ctx.inbound.sender, draft_id=draft.id,
        target_type=draft.target_type or "other", who=draft.who or "",
        description=draft.what or "", lang=ctx.lang, filed_at=ctx.now,
        identifiers=filed_identifiers(draft.who_ids or (), draft.what_ids or (),
                                      draft.note_ids),
    ))
    ctx.draft = None
    return Reply(ctx.t("filed", receipt=display(receipt)))


def confirming(ctx: Context) -> bool:
    """Whether the summary is shown and the message does not ask (好的？ doubts, 好的 agrees)."""
    text = ctx.inbound.text
    return ctx.draft is not None and ctx.draft.step == CONFIRM and not any(
        mark in text for mark in "?？")


# 确认, 好的, yes, ok… file the report, at the summary only.
router.word(words.CONFIRM, when=confirming, sets_language=False)(submit)


def answer(ctx: Context) -> Reply:
    """Takes a message as the answer to the current question."""
    draft = ctx.draft
    if draft is None:  # not reached: the route matches only while a draft is open
        return ctx.say("no_draft")
    step = _current(draft)
    inbound = ctx.inbound
    if step is None:  # confirming: anything but a word is a nudge
        if inbound.kind in MEDIA_KINDS | {"location", "link"}:
            return Reply(_join(keep_evidence(ctx, draft), question(ctx, draft)))
        return Reply(_join(ctx.t("answer_first"), question(ctx, draft)))
    if inbound.kind in MEDIA_KINDS | {"location"} and not step.collects:
        # A photo sent early is kept, and the question stands, unless a photo answers it
        # (a screenshot of who it is: the reader files what it shows).
        before = draft.evidence
        kept = keep_evidence(ctx, draft)
        if step.pictured and inbound.kind == "image" and draft.evidence > before:
            draft.skip(step.name)
            return advance(ctx, draft, ctx.t(step.pictured))
        return Reply(_join(kept, question(ctx, draft)))
    echo = step.read(ctx, draft)
    if echo is None:
        return Reply(_join(ctx.t(step.retry), question(ctx, draft)))
    if step.collects:
        return Reply(echo)
    return advance(ctx, draft, echo)


# Messages that are not words, tried after every router's words and events (the dispatcher
# includes status and events after this router): the answer to the open draft, then a
# message that is a tip in itself.
router.fallback(lambda ctx: ctx.draft is not None and ctx.inbound.kind != "event")(answer)
router.fallback(quick_report)(start_quick)


# --- evidence ---------------------------------------------------------------------------


def keep_evidence(ctx: Context, draft: Draft, acknowledge: bool = True) -> str:
    """Store the message as evidence of the draft; say so with the running count."""
    item = evidence_item(ctx.inbound, ctx.now, ctx.policy.media_status)
    if item is None:
        return ""
    # Only the evidence step ends with 完成/done: before it (a photo sent with "what
    # happened") and at the summary, the acknowledgement must not offer the word.
    step = _current(draft)
    collecting = step is not None and step.collects
    if draft.evidence >= ctx.policy.max_evidence:
        return ctx.t("evidence_full" if collecting else "evidence_full_kept",
                     limit=ctx.policy.max_evidence)
    ctx.store.add_evidence(ctx.inbound.sender, draft.id, item)
    draft.evidence += 1
    if item.kind in ("text", "link", "voice"):
        # What text, links and a voice note's recognised speech name joins the report's
        # identifiers (images are read later, by the reader).
        draft.note_ids.extend(_triples(found_in(ctx.inbound)))
    if not acknowledge:
        return ""
    return ctx.t("evidence_received" if collecting else "evidence_kept",
                 count=draft.evidence, kind=ctx.name(item.kind))


def evidence_item(inbound: Inbound, now: int, media_status: str) -> EvidenceItem | None:
    """The evidence a message carries, or None if it carries none."""
    kind = inbound.kind
    details: dict[str, Any]
    if kind in MEDIA_KINDS:
        details = {"format": inbound.media_format, "title": inbound.title,
                   "recognition": inbound.text, "thumb_media_id": inbound.thumb_media_id,
                   "fetch_status": media_status}
        return EvidenceItem(kind, now, inbound.media_id,
                            {k: v for k, v in details.items() if v})
    if kind == "location":
        details = {"latitude": inbound.latitude, "longitude": inbound.longitude,
                   "label": inbound.label}
    elif kind == "link":
        details = {"title": inbound.title, "url": inbound.url,
                   "description": inbound.description}
    elif kind == "text" and inbound.text.strip():
        details = {"text": inbound.text.strip()[:2000]}
    else:
        return None
    return EvidenceItem(kind, now, "", details)


# --- asking -----------------------------------------------------------------------------


def advance(ctx: Context, draft: Draft, echo: str = "") -> Reply:
    """Move to the first unanswered question (or the summary) and ask it."""
    step = next((s for s in STEPS if not s.answered(draft)), None)
    draft.step = step.name if step is not None else CONFIRM
    return Reply(_join(echo, question(ctx, draft)))


def question(ctx: Context, draft: Draft) -> str:
    """The current question, or the summary to confirm, numbered by its place in `STEPS`."""
    step = _current(draft)
    total = len(STEPS) + 1  # the summary is the last step
    if step is None:
        return ctx.t("step", n=total, total=total, question=summary(ctx, draft))
    return ctx.t("step", n=STEPS.index(step) + 1, total=total, question=ctx.t(step.question))


def summary(ctx: Context, draft: Draft) -> str:
    """The whole draft on one phone screen."""
    ids = [Identifier(k, v, r) for k, v, r in draft.who_ids or ()]
    return ctx.t(
        "confirm",
        target=ctx.name(draft.target_type or "other"),
        who=_shorten(draft.who or "", 60) if draft.who or "who" not in draft.skipped
        else ctx.t("who_pictured_summary"),
        ids=_echo_items(ctx, ids) or ctx.t("nothing_recognised"),
        what=_shorten(draft.what or "", 80),
        evidence=draft.evidence,
    )


def _current(draft: Draft) -> Step | None:
    return next((s for s in STEPS if s.name == draft.step), None)


def _echo(ctx: Context, found: list[Identifier]) -> str:
    if len(found) == 1 and found[0].kind == "name":
        return ctx.t("who_name", name=_shorten(found[0].raw, 40))
    return ctx.t("who_recognised", items=_echo_items(ctx, found))


def _echo_items(ctx: Context, found: list[Identifier]) -> str:
    # The registrable domain says what the URL says, shorter: echo the URL only without it.
    domains = {i.value for i in found if i.kind == "domain"}
    shown = [i for i in found if i.kind != "url" or not any(d in i.value for d in domains)]
    items = [f"{ctx.name(i.kind)} {_shorten(i.value, 44)}" for i in shown[:ECHO_ITEMS]]
    if len(shown) > ECHO_ITEMS:
        items.append("…")
    return ctx.t("separator").join(items)


def filed_identifiers(who: Iterable[Triple], what: Iterable[Triple],
                      notes: Iterable[Triple] = ()) -> tuple[Triple, ...]:
    """Everything a report names: the "who" answer, the description, text evidence.

    Names are stored under their match key (火幣網 and 火币 alike become 火币), so reports
    about one platform meet in a query; `raw` keeps what the reporter typed (the first
    spelling, in the order above).
    """
    found: dict[tuple[str, str], str] = {}
    for kind, value, raw in itertools.chain(who, what, notes):
        if kind == "name":
            value = match_key(value) or value
        found.setdefault((kind, value), raw)
    return tuple((kind, value, raw) for (kind, value), raw in found.items())


def _triples(found: Iterable[Identifier]) -> list[Triple]:
    return [(i.kind, i.value, i.raw) for i in found]


def names_something(plain: str) -> bool:
    """Whether an answer without identifiers can stand as a name."""
    if not 2 <= len(plain) <= 60 or plain.casefold().strip("。.!！") in NON_ANSWERS:
        return False
    if len(plain) <= 10 and any(phrase in plain for phrase in NON_ANSWER_PHRASES):
        return False
    return any(c.isalpha() for c in plain)


def _trim(ctx: Context, typed: str, limit: int) -> tuple[str, str]:
    if len(typed) <= limit:
        return typed, ""
    return typed[:limit], ctx.t("trimmed", limit=limit)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def _with_text(ctx: Context, text: str) -> Context:
    """The context as if the message had been just `text` (for a report started with it)."""
    from dataclasses import replace

    return replace(ctx, inbound=replace(ctx.inbound, kind="text", text=text, identifiers=None))
