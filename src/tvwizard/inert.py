"""Untrusted text made inert: the one place that decides how it may reach a terminal or a file.

Text that tvwizard did not write itself (an environment's error messages, a report file a
stranger attached to a ticket, package metadata, file names) may hold terminal control
sequences: ``ESC[2K\\r`` erases the line just printed, so a command that reads
``pip install torch`` on screen could be another one; a backspace or a bidi override
(U+202E) reorders what is shown.  Every such character is shown *visibly* instead
(``\\x1b``, ``\\u202e``), so the person sees that something odd is there and nothing acts on
their terminal.

- :func:`inert` keeps newlines and tabs (multi-line text printed as such);
- :func:`inert_line` shows newlines as ``\\n`` too (one line stays one line: a title, a command);
- :func:`inert_json` makes a JSON document's text safe for a terminal: ``json.dumps`` escapes
  C0 controls itself, but with ``ensure_ascii=False`` leaves DEL, C1 controls (U+009B is a
  CSI) and bidi overrides raw; they become ``\\u`` escapes, which JSON reads back unchanged.

Markdown and HTML renderers call :func:`inert` and then do their own escaping.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["inert", "inert_json", "inert_line", "inert_tree"]

# C0 controls but tab/newline, DEL, C1 controls, and the invisible characters that reorder or
# hide text: Arabic letter mark, LRM/RLM, bidi embeddings/overrides/isolates, BOM.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
# Lone surrogates: a file name that is not UTF-8 (Python keeps its bytes as U+DC80-U+DCFF);
# written to a strict UTF-8 stream they raise, so they are shown as the bytes they stand for.
_SURROGATES = "\ud800-\udfff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_SURROGATES}]")
_UNSAFE_LINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_BIDI}{_SURROGATES}]")
_UNSAFE_JSON = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029{_SURROGATES}]")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    if code == 0x0A:
        return "\\n"
    if code == 0x0D:
        return "\\r"
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for a byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: Any) -> str:
    """``text`` (made a string) with every control and bidi character but newline and tab shown visibly."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE.sub(_visible, s) if _UNSAFE.search(s) else s


def inert_line(text: Any) -> str:
    """Like :func:`inert`, and a newline shows as ``\\n``: one value stays on one line."""
    s = text if isinstance(text, str) else str(text)
    return _UNSAFE_LINE.sub(_visible, s) if _UNSAFE_LINE.search(s) else s


def inert_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with DEL, C1 and bidi characters
    written as ``\\uXXXX`` escapes: the same JSON value, harmless on a terminal."""
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def inert_tree(value: Any) -> Any:
    """A JSON-like value with every string (keys included) passed through :func:`inert_line`."""
    if isinstance(value, str):
        return inert_line(value)
    if isinstance(value, dict):
        return {inert_line(k) if isinstance(k, str) else k: inert_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [inert_tree(v) for v in value]
    return value
