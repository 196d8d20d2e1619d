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


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ps_quote(value: str) -> str:
    # Single-quoted PowerShell strings are verbatim; a quote is written twice.
    return "'" + value.replace("'", "''").replace("\u2018", "\u2018\u2018").replace("\u2019", "\u2019\u2019") + "'"


def env_line(name: str, value: str | None, shell: str) -> str:
    """One line that sets (or, for ``None``, unsets) ``name`` in ``shell``."""
    _check_name(name)
    if shell in ("bash", "zsh"):
        return f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}"
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
