"""Rules on what put a bad file first: a package that overwrote another's, another Python's packages.

The analysis lives in :mod:`tvwizard.diagnosis.provenance` (the symptom rules read it too, to
fold a failing import under its cause); the fixes are built in :mod:`tvwizard.fixes`.
"""

from __future__ import annotations

import os

from tvwizard.diagnosis.provenance import behaviour_works, foreign_entries, overwritten_files
from tvwizard.diagnosis.rules import rule
from tvwizard.facts.evidence import Evidence
from tvwizard.fixes import catalog
from tvwizard.model import Fact, Finding, Severity


@rule(needs=("distributions",), emits=("overwritten-file",), priority=62)
def overwritten_file(ev: Evidence) -> Finding | None:
    """A second package wrote its own copy of a file another package owns (two RECORDs list it)."""

    found = overwritten_files(ev)
    if not found:
        return None
    first = found[0]
    victim, intruder = first["victim"], first["intruder"]
    short = first["rel"]
    change = first.get("change") or {}
    facts = [
        Fact(
            "distributions",
            o["victim"]["name"],
            f"{o['path']} is listed by {o['victim']['name']} {o['victim']['version']} and by "
            f"{o['intruder']['name']} {o['intruder']['version']}; on disk it is no longer {o['victim']['name']}'s"
            + (
                f" ({o['change'].get('size')} bytes, its RECORD says {o['change'].get('record_size')})"
                if o.get("change")
                else ""
            ),
        )
        for o in found[:6]
    ]
    failing = [s for s in (ev.import_step("import_torch"), ev.import_step("import_torchvision")) if s is not None]
    facts += [Fact("live", s.name, s.error_message[:500]) for s in failing if s.status == "error"]
    return Finding(
        id="overwritten-file",
        severity=Severity.WARNING if behaviour_works(ev) else Severity.ERROR,
        title=f"{intruder['name']} {intruder['version']} overwrote {short}, which belongs to {victim['name']} "
        f"{victim['version']}"
        + (f" ({change.get('size')} bytes now, {change.get('record_size')} in its RECORD)" if change else ""),
        explanation=(
            "Two packages install a file at the same path (the NCCL or cuDNN wheels of two CUDA majors both "
            "write nvidia/.../lib/*.so.N); pip lets the later one write over the earlier one's without a word. "
            "torch then loads a library of another version and fails with `undefined symbol` or a version "
            "check. Uninstalling the intruder deletes the shared path too, so the owner is reinstalled after it."
        ),
        evidence=facts,
        fixes=[
            catalog.build(
                "restore-overwritten-file",
                ev=ev,
                victim=str(victim["name"]),
                version=str(victim["version"]),
                intruder=str(intruder["name"]),
            )
        ],
        checks=["distributions", "import_torch"],
    )


_HOW = {
    "pythonpath": "PYTHONPATH",
    "pth": "a .pth file",
    "user_site": "the user site-packages",
    "cwd": "the working folder",
    "other": "sys.path",
}


@rule(needs=("interpreter",), emits=("foreign-site-packages",), priority=55)
def foreign_site_packages(ev: Evidence) -> Finding | None:
    """Another Python's site-packages on this one's sys.path: its compiled modules carry another ABI tag."""

    entries = foreign_entries(ev)
    if not entries:
        return None
    used = [e for e in entries if e["steps"]]
    first = (used or entries)[0]
    mine = ".".join(ev.target.version.split(".")[:2]) or "this Python"
    how = _HOW.get(str(first.get("origin")), "sys.path")
    if first.get("origin") == "pth" and first.get("pth"):
        how = f"the .pth file {first['pth']}"
    fixes = []
    why = (
        f"It holds packages installed for Python {first['python']}; this is Python {mine}, which cannot load "
        "their compiled modules. Install what you need for this Python instead."
    )
    if first.get("origin") == "pythonpath":
        pythonpath = [e for e in (ev.env.get("PYTHONPATH") or "").split(os.pathsep) if e]
        fixes.append(
            catalog.build("trim-pythonpath", package="packages", location=first["path"], entries=pythonpath, why=why)
        )
    elif first.get("origin") == "pth" and first.get("pth"):
        fixes.append(catalog.build("disable-pth-file", pth=str(first["pth"]), what=first["path"]))
    facts = [
        Fact(
            "interpreter",
            "sys_path",
            f"{e['path']} (Python {e['python']}'s site-packages) is on sys.path through "
            f"{_HOW.get(str(e['origin']), e['origin'])}" + (f": {e['pth']}" if e.get("pth") else ""),
        )
        for e in entries[:4]
    ]
    for e in used[:2]:
        for step in e["steps"]:
            read = ev.live_step(step)
            message = (read.error_message if read is not None else "").strip().splitlines()
            facts.append(Fact("live", step, (message[0] if message else "failed") + f" (loaded from {e['path']})"))
        if e["tags"]:
            facts.append(
                Fact("live", "abi", f"compiled modules there are {', '.join(e['tags'])}; this is Python {mine}")
            )
    return Finding(
        id="foreign-site-packages",
        severity=Severity.ERROR if used else Severity.WARNING,
        title=f"{how} puts Python {first['python']}'s site-packages ({first['path']}) on Python {mine}'s sys.path"
        + (f": {', '.join(s.replace('_', ' ') for s in first['steps'])} loads from it and fails" if used else ""),
        explanation=(
            "Packages with compiled modules are built for one Python version (their files carry tags like "
            f"cpython-{first['python'].replace('.', '')}): under Python {mine} the import finds the Python files "
            "but not the compiled module, and fails with a misleading message (torch says its C extensions did "
            "not load, as if run from a source checkout). Take the entry off the path and install the packages "
            "for this Python."
        ),
        evidence=facts,
        fixes=fixes,
        checks=["interpreter", "import_torch"],
    )
