"""Fixes that rewrite a package's files: a damaged file, or one another package overwrote.

Commands run the target's own installer (``installer_for``), argv lists first: ``fix
--apply`` runs them in order after a yes.  pip's ``~name`` stash folders from an interrupted
install are removed by the target interpreter itself (``shutil.rmtree`` with the path as an
argument, never a shell), and only inside the site-packages that holds them.
"""

from __future__ import annotations

import os

from tvwizard.facts.evidence import Evidence
from tvwizard.fixes.commands import installer_for, quote
from tvwizard.model import Fix

_RMTREE = "import shutil, sys; [shutil.rmtree(p) for p in sys.argv[1:]]"


def remove_leftovers_argv(ev: Evidence, paths: list[str]) -> list[str]:
    """The target interpreter deleting pip's ``~name`` stash folders ``paths``."""
    return [ev.target.executable or ev.target.python, "-c", _RMTREE, *paths]


def reinstall_package(ev: Evidence, name: str, version: str, leftovers: list[str] | None = None) -> Fix:
    """The same version of ``name`` again over its damaged files (``--force-reinstall --no-deps``)."""
    inst = installer_for(ev)
    argv = [inst.install([f"{name}=={version}"], force_reinstall=True, no_deps=True)]
    if leftovers and inst.auto:
        argv.append(remove_leftovers_argv(ev, leftovers))
    return Fix(
        id="reinstall-package",
        title=f"Reinstall {name} {version} over the damaged files"
        + (f" and remove pip's leftovers ({', '.join(os.path.basename(p) for p in leftovers)})" if leftovers else ""),
        kind="command",
        commands=[quote(a) for a in argv],
        argv=argv,
        applicable=inst.auto,
        restart=True,
        why="A fresh copy of the same version replaces the damaged files; nothing else changes.",
        changes=f"Rewrites every file of {name} {version}; its dependencies are not touched (--no-deps)."
        + (" Deletes the ~ folders pip left when an install was interrupted." if leftovers else ""),
        undo="Nothing to undo: the same version is installed again.",
    )


def restore_overwritten(ev: Evidence, victim: str, version: str, intruder: str) -> Fix:
    """Uninstall ``intruder`` (the package that wrote over ``victim``'s file), then reinstall ``victim``.

    The order matters: uninstalling the intruder deletes every file its RECORD lists, the shared
    one included, so the victim is reinstalled after it."""
    inst = installer_for(ev)
    argv = [inst.uninstall([intruder]), inst.install([f"{victim}=={version}"], force_reinstall=True, no_deps=True)]
    return Fix(
        id="restore-overwritten-file",
        title=f"Uninstall {intruder}, then reinstall {victim} {version}",
        kind="command",
        commands=[quote(a) for a in argv],
        argv=argv,
        applicable=inst.auto,
        restart=True,
        why=f"{intruder} wrote its own copy of a file {victim} owns. Uninstalling it removes that copy (and "
        f"the shared path); reinstalling {victim} puts the right file back.",
        changes=f"Removes {intruder}; rewrites {victim} {version} (--no-deps: nothing else changes).",
        undo=f"Reinstall {intruder} (it will overwrite the file again).",
    )
