"""Where evidence files live: content-addressed under TIPLINE_EVIDENCE_DIR by their SHA-256.

The one place the layout is spelled out for exports, bundles and purges (the media
fetcher writes files by the same rule).
"""

from __future__ import annotations

from pathlib import Path


def evidence_path(evidence_dir: Path, sha256: str) -> Path:
    """The file holding the evidence with this SHA-256: <dir>/<first two hex digits>/<sha256>."""
    return evidence_dir / sha256[:2] / sha256
