"""Fixes that take a path entry or variable away: the thing that put a bad file first.

Each builder returns a :class:`~tvwizard.model.Fix` for one cause the provenance rules name:
an entry of ``PYTHONPATH`` or ``LD_LIBRARY_PATH``, ``LD_PRELOAD``, the user site-packages, a
``.pth`` file.  Environment changes are the user's shell's to make; ``fix --apply`` proves them
by probing with the environment they describe.  The variable's current value comes from the
environment tvwizard saw (``Evidence.env``), or from the probe's own reading of it.
"""

from __future__ import annotations

import os
import shlex

from tvwizard.facts.evidence import Evidence
from tvwizard.model import Fix


def _entries(value: str, sep: str) -> list[str]:
    return [e for e in value.split(sep) if e]


def trim_pythonpath(ev: Evidence, remove: list[str], why: str) -> Fix:
    """PYTHONPATH without the entries ``remove`` (compared as normalized paths)."""
    entries = _entries(ev.env.get("PYTHONPATH") or "", os.pathsep)
    gone = {os.path.normpath(p) for p in remove}
    kept = [e for e in entries if os.path.normpath(e) not in gone]
    return Fix(
        id="trim-pythonpath",
        title=f"Take {', '.join(remove)} out of PYTHONPATH",
        kind="env",
        env={"PYTHONPATH": os.pathsep.join(kept) or None},
        why=why,
        undo=f"Set PYTHONPATH back to {os.pathsep.join(entries)}" if entries else "",
        restart=True,
    )


def trim_ld_library_path(ev: Evidence, remove: list[str], why: str) -> Fix:
    """LD_LIBRARY_PATH without the entries ``remove`` (as written in the variable)."""
    current = [e.get("entry") for e in ev.data("native").get("ld_library_path") or [] if e.get("entry")]
    if not current:
        current = _entries(ev.env.get("LD_LIBRARY_PATH") or "", ":")
    bad = set(remove)
    kept = [e for e in current if e not in bad]
    return Fix(
        id="trim-ld-library-path",
        title="Take " + ", ".join(sorted(bad)) + " out of LD_LIBRARY_PATH",
        kind="env",
        env={"LD_LIBRARY_PATH": ":".join(kept) or None},
        why=why,
        undo="Restore LD_LIBRARY_PATH to its previous value (see the evidence).",
        restart=True,
    )


def unset_ld_preload(why: str = "A preloaded library wins over the copy torch ships.") -> Fix:
    return Fix(
        id="unset-ld-preload",
        title="Unset LD_PRELOAD for Python",
        kind="env",
        env={"LD_PRELOAD": None},
        restart=True,
        why=why,
    )


def ignore_user_site(ev: Evidence, key: str, location: str) -> Fix:
    """``PYTHONNOUSERSITE=1``: the user site-packages copy of ``key`` stops being imported."""
    python = ev.target.executable or ev.target.python
    return Fix(
        id="ignore-user-site",
        title="Ignore the user site-packages for this Python",
        kind="env",
        env={"PYTHONNOUSERSITE": "1"},
        why=f"The user-site {key} ({location}) wins over the one installed with this Python; removing it "
        f"with `PYTHONNOUSERSITE= {shlex.quote(python)} -m pip uninstall --user {key}`… works too "
        f"(or `rm -r {shlex.quote(os.path.join(location, key))}` and its .dist-info).",
        undo="unset PYTHONNOUSERSITE",
        restart=True,
    )


def disable_pth(pth: str, what: str) -> Fix:
    """Rename the ``.pth`` file that adds ``what`` to sys.path, so site stops reading it."""
    renamed = pth + ".disabled"
    return Fix(
        id="disable-pth-file",
        title=f"Disable {os.path.basename(pth)} (it puts {what} on sys.path)",
        kind="rename",
        commands=[f"mv {shlex.quote(pth)} {shlex.quote(renamed)}"],
        why="Python's site module reads every .pth file in site-packages at start-up and adds the folders "
        "they name; renamed, this one is skipped.",
        changes=f"Renames {pth}.",
        undo=f"mv {shlex.quote(renamed)} {shlex.quote(pth)}",
        restart=True,
    )
