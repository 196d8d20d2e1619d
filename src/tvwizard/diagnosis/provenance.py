"""Why the bad file is the one being loaded: provenance read from the probes, for the rules.

The live probe records, for every file a failing step names, its owner (RECORD), whether it
still matches, the ``sys.path`` entry it came from and why; the native probe records where
the loader's search stopped and which variable put that candidate first; the distributions
probe records files two packages' RECORDs claim and compiled files whose size left RECORD.
These helpers turn that into causes.  The rules make findings of them, and the symptom
rules ask :func:`cause_of` which cause a failing step folds under, so both read one analysis.
"""

from __future__ import annotations

import os
from typing import Any

from tvwizard.facts.evidence import Evidence
from tvwizard.facts.steps import ExtensionsStep

IMPORT_STEPS = ("import_torch", "import_torchvision", "second_import")
DAMAGED_RECORD = ("hash-differs", "size-differs", "missing")


def step_failed(ev: Evidence, name: str) -> bool:
    step = ev.live_step(name)
    if step is None:
        return False
    if isinstance(step, ExtensionsStep):
        return bool(step.unloaded)
    return step.failed


def failing_steps(ev: Evidence) -> list[str]:
    """The live steps that failed, in order (an extension that did not load counts)."""
    return [s.name for s in ev.live_steps() if step_failed(ev, s.name)]


def behaviour_works(ev: Evidence) -> bool:
    """import torch, import torchvision (twice), every extension and nms on each device all worked.

    When this holds, what metadata says (a Requires-Dist pin, a second copy that never loads) is at
    most a warning: nothing fails.
    """
    if not ev.live_steps():
        return False
    for name in IMPORT_STEPS:
        step = ev.live_step(name)
        if step is None or step.status != "ok":
            return False
    if step_failed(ev, "extensions"):
        return False
    nms = ev.nms_steps()
    return bool(nms) and all(s.status == "ok" and s.correct for s in nms)


def named_files(ev: Evidence, step: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(step, provenance record)`` for every file the failing steps (or ``step``) name."""
    out = []
    for name in [step] if step else failing_steps(ev):
        step = ev.live_step(name)
        for rec in step.provenance if step is not None else ():
            out.append((name, rec))
    return out


# -- shared libraries: the loader stopped at a bad candidate -----------------------------------


def bad_library_candidates(ev: Evidence) -> list[dict[str, Any]]:
    """Libraries whose search ld.so ended at a file it cannot load, found first through
    ``LD_LIBRARY_PATH`` or ``LD_PRELOAD``: ``{"name", "path", "problem", "detail", "source",
    "entry", "needed_by"}``.  Read from the native probe's loader model, else from the failing
    import's error (which names the file ld.so stopped at)."""
    lib_entries = [(e.get("entry"), e.get("path")) for e in ev.ld_library_path_entries() if e.get("path")]
    if not lib_entries and ev.env.get("LD_LIBRARY_PATH"):
        lib_entries = [(e, os.path.abspath(e)) for e in ev.env["LD_LIBRARY_PATH"].split(":") if e]
    out: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(path: str, name: str, problem: str, detail: str, needed_by: str) -> None:
        where = os.path.dirname(path)
        for raw, resolved in lib_entries:
            if os.path.normpath(resolved) == os.path.normpath(where) and path not in seen:
                seen.add(path)
                out.append(
                    {
                        "name": name,
                        "path": path,
                        "problem": problem,
                        "detail": detail,
                        "source": "LD_LIBRARY_PATH",
                        "entry": raw,
                        "needed_by": needed_by,
                    }
                )
                return

    for item in ev.unresolved_libraries():
        if item.get("path") and item.get("problem"):
            add(
                str(item["path"]),
                str(item.get("name") or ""),
                str(item["problem"]),
                str(item.get("detail") or ""),
                str(item.get("needed_by") or ""),
            )
    for item in ev.ld_preload():
        if item.get("problem") and item.get("path") and item["path"] not in seen:
            seen.add(item["path"])
            out.append(
                {
                    "name": os.path.basename(item["path"]),
                    "path": item["path"],
                    "problem": item["problem"],
                    "detail": "",
                    "source": "LD_PRELOAD",
                    "entry": item.get("entry"),
                    "needed_by": "",
                }
            )
    for step in failing_steps(ev):
        read = ev.live_step(step)
        message = read.error_message if read is not None else ""
        for rec in read.provenance if read is not None else ():
            path = str(rec.get("path") or "")
            if path and path in message and not rec.get("owners") and ".so" in os.path.basename(path):
                detail = message.split(path, 1)[-1].lstrip(": ").splitlines()[0] if path in message else ""
                add(path, os.path.basename(path), "unloadable", detail, "")
    return out


# -- files one package wrote over another's --------------------------------------------------


def overwritten_files(ev: Evidence) -> list[dict[str, Any]]:
    """Compiled files two packages' RECORDs list where the file on disk is not the owner's any more:
    ``{"path", "rel", "victim": {"name", "version"}, "intruder": {"name", "version"}, "how", "change"}``
    (``rel``: the path as RECORD writes it).

    The victim is the owner whose RECORD the file no longer matches (its size, read by the
    distributions probe, or the hash the live probe took of a file a failure named)."""
    locations = ev.dist_locations()
    changed: dict[tuple[str, str], dict[str, Any]] = {}
    for key, copies in ev.focus_copies().items():
        for copy in copies or []:
            for c in (copy.get("record") or {}).get("native_changed") or []:
                changed[(key, str(c.get("path")))] = c
    matches = {}
    for _step, rec in named_files(ev):
        if len(rec.get("owners") or []) > 1:
            matches[os.path.normpath(str(rec["path"]))] = rec.get("matches")
    out = []
    for shared in ev.shared_files():
        owners = shared.get("owners") or []
        loc = shared.get("loc")
        root = locations[loc] if isinstance(loc, int) and 0 <= loc < len(locations) else ""
        path = os.path.normpath(os.path.join(root or "", str(shared.get("path"))))
        victim = next((o for o in owners if (o.get("key"), shared.get("path")) in changed), None)
        how = "size"
        if victim is None and path in matches:
            on_disk = matches[path]
            victim = next((o for o in owners if o.get("name") != on_disk), None) if on_disk else None
            how = "hash"
        if victim is None:
            continue  # both RECORDs describe what is on disk (the same file twice): harmless
        intruder = next((o for o in owners if o is not victim), None)
        if intruder is None:
            continue
        out.append(
            {
                "path": path,
                "rel": str(shared.get("path")),
                "victim": {"name": victim.get("name"), "version": victim.get("version")},
                "intruder": {"name": intruder.get("name"), "version": intruder.get("version")},
                "how": how,
                "change": changed.get((victim.get("key"), shared.get("path"))),
            }
        )
    return out


# -- files that no longer match their RECORD ---------------------------------------------------


def damaged_named_files(ev: Evidence) -> list[dict[str, Any]]:
    """Files a failing step names whose only owner's RECORD they no longer match:
    ``{"path", "owner", "version", "record", "step"}``."""
    out = []
    seen = set()
    for step, rec in named_files(ev):
        owners = rec.get("owners") or []
        if len(owners) != 1 or rec.get("record") not in DAMAGED_RECORD or rec["path"] in seen:
            continue
        seen.add(rec["path"])
        out.append(
            {
                "path": rec["path"],
                "owner": owners[0].get("name"),
                "version": owners[0].get("version"),
                "record": rec.get("record"),
                "step": step,
            }
        )
    return out


def leftovers(ev: Evidence, package: str) -> list[str]:
    """pip's stash folders of ``package`` (``~orchvision`` for torchvision, ``~orchvision-0.29.1.dist-info``)
    next to the files a failure named: what an interrupted install or uninstall left behind."""
    stem = "~" + package.replace("-", "_")[1:]
    out: list[str] = []
    for _step, rec in named_files(ev):
        root = (rec.get("entry") or {}).get("path")
        for name in rec.get("leftovers") or []:
            path = os.path.join(root, name) if root else ""
            if path and (name == stem or name.startswith(stem + "-")) and path not in out:
                out.append(path)
    return out


# -- sys.path entries of another Python ------------------------------------------------------------


def foreign_entries(ev: Evidence) -> list[dict[str, Any]]:
    """sys.path entries that are another Python's site-packages, with what loaded from them:
    ``{"path", "origin", "pth", "python", "steps": [failing steps naming a file there],
    "tags": [ABI tags of compiled modules beside those files]}``."""
    out = []
    for entry in ev.sys_path_entries():
        if not entry.get("python"):
            continue
        root = str(entry.get("abs") or entry.get("path") or "")
        hit_steps: list[str] = []
        tags: list[str] = []
        for step, rec in named_files(ev):
            if str(rec.get("path", "")).startswith(root.rstrip("/") + "/"):
                if step not in hit_steps:
                    hit_steps.append(step)
                tags.extend(t for t in rec.get("dir_abi_tags") or [] if t not in tags)
                if rec.get("abi_tag") and rec["abi_tag"] not in tags:
                    tags.append(rec["abi_tag"])
        out.append(
            {
                "path": root,
                "origin": entry.get("origin"),
                "pth": entry.get("pth"),
                "python": entry.get("python"),
                "steps": hit_steps,
                "tags": tags,
            }
        )
    return out


def cause_of(ev: Evidence, step: str) -> str | None:
    """The provenance root cause a failing ``step`` folds under, or None.

    Mirrors the conditions of the rules that make those findings (an id no rule produced is
    dropped by the engine, so a wrong guess costs nothing but a lost fold)."""
    if not step_failed(ev, step):
        return None
    read = ev.live_step(step)
    message = read.error_message if read is not None else ""
    if isinstance(read, ExtensionsStep):
        message = " ".join(f.error for f in read.files)
    for bad in bad_library_candidates(ev):
        if bad["path"] in message or (bad["name"] and bad["name"] in message):
            return "library-path-override"
    if any(f["step"] == step for f in damaged_named_files(ev)):
        return "corrupt-file"
    if step in IMPORT_STEPS and overwritten_files(ev):
        return "overwritten-file"
    if any(step in f["steps"] for f in foreign_entries(ev)):
        return "foreign-site-packages"
    return None
