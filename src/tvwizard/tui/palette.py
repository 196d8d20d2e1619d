"""How the wizard marks what it says: one style and one glyph per role, for every terminal.

Every screen asks here instead of naming colours: so with ``NO_COLOR`` an error is the most
prominent text (bold, reverse), never the dim grey that colour-less rendering makes of red;
a warning never looks worse than an error on an 8/16-colour terminal (warnings are plain
yellow, errors bold red); and when the terminal's locale is not UTF-8 every mark is ASCII.

The mode is the app's (set once by :func:`configure` from its environment); the functions
are plain so the pure formatting helpers in :mod:`tvwizard.tui.format` can use them too.
"""

from __future__ import annotations

from collections.abc import Mapping

from tvwizard.terminal import unicode_ok

#: role → Rich style, in colour
COLOUR = {
    "error": "bold red",
    "warning": "yellow",
    "ok": "green",
    "info": "cyan",
    "muted": "dim",
    "running": "bold cyan",
    "strong": "bold",
    "skipped": "dim",
}
#: role → Rich style without colour: errors stand out most, nothing is dim (dim on grey is unreadable)
MONO = {
    "error": "bold reverse",
    "warning": "bold",
    "ok": "",
    "info": "",
    "muted": "",
    "running": "bold",
    "strong": "bold",
    "skipped": "",
}
UNICODE_MARKS = {
    "ok": "✓",
    "error": "✗",
    "warning": "!",
    "info": "•",
    "skipped": "-",
    "arrow": "→",
    "symptom": "↳",
    "dot": "·",
    "more": "…",
    "start": "▶",
    "end": "■",
    "selected": "●",
    "next": "›",
}
ASCII_MARKS = {
    "ok": "OK",
    "error": "X",
    "warning": "!",
    "info": "*",
    "skipped": "-",
    "arrow": "->",
    "symptom": "->",
    "dot": "-",
    "more": "...",
    "start": ">",
    "end": "#",
    "selected": "*",
    "next": ">",
}

_state = {"styles": COLOUR, "marks": UNICODE_MARKS}


def configure(environ: Mapping[str, str], unicode: bool | None = None) -> None:
    """Choose styles and marks for this terminal: ``NO_COLOR`` (any value) means no colour;
    a locale that is not UTF-8 means ASCII marks (``unicode``: decided by the caller, who knows
    the process's own locale; None: from ``environ``'s locale variables alone)."""
    _state["styles"] = MONO if "NO_COLOR" in environ else COLOUR
    if unicode is None:
        unicode = unicode_ok(environ, utf8_mode=False)
    _state["marks"] = UNICODE_MARKS if unicode else ASCII_MARKS


def few_colours(environ: Mapping[str, str]) -> bool:
    """An 8/16-colour terminal (TERM=xterm, linux, screen): Textual would map red to magenta and
    yellow to bright red there (nearest match from its truecolor theme), so a warning looked
    worse than an error; the app then keeps ANSI colours as they are (App.ansi_color)."""
    term = environ.get("TERM", "")
    if not term or term in ("dumb", "unknown"):
        return False
    if environ.get("COLORTERM", "") in ("truecolor", "24bit"):
        return False
    return not any(word in term for word in ("256", "direct", "truecolor", "kitty", "alacritty", "ghostty"))


def no_colour() -> bool:
    return _state["styles"] is MONO


def ascii_only() -> bool:
    return _state["marks"] is ASCII_MARKS


def style(role: str) -> str:
    return _state["styles"].get(role, "")


def mark(role: str) -> str:
    return _state["marks"].get(role, role)


def text(value: str) -> str:
    """``value`` as the wizard shows text from a finding, a check or a log: its control and
    bidi characters visible (it may quote the target's own error output, and Textual passes
    ESC through to the terminal), and its Unicode marks made ASCII when the terminal needs it."""
    from tvwizard.inert import inert

    value = inert(value)
    if not ascii_only():
        return value
    from tvwizard.terminal import to_ascii

    return to_ascii(value)
