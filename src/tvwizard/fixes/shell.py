"""Environment-variable fixes as lines for the user's shell (pure; the wizard and CLI use it).

A :class:`~tvwizard.model.Fix` with ``kind == "env"`` carries ``env: {NAME: value or None}``
(``None`` means unset).  This renders it for bash/zsh (``export``/``unset``), fish
(``set -gx``/``set -e``) and PowerShell (``$env:X = …``/``Remove-Item Env:X``), quoted so
that the value arrives exactly as written.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping

from tvwizard.model import Fix

SHELLS: tuple[str, ...] = ("bash", "zsh", "fish", "powershell")
LABELS = {"bash": "bash", "zsh": "zsh", "fish": "fish", "powershell": "PowerShell"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def detect_shell(env: Mapping[str, str] | None = None) -> str:
    """The user's shell from ``$SHELL`` (PowerShell from ``PSModulePath``); bash if unsure."""
    env = os.environ if env is None else env
    shell = os.path.basename(env.get("SHELL", "")).lower()
    for name in ("fish", "zsh", "bash"):
        if shell == name or shell.startswith(name + "-") or shell.startswith(name + "."):
            return name
    if shell in ("pwsh", "powershell", "pwsh.exe", "powershell.exe"):
        return "powershell"
    if not shell and env.get("PSModulePath"):
        return "powershell"
    return "bash"


def next_shell(shell: str) -> str:
    """The shell after ``shell`` in :data:`SHELLS` (wraps around)."""
    i = SHELLS.index(shell) if shell in SHELLS else -1
    return SHELLS[(i + 1) % len(SHELLS)]


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not an environment variable name: {name!r}")


def quote_word(word: str) -> str:
    """``word`` for a POSIX shell line; bytes that are not text kept as the same bytes.

    A path that is not UTF-8 reaches tvwizard with each bad byte as a lone surrogate
    (``os.fsdecode``), and a name may hold control characters.  Neither can be printed as
    they are (invalid UTF-8; an ESC that rewrites the terminal line), and U+FFFD would point
    at another path.  Such a word is written in ANSI-C quoting, ``$'caf\\xe9'``, which bash,
    zsh and ksh turn back into exactly those bytes; every other word as :func:`shlex.quote`.
    """
    if not any(_unprintable(c) for c in word):
        return shlex.quote(word)
    out = []
    for c in word:
        if "\udc80" <= c <= "\udcff":
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif _unprintable(c):
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        elif c in "\\'":
            out.append("\\" + c)
        else:
            out.append(c)
    return "$'" + "".join(out) + "'"


def quote_line(argv: list[str]) -> str:
    """``argv`` as one POSIX shell line that runs exactly it (each word :func:`quote_word`)."""
    return " ".join(quote_word(a) for a in argv)


def _unprintable(c: str) -> bool:
    return c < " " or c == "\x7f" or "\x80" <= c < "\xa0" or "\ud800" <= c <= "\udfff"


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    # Single-quoted PowerShell strings are verbatim; a quote is written twice.
    return "'" + value.replace("'", "''").replace("\u2018", "\u2018\u2018").replace("\u2019", "\u2019\u2019") + "'"


def env_line(name: str, value: str | None, shell: str) -> str:
    """One line that sets (or, for ``None``, unsets) ``name`` in ``shell``."""
    _check_name(name)
    if shell in ("bash", "zsh"):
        return f"unset {name}" if value is None else f"export {name}={quote_word(value)}"
    if shell == "fish":
        return f"set -e {name}" if value is None else f"set -gx {name} {_fish_quote(value)}"
    if shell == "powershell":
        if value is None:
            return f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"
        return f"$env:{name} = {_ps_quote(value)}"
    raise ValueError(f"unknown shell {shell!r} (one of {', '.join(SHELLS)})")


def render_env(env: Mapping[str, str | None], shell: str) -> list[str]:
    """The lines that make the environment ``env`` describes, in ``shell``."""
    return [env_line(name, value, shell) for name, value in env.items()]


def fix_lines(fix: Fix, shell: str) -> list[str]:
    """What the user types for ``fix``: the env lines for an env fix, else its commands."""
    if fix.kind == "env" and fix.env:
        return render_env(fix.env, shell)
    return list(fix.commands)
