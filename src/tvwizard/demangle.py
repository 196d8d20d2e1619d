"""C++ symbol names for people: ``_ZN3c104cuda…`` → ``c10::cuda::c10_cuda_check_implementation(…)``.

Runs ``c++filt`` (binutils) in tvwizard's own process when it is installed; without it the
mangled name is kept.  Nothing here loads the libraries being diagnosed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache

_MANGLED = re.compile(r"\b_Z[A-Za-z0-9_]+")


@cache
def _cxxfilt() -> str | None:
    return shutil.which("c++filt")


def demangle_all(names: list[str]) -> dict[str, str]:
    """Mangled name → readable name, for those c++filt could read (one process for all)."""
    tool = _cxxfilt()
    if not tool or not names:
        return {}
    try:
        proc = subprocess.run(
            [tool], input="\n".join(names) + "\n", capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    out = proc.stdout.splitlines()
    if len(out) != len(names):
        return {}
    return {m: d for m, d in zip(names, out, strict=True) if d and d != m}


def demangle_text(text: str) -> str:
    """``text`` with each mangled C++ symbol followed by its readable form in parentheses."""
    names = sorted(set(_MANGLED.findall(text or "")))
    readable = demangle_all(names)
    if not readable:
        return text
    return _MANGLED.sub(
        lambda m: f"{m.group(0)} ({readable[m.group(0)]})" if m.group(0) in readable else m.group(0), text
    )
