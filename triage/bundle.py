"""Evidence bundles: a BagIt bag (RFC 8493) of reports and their evidence files, with hashes.

    BUNDLE/
      bagit.txt                 BagIt-Version, Tag-File-Character-Encoding
      bag-info.txt              exporter, time, filter, Tipline version, counts, Payload-Oxum
      manifest-sha256.txt       "<sha256>  data/…" for every payload file
      tagmanifest-sha256.txt    the same for the tag files above
      data/reports/XXXXX-XXXXX.json   one JSON record per report, named by its receipt as
                                shown everywhere: identifiers, evidence, history
      data/evidence/SHA256.ext  each evidence file once (content-addressed, as stored)

Files are hashed as they are copied; a stored file whose content no longer matches its
SHA-256 is left out and its record says so, as does a record whose file is missing or
was never fetched. The bag is built beside BUNDLE and renamed into place when complete,
so a half-written bag never looks like a finished one. Any BagIt tool can validate it
(e.g. `bagit.py --validate BUNDLE`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from triage.evidence import evidence_path, sniff
from triage.times import iso
from triage.vocabulary import display_receipt

_COPY_CHUNK = 1 << 20


class BundleError(Exception):
    """The bundle cannot be written where asked; the message says why."""


@dataclass(slots=True)
class BundleResult:
    """What a bundle holds."""

    path: Path
    reports: int = 0
    files: int = 0
    bytes: int = 0
    problems: dict[str, int] = field(default_factory=dict)  # missing, checksum mismatch…


def _extension(source: Path) -> str:
    """A file's extension from its bytes: a declared text/html must not become a .html."""
    try:
        with source.open("rb") as file:
            found = sniff(file.read(16))
    except OSError:
        return ".bin"
    return found[1] if found else ".bin"


def _copy_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Copy a file, returning the SHA-256 and size of what was copied."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while block := src.read(_COPY_CHUNK):
            digest.update(block)
            dst.write(block)
            size += len(block)
    return digest.hexdigest(), size


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_COPY_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _record(report: dict[str, Any], files: dict[str, str | None]) -> dict[str, Any]:
    """The JSON record of one report: times in ISO 8601, each evidence item's bag file."""
    record = dict(report)
    for key in ("received_at", "updated_at"):
        record[key] = iso(record[key])
    record["receipt"] = display_receipt(report["receipt"])
    evidence = []
    for item in report["evidence"]:
        item = dict(item)
        with contextlib.suppress(ValueError):  # otherwise kept as the text it is
            item["details"] = json.loads(item["details"] or "{}")
        for key in ("received_at", "fetched_at"):
            if item.get(key) is not None:
                item[key] = iso(item[key])
        sha = item.get("sha256")
        item["file"] = files.get(sha) if sha else None
        evidence.append(item)
    record["evidence"] = evidence
    record["history"] = [{**h, "at": iso(h["at"])} for h in report["history"]]
    return record


def write_bundle(
    path: Path,
    reports: Iterable[dict[str, Any]],
    evidence_dir: Path,
    info: dict[str, str],
    progress: Callable[[int], None] | None = None,
) -> BundleResult:
    """Write the reports (db.exports.full_report dicts) and their evidence as a bag at `path`."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BundleError(f"{path} already exists: choose a new folder for the bundle")
    partial = path.with_name(f".{path.name}.partial")
    try:
        if partial.exists():
            shutil.rmtree(partial)
        (partial / "data" / "reports").mkdir(parents=True)
        (partial / "data" / "evidence").mkdir()
    except OSError as error:
        raise BundleError(f"cannot write {path}: {error.strerror}") from None
    result = BundleResult(path)
    manifest: list[tuple[str, str]] = []  # (sha256, path in bag)
    # sha256 → its file in the bag (None: left out); evidence shared by reports goes once.
    copied: dict[str, str | None] = {}
    try:
        for report in reports:
            for item in report["evidence"]:
                sha = item.get("sha256")
                if not sha:
                    if item.get("media_id"):
                        _count(result, "not fetched")  # a photo, voice… still at WeChat
                    continue
                if sha in copied:
                    continue
                source = evidence_path(evidence_dir, sha)
                name = f"data/evidence/{sha}{_extension(source)}"
                if not source.is_file():
                    copied[sha] = None
                    _count(result, "missing")
                    continue
                actual, size = _copy_hashed(source, partial / name)
                if actual != sha:
                    (partial / name).unlink()
                    copied[sha] = None
                    _count(result, "checksum mismatch")
                    continue
                copied[sha] = name
                manifest.append((sha, name))
                result.files += 1
                result.bytes += size
            record = _record(report, copied)
            name = f"data/reports/{display_receipt(report['receipt'])}.json"
            body = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
            (partial / name).write_bytes(body)
            manifest.append((hashlib.sha256(body).hexdigest(), name))
            result.reports += 1
            result.bytes += len(body)
            if progress is not None:
                progress(result.reports)
        _write_tags(partial, manifest, result, info)
        if path.exists():
            path.rmdir()  # an empty folder made for the bundle
        os.replace(partial, path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return result


def _count(result: BundleResult, problem: str) -> None:
    result.problems[problem] = result.problems.get(problem, 0) + 1


def _write_tags(bag: Path, manifest: list[tuple[str, str]], result: BundleResult,
                info: dict[str, str]) -> None:
    """Write bagit.txt, bag-info.txt and both manifests."""
    (bag / "bagit.txt").write_text(
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8")
    fields = {
        **info,
        "Report-Count": str(result.reports),
        "Evidence-File-Count": str(result.files),
        "Payload-Oxum": f"{result.bytes}.{len(manifest)}",
    }
    for problem, n in sorted(result.problems.items()):
        fields[f"Evidence-{problem.title().replace(' ', '-')}"] = str(n)
    # Values are one line each: a newline in a filter would start a bogus label.
    lines = "".join(f"{label}: {' '.join(str(value).split())}\n" for label, value in fields.items())
    (bag / "bag-info.txt").write_text(lines, encoding="utf-8")
    (bag / "manifest-sha256.txt").write_text(
        "".join(f"{sha}  {name}\n" for sha, name in manifest), encoding="utf-8")
    tags = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
    (bag / "tagmanifest-sha256.txt").write_text(
        "".join(f"{_sha256_file(bag / name)}  {name}\n" for name in tags), encoding="utf-8")
