"""The console's pages: triage, a report and its case form, an entity, evidence, search, admin.

Each handler reads through db/ on the pool's threads, builds its page from the pure core
(triage.summary, triage.case), and audits what it showed or changed.
"""

from __future__ import annotations

import io
import time
from typing import Any

from aiohttp import web

from bot.console.web import CONSOLE, SESSION, address, render
from db import browse, cases, exports
from db import console as accounts_db
from db.console import Session
from db.summary import SqlSummary, last_run, record_run
from triage.case import CaseError, Change, Update
from triage.extract import extract
from triage.summary import Filters, summarise
from triage.times import BadTime, file_stamp, parse_bound
from triage.views import MONEY_KINDS
from triage.vocabulary import KINDS, STATUSES, display_receipt, normalise_receipt

TOP = 30
THUMB = 480  # pixels: the longer side of a thumbnail


def _session(request: web.Request) -> Session:
    session = request[SESSION]
    assert session is not None  # auth.signed_in lets no one else through
    return session


async def _audit(request: web.Request, action: str, target: str = "",
                 detail: dict[str, Any] | str = "") -> None:
    await request.app[CONSOLE].pool.run(accounts_db.audit, int(time.time()),
                                        _session(request).user.name, action, target, detail,
                                        address(request))


def _before(request: web.Request) -> int | None:
    """The keyset `before` of a list's page (the last id the previous page showed)."""
    try:
        return int(request.query["before"]) if "before" in request.query else None
    except ValueError:
        raise web.HTTPBadRequest(text="before: a number") from None


# --- triage -------------------------------------------------------------------------------


def _filters(request: web.Request, now: int) -> tuple[Filters, int, dict[str, Any]]:
    """The triage filters from the query, as `tipline triage` reads them (bad ones: 400)."""
    query = request.query
    since = None
    if query.get("since"):
        try:
            since = parse_bound(query["since"], now)
        except BadTime as error:
            raise web.HTTPBadRequest(text=f"since: {error}") from None
    statuses = tuple(s for s in query.getall("status", []) if s in STATUSES)
    kinds = tuple(k for k in query.getall("kind", []) if k in KINDS)
    try:
        top = max(1, min(200, int(query.get("top", TOP))))
    except ValueError:
        raise web.HTTPBadRequest(text="top: a number") from None
    shown = {"since": query.get("since", ""), "statuses": statuses, "kinds": kinds, "top": top}
    return Filters(since, statuses, kinds), top, shown


async def triage_page(request: web.Request) -> web.StreamResponse:
    """The ranked entities, totals, new since this user's last visit, payment codes first."""
    console = request.app[CONSOLE]
    now = int(time.time())
    filters, top, shown = _filters(request, now)
    who = f"console:{_session(request).user.name}"

    def build(db: Any) -> Any:
        previous = last_run(db, who)
        summary = summarise(SqlSummary.current(db), filters, now, top, previous,
                            fold_urls=True)  # a domain's URLs under it, as the CLI shows
        record_run(db, who, now)
        return summary

    summary = await console.pool.run(build)
    money = [e for e in summary.entities if e.kind in MONEY_KINDS]
    return render(request, "triage.html", summary=summary, money=money, shown=shown,
                  statuses=STATUSES, kinds=KINDS)


# --- one report -----------------------------------------------------------------------------


async def report_page(request: web.Request) -> web.StreamResponse:
    """One report in full, each image with what was read from it; the case form."""
    receipt = normalise_receipt(request.match_info["receipt"])
    if receipt is None:
        return render(request, "error.html", status=404, message_key="not_found")
    if request.match_info["receipt"] != display_receipt(receipt):
        raise web.HTTPSeeOther(f"/reports/{display_receipt(receipt)}")
    case = await request.app[CONSOLE].pool.run(cases.load_case, receipt)
    if case is None:
        return render(request, "error.html", status=404, message_key="not_found")
    await _audit(request, "view report", display_receipt(receipt))
    saved = request.query.get("saved")
    return render(request, "report.html", case=case, statuses=STATUSES, saved=saved)


async def update_report(request: web.Request) -> web.StreamResponse:
    """Apply the case form: status, assignee, note (audited, and in the report's history)."""
    receipt = normalise_receipt(request.match_info["receipt"])
    if receipt is None:
        raise web.HTTPNotFound()
    form = await request.post()
    status = str(form.get("status", "")).strip() or None
    assignee_field = form.get("assignee")
    note = str(form.get("note", "")).strip() or None
    session = _session(request)
    console = request.app[CONSOLE]
    current = await console.pool.run(cases.load_case, receipt)
    if current is None:
        raise web.HTTPNotFound()
    assignee = None if assignee_field is None else str(assignee_field).strip()
    if assignee == (current.assignee or ""):
        assignee = None  # unchanged
    if status == current.status:
        status = None
    try:
        update = Update(status, assignee, note)
    except CaseError as error:
        raise web.HTTPBadRequest(text=str(error)) from None
    now = int(time.time())
    changes: list[Change] | None = []
    if not update.empty:
        changes = await console.pool.run(cases.update_case, receipt, update,
                                         session.user.name, now)
    changes = changes or []
    said = "; ".join("note" if c.action == "note" else f"{c.action} {c.detail}"
                     for c in changes)
    if changes:
        await _audit(request, "case", display_receipt(receipt), said)
    raise web.HTTPSeeOther(f"/reports/{display_receipt(receipt)}?saved={int(bool(changes))}")


# --- an entity ------------------------------------------------------------------------------


async def entity_page(request: web.Request) -> web.StreamResponse:
    """Every report naming an entity (a page at a time), what appears with it, its match."""
    from triage.similar import similar

    kind, value = request.match_info["kind"], request.match_info["value"]
    if kind not in KINDS:
        return render(request, "error.html", status=404, message_key="not_found")
    before = _before(request)
    page = await request.app[CONSOLE].pool.run(browse.entity_page, kind, value, before)
    pool = [(kind, value), *((k, v) for k, v, _ in page.appears_with)]
    same = [s for s in similar(pool) if (kind, value) in (s.a, s.b)]
    await _audit(request, "view entity", f"{kind}:{value}")
    return render(request, "entity.html", page=page, same=same)


# --- evidence files -------------------------------------------------------------------------


async def evidence_file(request: web.Request) -> web.StreamResponse:
    """An evidence file by SHA-256: images inline by their sniffed type, the rest as files."""
    from triage.evidence import IMAGE_TYPES, evidence_path, sniff

    sha256 = request.match_info["sha256"].lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise web.HTTPNotFound()
    console = request.app[CONSOLE]
    known = await console.pool.run(browse.evidence_known, sha256)
    path = evidence_path(console.settings.evidence_dir, sha256)
    if known is None or not path.is_file():
        return render(request, "error.html", status=404, message_key="not_found")
    data = await _read(path)
    thumb = request.query.get("thumb") == "1"
    await _audit(request, "view evidence thumbnail" if thumb else "view evidence", sha256)
    # Inline only what its bytes say is a raster image a browser runs nothing in.
    found = sniff(data[:16])
    sniffed = found[0] if found is not None and found[0] in IMAGE_TYPES else None
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
               "Content-Security-Policy": "default-src 'none'; sandbox"}
    if thumb and sniffed is not None:
        small = await _thumbnail(data, console.settings)
        if small is not None:
            return web.Response(body=small, content_type="image/jpeg", headers={
                **headers, "Content-Disposition": f'inline; filename="{sha256[:16]}.jpg"'})
    if sniffed is None:
        return web.Response(body=data, content_type="application/octet-stream", headers={
            **headers, "Content-Disposition": f'attachment; filename="{sha256}.bin"'})
    return web.Response(body=data, content_type=sniffed, headers={
        **headers, "Content-Disposition": f'inline; filename="{sha256}"'})


async def _read(path: Any) -> bytes:
    import asyncio

    return await asyncio.to_thread(path.read_bytes)


async def _thumbnail(data: bytes, settings: Any) -> bytes | None:
    """A re-encoded JPEG thumbnail (nothing of the original file's bytes survives)."""
    import asyncio

    def make() -> bytes | None:
        from triage.pictures.decode import Unreadable, open_image

        try:
            image = open_image(data, max_bytes=settings.read_max_bytes,
                               max_pixels=settings.read_max_pixels)
        except Unreadable:
            return None
        image.thumbnail((THUMB, THUMB * 3))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=80)
        return out.getvalue()

    return await asyncio.to_thread(make)


# --- search, assigned -----------------------------------------------------------------------


async def search(request: web.Request) -> web.StreamResponse:
    """A receipt opens its report; anything else lists the entities it names."""
    typed = request.query.get("q", "").strip()[:500]
    if not typed:
        return render(request, "search.html", typed="", found=[])
    console = request.app[CONSOLE]
    receipt = normalise_receipt(typed)
    if receipt is not None and await console.pool.run(browse.receipt_exists, receipt):
        raise web.HTTPSeeOther(f"/reports/{display_receipt(receipt)}")
    values = [(i.kind, i.value) for i in extract(typed)]
    found = await console.pool.run(browse.find_identifiers, values, typed)
    await _audit(request, "search", "", typed)
    return render(request, "search.html", typed=typed, found=found)


async def assigned(request: web.Request) -> web.StreamResponse:
    """The reports assigned to the signed-in user."""
    before = _before(request)
    lines, next_before = await request.app[CONSOLE].pool.run(
        browse.assigned_to, _session(request).user.name, before)
    return render(request, "assigned.html", lines=lines, next_before=next_before)


# --- admin ----------------------------------------------------------------------------------


async def audit_page(request: web.Request) -> web.StreamResponse:
    """The audit log, newest first (admin)."""
    before = _before(request)
    entries = await request.app[CONSOLE].pool.run(accounts_db.audit_page, before,
                                                  browse.PAGE + 1)
    next_before = entries[browse.PAGE - 1].id if len(entries) > browse.PAGE else None
    return render(request, "audit.html", entries=entries[:browse.PAGE],
                  next_before=next_before)


async def export_page(request: web.Request) -> web.StreamResponse:
    """The export form (admin)."""
    return render(request, "export.html", statuses=STATUSES)


async def export_csv(request: web.Request) -> web.StreamResponse:
    """Every report selected, as the CSV `tipline export` writes (admin, audited)."""
    from triage import exports as writers

    form = await request.post()
    now = int(time.time())
    since = None
    if form.get("since"):
        try:
            since = parse_bound(str(form["since"]), now)
        except BadTime as error:
            raise web.HTTPBadRequest(text=f"since: {error}") from None
    statuses = tuple(s for s in form.getall("status", []) if s in STATUSES)
    where = exports.ExportFilter(since, None, statuses)
    console = request.app[CONSOLE]

    def write() -> bytes:
        snapshot = exports.Snapshot(console.settings.db_path)
        try:
            out = io.BytesIO()
            writers.write_pages(writers.csv_header(exports.COLUMNS),
                                snapshot.lines("csv", where), out, lambda done: None)
            return out.getvalue()
        finally:
            snapshot.close()

    body = await console.pool.run(lambda db: write())
    await _audit(request, "export", "", {"since": str(form.get("since", "")),
                                         "statuses": list(statuses), "bytes": len(body)})
    return web.Response(body=body, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="tipline-{file_stamp(time.time())}.csv"'})
