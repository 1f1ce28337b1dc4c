"""Untrusted text made inert for a terminal or a page: control, bidi and zero-width shown.

Reporter text, imported rows and a hostile API's messages may carry ESC sequences (clear
the screen, retitle the window, an OSC-8 link whose visible text lies), C1 controls,
bidirectional overrides that reorder what is shown, or zero-width characters that hide
a difference. Wherever such text is shown, each of those characters is written as a
visible escape instead; the stored text is never changed.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1, zero-width and bidi formatting characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                     "\ufeff\ufff9-\ufffb]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """The text with every unsafe character shown as an escape (\\x1b, \\u202e)."""
    return _UNSAFE.sub(_visible, text)


def inert_json(document: str) -> str:
    """A JSON document with unsafe characters as \\u escapes: the same data, shown safely.

    Valid because such characters can only occur inside JSON strings, where \\uXXXX
    stands for exactly the character it replaces.
    """
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", document)
