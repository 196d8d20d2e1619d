"""Rules on the environment around the packages: shadowing, NumPy, library paths."""

from __future__ import annotations

import os
import re

from tvwizard.diagnosis.rules import rule
from tvwizard.facts.evidence import Evidence
from tvwizard.fixes import catalog
from tvwizard.model import Fact, Finding, Fix, Severity
from tvwizard.units import size

NUMPY_BANNER = "A module that was compiled using NumPy 1.x cannot be run in"


def _numpy2_with_old_torch(ev: Evidence, numpy: dict | None) -> bool:
    from tvwizard.facts import knowledge

    version = str((numpy or {}).get("version") or "")
    tb = ev.torch_build()
    return (
        version[:2].rstrip(".").isdigit()
        and int(version.split(".")[0]) >= 2
        and (tb is not None and not knowledge.numpy2_supported(tb.base))
    )


@rule(needs=("live",), emits=("numpy-abi",), priority=170)
def numpy_abi(ev: Evidence) -> Finding | None:
    run = ev.probes["live"]
    steps = [s for s in (ev.import_step("import_torch"), ev.import_step("import_torchvision")) if s is not None]
    notices = [n for step in steps for n in step.notices]
    banner = "numpy-abi" in notices or any(NUMPY_BANNER in line.text for line in run.log)
    torch = ev.import_step("import_torch")
    numpy_err = torch.numpy_error.message if torch is not None and torch.numpy_error is not None else ""
    warned = torch is not None and any("_ARRAY_API not found" in w for w in torch.warnings)
    numpy = ev.dist("numpy")
    # "Numpy is not available" alone also means no NumPy at all (missing-dependency's business):
    # only NumPy 2 next to a torch built for NumPy 1 makes it this finding.
    unavailable = "Numpy is not available" in numpy_err and _numpy2_with_old_torch(ev, numpy)
    if not (banner or warned or unavailable):
        return None
    return Finding(
        id="numpy-abi",
        severity=Severity.ERROR,
        title=f"NumPy {numpy.get('version') if numpy else '2.x'} with a torch built for NumPy 1.x",
        explanation=(
            "torch ≤ 2.2 was compiled against NumPy 1.x. With NumPy 2 it prints a traceback-like "
            "banner on the first import (not an exception), then `.numpy()` and `from_numpy` fail "
            "with 'Numpy is not available'. A second import is silent, which makes it look fixed."
        ),
        evidence=[Fact("live", "import_torch", NUMPY_BANNER if banner else (numpy_err or "_ARRAY_API not found"))],
        fixes=[catalog.build("numpy-below-2", ev=ev, installed=numpy.get("version") if numpy else None)],
        checks=["import_torch"],
    )


_FRAME = re.compile(r'File "([^"]+)", line \d+')


def _cwd_frames(traceback: str, cwd: str) -> list[str]:
    """Files of the working folder that a traceback went through, in order, deduplicated.

    Nothing of the user's own runs in ``python -c "import torchvision"``: a frame from a
    ``.py`` directly in the working folder (or a package folder there) is a stray module
    shadowing something (torchvision itself, or a stdlib module torch imports, like
    ``timeit.py``).
    """
    out: list[str] = []
    root = cwd.rstrip("/") + "/"
    for path in _FRAME.findall(traceback or ""):
        if not path.startswith(root) or "site-packages" in path or "dist-packages" in path:
            continue
        rel = path[len(root) :]
        if rel.count("/") > 1:
            continue  # deep in a project tree: not a top-level shadow
        if path not in out:
            out.append(path)
    return out


@rule(needs=("live",), emits=("shadowed-module",), priority=50)
def shadowed_by_cwd(ev: Evidence) -> Finding | None:
    """A module in the working folder hides an installed or standard-library one."""
    cwd = ev.live_cwd()
    if not cwd:
        return None
    for pkg, step in (("torch", "import_torch"), ("torchvision", "import_torchvision")):
        read = ev.import_step(step)
        path = (read.file if read is not None else None) or ""
        msg = read.error_message if read is not None else ""
        traceback = read.error.traceback if read is not None and read.error is not None else ""
        hit = path if path and os.path.dirname(path) in (cwd, os.path.join(cwd, pkg)) else ""
        shadowed = pkg
        if not hit:
            frames = _cwd_frames(traceback, cwd)
            if frames:
                hit = frames[0]
                base = os.path.basename(hit)
                shadowed = os.path.basename(os.path.dirname(hit)) if base == "__init__.py" else base[:-3]
        if not hit and ("consider renaming" in msg or f"partially initialized module '{pkg}'" in msg):
            hit = f"{pkg} in {cwd}"
        if hit:
            return _shadow_finding(ev, cwd, pkg, step, hit, shadowed, traceback[-3000:] or path)
    return None


CHECKOUT_MARKERS = ("setup.py", "pyproject.toml", "setup.cfg", ".git")


def _shadow_finding(ev: Evidence, cwd: str, pkg: str, step: str, hit: str, shadowed: str, detail: str) -> Finding:
    """The finding for a module of the working folder that hides ``shadowed``."""
    target = os.path.dirname(hit) if os.path.basename(hit) == "__init__.py" else hit  # a package: its folder
    is_package = target != hit
    checkout = is_package and any(os.path.exists(os.path.join(cwd, m)) for m in CHECKOUT_MARKERS)
    who = "you" if shadowed == pkg else pkg + " or a library it uses"
    if checkout:
        title = f"{cwd} is a `{shadowed}` source checkout: `import {shadowed}` loads its unbuilt copy"
        explanation = (
            f"Python looks in the working folder first, so inside a source checkout `import {shadowed}` "
            "finds the repository's package, whose compiled extensions were never built, instead of the "
            "installed one. Run Python from another folder, or build the checkout in place."
        )
        fixes = [
            catalog.build("leave-checkout", folder=cwd),
            catalog.build("build-checkout", folder=cwd, python=ev.target.executable or ev.target.python),
        ]
    else:
        title = f"{target} in the working folder hides the real `{shadowed}` module"
        explanation = (
            f"Python looks in the working folder first, so `import {shadowed}` (done by {who}) loads this "
            f"{'folder' if is_package else 'file'} instead of the real module. Rename it"
            + ("" if is_package else ", and delete its __pycache__")
            + "."
        )
        fixes = [catalog.build("rename-shadowing-file", target=target, module=shadowed)]
    return Finding(
        id="shadowed-module",
        severity=Severity.ERROR,
        title=title,
        explanation=explanation,
        evidence=[Fact("live", step, detail)],
        fixes=fixes,
        checks=[step, "resolution"],
    )


_PLACES = {
    "cwd": "the working folder",
    "script": "the script's folder",
    "pythonpath": "PYTHONPATH",
    "user-site": "the user site-packages",
    "usersite": "the user site-packages",
    "pth": "a .pth file",
}


def shadow_winner(ev: Evidence, name: str) -> dict | None:
    """The candidate ``import name`` would take when it is not an installed distribution's and an
    installed one lies further down sys.path: ``{"winner", "installed", "spec", "entry"}`` (entry:
    the interpreter probe's record of the sys.path entry it sits in, with its origin and .pth)."""
    mod = ev.resolutions().get(name) or {}
    spec = mod.get("spec") or {}
    installed = mod.get("installed") or []
    candidates = mod.get("candidates") or []
    if not spec or not installed or not candidates:
        return None
    winner = next((c for c in candidates if c.get("kind") != "namespace"), candidates[0])
    if winner.get("dists"):
        return None  # the winner carries its own metadata: an install, not a stray file
    if winner.get("entry") == installed[0].get("entry"):
        return None
    index = winner.get("entry")
    entry = ev.sys_path_entry_at(index)
    return {"winner": winner, "installed": installed[0], "spec": spec, "entry": entry}


@rule(needs=("resolution",), emits=("shadowed-module",), priority=50)
def shadowed_module(ev: Evidence) -> list[Finding]:
    """The module Python would import is not the installed distribution's."""
    out: list[Finding] = []
    for name in ("torchvision", "torch"):
        found = shadow_winner(ev, name)
        if found is None:
            continue
        winner, first_installed, spec, entry = found["winner"], found["installed"], found["spec"], found["entry"]
        path = str(winner.get("path") or spec.get("origin") or "")
        origin = str(winner.get("entry_origin") or entry.get("origin") or "")
        place = _PLACES.get(origin, f"sys.path entry {winner.get('entry')}")
        checkout = winner.get("checkout") or []
        what = (
            "a source checkout"
            if checkout
            else ("a folder" if winner.get("kind") in ("package", "namespace") else "a file")
        )
        folder = str(entry.get("abs") or entry.get("path") or os.path.dirname(path.rstrip("/")))
        fixes = []
        why = f"`import {name}` must find the installed package, not this {what}."
        if origin == "pythonpath":
            # The entry, not the folder's content, is what put it first: proven by probing without it.
            entries = [e for e in (ev.env.get("PYTHONPATH") or "").split(os.pathsep) if e]
            fixes.append(catalog.build("trim-pythonpath", package=name, location=folder, entries=entries, why=why))
        elif origin in ("pth", "user_site") and entry.get("pth"):
            fixes.append(catalog.build("disable-pth-file", pth=str(entry["pth"]), what=folder))
        elif origin in ("cwd", "script") and not checkout:
            target = path.rstrip("/")
            fixes.append(catalog.build("rename-shadowing-file", target=target, module=name))
        elif checkout:
            fixes.append(catalog.build("leave-checkout", folder=os.path.dirname(path)))
        out.append(
            Finding(
                id="shadowed-module",
                severity=Severity.ERROR,
                title=f"{path} ({what} in {place}) hides the installed {name} {first_installed.get('version') or ''}",
                explanation=(
                    f"Python searches sys.path in order and stops at the first `{name}`: this one, which is not "
                    f"the installed distribution. Everything that imports {name} gets it instead."
                    + (f" {place} put {folder} ahead of the installed one." if origin == "pythonpath" else "")
                ),
                evidence=[Fact("resolution", name, f"import {name} -> {spec.get('origin') or path}")],
                fixes=fixes,
                checks=["resolution", f"import_{name}"],
            )
        )
    return out


def _q(path: str) -> str:
    from tvwizard.fixes.shell import quote_word

    return quote_word(path)


def stray_copy(ev: Evidence, key: str) -> dict | None:
    """The copy of ``key`` Python imports when it is not the env's own but another one is.

    Returns ``{"copy", "location", "origin", "own"}`` (``origin`` as the interpreter probe
    names sys.path entries: pythonpath, user_site, cwd, pth…), or None.
    """
    copies = ev.duplicates(key)
    if len(copies) < 2:
        return None

    def origin_of(copy: dict) -> str:
        location = ev.dist_location(copy) or ""
        entry = ev.sys_path_entry(location)
        if entry:
            return str(entry.get("origin") or "")
        prefix = ev.target.prefix.rstrip("/") + "/" if ev.target.prefix else ""
        return "site" if prefix and location.startswith(prefix) else ""

    first = copies[0]
    # Why each copy's folder is on sys.path decides which is the env's own: the interpreter's
    # site-packages ("site"), not the user site, PYTHONPATH or a .pth file ahead of it.
    own = next((c for c in copies[1:] if origin_of(c) == "site"), None)
    if origin_of(first) == "site" or own is None:
        return None
    return {"copy": first, "location": ev.dist_location(first) or "", "origin": origin_of(first), "own": own}


_ORIGIN_WORDS = {
    "pythonpath": "on PYTHONPATH",
    "user_site": "in the user site-packages",
    "cwd": "in the working folder",
    "pth": "added by a .pth file",
}


def _stray_fixes(ev: Evidence, key: str, stray: dict) -> list[Fix]:
    location, origin = stray["location"], stray["origin"]
    if origin == "pythonpath":
        entries = [e for e in (ev.env.get("PYTHONPATH") or "").split(os.pathsep) if e]
        return [catalog.build("trim-pythonpath", package=key, location=location, entries=entries)]
    if origin == "user_site":
        return [catalog.build("ignore-user-site", ev=ev, package=key)]
    copy = stray["copy"]
    paths = [os.path.join(location, key), os.path.join(location, str(copy.get("meta") or f"{key}-*.dist-info"))]
    return [
        catalog.build("remove-stray-copy", package=key, location=location, version=copy.get("version"), paths=paths)
    ]


@rule(needs=("distributions",), emits=("duplicate-install",), priority=66)
def duplicate_install(ev: Evidence) -> list[Finding]:
    out = []
    for key in ("torch", "torchvision", "numpy", "torchaudio"):
        copies = ev.duplicates(key)
        if len(copies) < 2:
            continue
        desc = [
            f"{c.get('version')} in {ev.dist_location(c) or '?'}"
            + (f" ({c['installer']})" if c.get("installer") else "")
            for c in copies
        ]
        versions = {str(c.get("version")) for c in copies}
        stray = stray_copy(ev, key)
        if stray is not None:
            where = _ORIGIN_WORDS.get(stray["origin"], f"in {stray['location']}")
            title = (
                f"{key} {stray['copy'].get('version')} {where} ({stray['location']}) hides the env's own "
                f"{key} {stray['own'].get('version')} ({ev.dist_location(stray['own']) or '?'}): Python imports "
                "the first"
            )
            severity = Severity.ERROR if key in ("torch", "torchvision") or len(versions) > 1 else Severity.WARNING
            fixes = _stray_fixes(ev, key, stray)
        else:
            title = (
                f"{len(copies)} copies of {key} are reachable: {'; '.join(desc)}; the first "
                f"({copies[0].get('version')}) is the one Python imports"
            )
            severity = Severity.ERROR if len(versions) > 1 and key in ("torch", "torchvision") else Severity.WARNING
            fixes = []
        from tvwizard.diagnosis.provenance import behaviour_works

        if behaviour_works(ev):
            severity = Severity.WARNING  # the copy that wins works: the other is clutter, not a failure
        out.append(
            Finding(
                id="duplicate-install",
                severity=severity,
                title=title,
                explanation=(
                    "Python imports the first copy on sys.path, while pip (or conda) reports and "
                    "upgrades the env's own. Installing into the env does not help while the other "
                    "copy stays first: take it off the path."
                ),
                evidence=[Fact("distributions", key, d) for d in desc],
                fixes=fixes,
                checks=["distributions", "resolution"],
            )
        )
    return out


@rule(needs=("distributions", "interpreter"), emits=("missing-dependency",), priority=150)
def missing_dependency(ev: Evidence) -> list[Finding]:
    from tvwizard.diagnosis.provenance import behaviour_works
    from tvwizard.diagnosis.requirements import unsatisfied
    from tvwizard.fixes.commands import UnsafeRequirement

    marker_env = ev.marker_env()
    works = behaviour_works(ev)
    out = []
    for u in unsatisfied(ev.dists(), marker_env):
        if u.name in ("torch", "torchvision"):
            continue  # version-mismatch / torch-missing say it with the root cause
        req = f"{u.name}{u.specifier}"
        try:
            fix = catalog.build(
                "install-requirement", ev=ev, requirement=req, name=u.name, requirer=u.requirer, installed=u.installed
            )
        except UnsafeRequirement:  # metadata no installer should be handed: no command from it
            continue
        missing = u.reason == "missing"
        out.append(
            Finding(
                id="missing-dependency",
                # Verdict from behaviour: a requirement missing while everything imports and runs is a warning.
                severity=Severity.ERROR if missing and not works else Severity.WARNING,
                title=(
                    f"{u.requirer} {u.requirer_version or ''} needs {u.name}{u.specifier}: "
                    + ("not installed" if missing else f"{u.installed} is installed")
                ),
                explanation="A required package is missing or at a version the requirer does not accept; "
                "`import` fails (or misbehaves) when the requirer reaches it.",
                evidence=[Fact("distributions", u.requirer, f"Requires-Dist: {u.requirement}")],
                fixes=[fix],
                checks=["distributions"],
            )
        )
    return out


LOW_DISK_BYTES = 6 * 2**30  # a CUDA torch with its nvidia-* wheels, unpacked, plus pip's copy


@rule(needs=("live|distributions",), emits=("low-disk",))
def low_disk_for_fixes(ev: Evidence) -> Finding | None:
    """The fixes on offer download gigabytes the env's disk does not have."""
    disk = (ev.system.get("disk") or {}) if isinstance(ev.system, dict) else {}
    free = disk.get("free")
    if not isinstance(free, int | float) or free >= LOW_DISK_BYTES:
        return None
    return Finding(
        id="low-disk",
        severity=Severity.WARNING,
        title=f"Only {size(free)} free on the disk of {ev.target.prefix or 'the env'}: a CUDA torch needs about 6 GiB",
        explanation="A reinstall of a CUDA build of torch downloads about 3 GB and unpacks to more; pip fails "
        "part-way when the disk fills, leaving a half-installed torch. Free space first, or pick a CPU build "
        "(about 200 MB) where no GPU is used.",
        evidence=[Fact("system", "disk", f"{disk.get('path')}: {free} bytes free")],
        checks=["machine"],
    )
