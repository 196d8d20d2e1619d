"""Fixes for code that uses an API torchvision (or a package it used) removed: they respect the
user's code and say which of them keeps the user's torch.

In this order, where each applies:

1. a newer release of the package that made the call, one known (from the table) to no
   longer use the removed API;
2. the newest torch/torchvision pair that still has the API and supports this Python (the
   release table knows the pairs), which replaces the user's torch;
3. a one-line edit of the calling file (the import moved to the replacement), shown as a
   diff, applied only after a yes, with a backup and an undo command.
"""

from __future__ import annotations

from pathlib import Path

from packaging.version import InvalidVersion, Version

from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.removed_apis import RemovedApi
from tvwizard.fixes import pairing
from tvwizard.fixes.commands import installer_for, quote
from tvwizard.model import Fix

EDIT_SCRIPT = str(Path(__file__).resolve().parent / "_edit_line.py")
BACKUP_SUFFIX = ".tvwizard-bak"  # the same as _edit_line.BACKUP_SUFFIX
KEEPS_TORCH = "Keeps your torch."


def _newer(a: str, b: str) -> bool:
    try:
        return Version(a) > Version(b)
    except InvalidVersion:
        return False


def downstream_release_fix(ev: Evidence, api: RemovedApi, owner: dict | None) -> Fix | None:
    """Upgrade the calling package to a release known not to use the API any more."""
    if not owner or not owner.get("dist"):
        return None
    dist, have = str(owner["dist"]), str(owner.get("version") or "")
    known = next((v for d, v in api.fixed_downstream if d.lower() == dist.lower()), None)
    if known is None or (have and not _newer(known, have)):
        return None
    if dist.lower() == "torchvision":
        # torchvision itself is the caller (an old one, e.g. PILLOW_VERSION): it must pair with torch
        fix = pairing.newest_pair_fix(ev, None)
        if fix is not None:
            fix.why = (
                f"torchvision {known} and later no longer import {api.what}. " + fix.why + " This replaces your torch."
            )
        return fix
    inst = installer_for(ev)
    argv = inst.install([f"{dist}=={known}"])
    return Fix(
        id="upgrade-downstream",
        title=f"Upgrade {dist} {have} to {known}, which no longer imports {api.what}",
        kind="command",
        why=f"{dist} {known} is known not to use {api.what}. {KEEPS_TORCH} (unless {dist} {known} asks for another)",
        commands=[quote(argv)],
        argv=[argv],
        changes=f"Replaces {dist} in {ev.target.prefix or 'the target env'}.",
        undo=quote(inst.install([f"{dist}=={have}"])) if have else "",
        applicable=inst.auto,
    )


def older_pair_fix(ev: Evidence, api: RemovedApi) -> Fix | None:
    """The newest torch/torchvision pair whose torchvision still has the API, for this Python."""
    if api.provider != "torchvision" or not api.removed_in:
        return None
    python = ev.python_version()
    if not python:
        return None
    build = ev.torch_build()
    for rel in reversed(knowledge.releases()):
        if _newer(api.removed_in, rel.torchvision) and knowledge.python_supported(rel.torch, python):
            break
    else:
        return None
    variant = "cpu" if build is not None and build.is_cpu and "cpu" in rel.variants else None
    t_req, index, t_force = pairing.requirement(ev, "torch", rel.torch, variant)
    v_req, _, v_force = pairing.requirement(ev, "torchvision", rel.torchvision, variant)
    reqs = [t_req, v_req]
    numpy = str((ev.dist("numpy") or {}).get("version") or "")
    numpy_note = ""
    if numpy.split(".")[0].isdigit() and int(numpy.split(".")[0]) >= 2 and not knowledge.numpy2_supported(rel.torch):
        reqs.append("numpy<2")
        numpy_note = f" torch {rel.torch} was built for NumPy 1.x, so NumPy goes back to 1.x too."
    inst = installer_for(ev)
    argv = inst.install(reqs, index_url=index, force_reinstall=t_force or v_force)
    return Fix(
        id="install-pair-with-api",
        title=f"Go back to torch {rel.torch} + torchvision {rel.torchvision}, which still have {api.module}",
        kind="command",
        why=f"The newest released pair for Python {python} from before torchvision {api.removed_in} removed "
        f"{api.what}.{numpy_note} This replaces your torch ({ev.torch_version() or 'installed'}).",
        commands=[quote(argv)],
        argv=[argv],
        changes=f"Replaces torch and torchvision in {ev.target.prefix or 'the target env'}.",
        undo="Reinstall the previous versions the same way, or recreate the environment.",
        download=pairing.CUDA_TORCH_SIZE if variant is None else pairing.CPU_TORCH_SIZE,
        restart=True,
        applicable=inst.auto,
    )


def unified_diff(path: str, line: int, old_line: str, new_line: str) -> str:
    """A one-line unified diff, as ``git diff`` would show it."""
    return f"--- a/{path}\n+++ b/{path}\n@@ -{line} +{line} @@\n-{old_line}\n+{new_line}"


def source_edit_fix(ev: Evidence, api: RemovedApi, frame: dict, located: dict | None) -> Fix | None:
    """Move the one import line to the replacement.  ``located``: where the user probe found the
    failing file in the target (``file``; ``dist`` when a distribution owns it): a file that is
    not known to be there (a traceback pasted from another machine) is not edited."""
    edit = api.edit
    code = str(frame.get("code") or "")
    line = frame.get("line")
    path = str((located or {}).get("file") or "")
    if edit is None or not isinstance(line, int) or not edit.applies_to(code) or not path:
        return None
    owner = located if located and located.get("dist") else None
    shown = str((owner or {}).get("record_path") or path)
    python = ev.target.executable or ev.target.python
    argv = [python, "-I", EDIT_SCRIPT, path, str(line), edit.old, edit.new]
    whose = f"{owner['dist']}'s file" if owner and owner.get("dist") else "your file"
    return Fix(
        id="edit-removed-import",
        title=f"Edit line {line} of {shown}: {edit.old} → {edit.new}",
        kind="command",
        why=f"{api.replacement[:1].upper()}{api.replacement[1:]} replaces {api.what}. A one-line change to "
        f"{whose}; {KEEPS_TORCH[0].lower()}{KEEPS_TORCH[1:]} Reinstalling {owner['dist'] if owner else 'it'} "
        "undoes it.",
        commands=[quote(argv)],
        argv=[argv],
        changes=unified_diff(shown, line, code, edit.apply(code)),
        undo=quote(["mv", "-f", path + BACKUP_SUFFIX, path]),
        applicable=True,
    )


def manual_replacement_fix(api: RemovedApi, frame: dict, where: str) -> Fix:
    """Where no edit is one line: what to write instead, for the person to do."""
    return Fix(
        id="replace-removed-api",
        title=f"Replace {api.what} in {where}: use {api.replacement}",
        kind="manual",
        why=f"{api.what} is gone from {api.provider}; the replacement keeps your torch.",
        changes=f"line {frame.get('line')}: {frame.get('code') or ''}".strip(),
    )


def optional_package_fix(ev: Evidence, api: RemovedApi) -> Fix:
    inst = installer_for(ev)
    argv = inst.install([api.package])
    return Fix(
        id="install-optional-package",
        title=f"Install {api.package} into this environment",
        kind="command",
        why=f"{api.provider} uses {api.package} for this feature and does not install it itself. {KEEPS_TORCH}",
        commands=[quote(argv)],
        argv=[argv],
        changes=f"Adds {api.package} to {ev.target.prefix or 'the target env'}.",
        undo=quote(inst.uninstall([api.package])),
        applicable=inst.auto,
    )
