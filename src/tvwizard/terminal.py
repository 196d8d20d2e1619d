"""What the user's terminal can show: Unicode or only ASCII.  Shared by ``check`` and the wizard.

The locale says it, not the stream's encoding: Python 3.7+ coerces a C/POSIX locale to UTF-8
(PEP 538/540), so ``sys.stdout.encoding`` is "utf-8" even under ``LANG=C``, while the
terminal the user set up that way may show ``✓`` as ``?`` or worse.  Python then runs in
UTF-8 mode without being asked; that is the tell.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

#: Unicode marks tvwizard prints, and their ASCII stand-ins
ASCII_TABLE = str.maketrans(
    {
        "·": "-",
        "…": "...",
        "—": "-",
        "–": "-",
        "↳": "->",
        "→": "->",
        "≤": "<=",
        "≥": ">=",
        "✓": "OK",
        "✗": "X",
        "•": "*",
        "×": "x",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "▶": ">",
        "■": "#",
        "●": "*",
        "›": ">",
        "↑": "^",
        "↓": "v",
    }
)


def to_ascii(text: str) -> str:
    return text.translate(ASCII_TABLE).encode("ascii", "replace").decode("ascii")


def unicode_ok(environ: Mapping[str, str] | None = None, *, utf8_mode: bool | None = None) -> bool:
    """True when the locale is UTF-8 (the terminal can show ✓ ✗ and box lines).

    ``utf8_mode``: whether Python switched to UTF-8 mode by itself at startup (default: this
    process's ``sys.flags.utf8_mode`` without ``PYTHONUTF8=1``), which it does only for a
    C/POSIX locale; tests pass False and an ``environ`` of their own.
    """
    env = os.environ if environ is None else environ
    if utf8_mode is None:
        utf8_mode = bool(sys.flags.utf8_mode) and env.get("PYTHONUTF8", "") != "1"
    if utf8_mode:
        return False
    for name in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = env.get(name, "")
        if value:
            return "utf-8" in value.lower() or "utf8" in value.lower()
    return True
