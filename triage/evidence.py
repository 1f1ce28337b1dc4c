"""Where evidence files live: content-addressed under TIPLINE_EVIDENCE_DIR by their SHA-256.

The one place the layout is spelled out for exports, bundles and purges (the media
fetcher writes files by the same rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def evidence_path(evidence_dir: Path, sha256: str) -> Path:
    """The file holding the evidence with this SHA-256: <dir>/<first two hex digits>/<sha256>."""
    return evidence_dir / sha256[:2] / sha256


def remove_unused(evidence_dir: Path, files: Iterable[tuple[str, int]]) -> int:
    """Remove evidence files no row uses, given (sha256, when the last row went); count them.

    A file written again since (the same bytes fetched anew) is left: its new row is on
    the way.
    """
    removed = 0
    for sha256, unused_since in files:
        path = evidence_path(evidence_dir, sha256)
        try:
            if path.stat().st_mtime >= unused_since + 1:  # written again since (whole seconds)
                continue
            path.unlink()
            removed += 1
        except OSError:  # gone already, or not ours to remove: nothing else depends on it
            continue
    return removed


# What a file is, by its first bytes (never by what its sender declared): the raster
# images a browser shows without running anything, and the media WeChat sends.
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg", ".jpg"), (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
          (b"GIF87a", "image/gif", ".gif"), (b"GIF89a", "image/gif", ".gif"),
          (b"#!AMR", "audio/amr", ".amr"))
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def sniff(head: bytes) -> tuple[str, str] | None:
    """(type, file extension) of a file from its first 16 bytes, or None if unknown."""
    for magic, kind, extension in _MAGIC:
        if head.startswith(magic):
            return kind, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if head[4:8] == b"ftyp":
        return "video/mp4", ".mp4"
    return None
