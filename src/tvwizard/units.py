"""How tvwizard writes quantities for people: one way for durations and one for sizes, everywhere
(the checklist, the wizard, the report, the findings)."""

from __future__ import annotations

from typing import Any


def duration(seconds: Any) -> str:
    """``"81 ms"``, ``"5.3 s"``, ``"3 min 05 s"``; "" when unknown (None or not a number)."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def size(n_bytes: Any) -> str:
    """``"80.0 GiB"``, ``"512 MiB"``; "?" when unknown.  GPU memory in MiB: ``size(mib * 2**20)``."""
    if not isinstance(n_bytes, int | float) or isinstance(n_bytes, bool):
        return "?"
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.1f} GiB"
    return f"{n_bytes / 2**20:.0f} MiB"
