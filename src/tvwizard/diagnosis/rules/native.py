"""Rules on compiled files: libraries the loader cannot find, undefined symbols, bad files."""

from __future__ import annotations

import os
import re

from tvwizard.diagnosis.rules import rule
from tvwizard.diagnosis.rules.packages import variant_conflict
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.steps import NmsStep
from tvwizard.fixes import catalog
from tvwizard.fixes.commands import is_valid_version
from tvwizard.model import Fact, Finding, Severity

_MISSING = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")
# Libraries the NVIDIA driver provides (not the env): absent on every machine without a GPU
# driver, and loaded lazily by torch, so their absence is the GPU rules' business.
DRIVER_LIBS = re.compile(r"^lib(cuda|nvidia-[\w-]+|nvcuvid|nvidia-ml)\.so")
_CUDA_ONLY = re.compile(r"^lib(c10_cuda|torch_cuda|cudart|c10_hip|torch_hip|amdhip64)")


@rule(needs=("live|native",), emits=("missing-shared-library",), priority=160)
def missing_shared_library(ev: Evidence) -> list[Finding]:
    """The loader cannot find a library: name it and who needs it."""
    missing: dict[str, list[str]] = {}
    for f in ev.extension_errors():
        m = _MISSING.search(f.error)
        if m:
            missing.setdefault(m.group(1), []).append(f"torchvision/{f.file}")
    stopped: dict[str, dict] = {}  # lib -> the unresolved item whose search ended at a bad file
    for item in ev.unresolved_libraries():
        lib = str(item.get("name") or item.get("library") or "")
        who = str(item.get("needed_by") or item.get("file") or "")
        if lib and who and not item.get("driver") and not DRIVER_LIBS.match(lib):
            if item.get("path") and item.get("problem"):
                stopped.setdefault(lib, item)
            missing.setdefault(lib, [])
            short = who.split("site-packages/")[-1]
            if short not in missing[lib] and not any(short.endswith(x.split("/")[-1]) for x in missing[lib]):
                missing[lib].append(short)
    if not missing:
        return []
    tb, vb = ev.torch_build(), ev.torchvision_build()
    conflict = tb is not None and vb is not None and variant_conflict(tb, vb) is not None
    missing_dists = _missing_dists(ev)
    from tvwizard.diagnosis.provenance import bad_library_candidates, damaged_named_files

    bad_paths = {os.path.normpath(b["path"]) for b in bad_library_candidates(ev)}
    damaged_paths = {os.path.normpath(d["path"]) for d in damaged_named_files(ev)}
    out = []
    for lib, who in sorted(missing.items()):
        cause = "build-variant-mismatch" if conflict and _CUDA_ONLY.match(lib) else None
        bad = stopped.get(lib)
        if bad is not None and os.path.normpath(bad["path"]) in bad_paths:
            cause = "library-path-override"
        elif bad is not None and os.path.normpath(bad["path"]) in damaged_paths:
            cause = "corrupt-file"
        if ev.torch_installed() is False and re.match(r"^lib(c10|torch|shm|caffe2)", lib):
            cause = "torch-missing"  # torchvision's extensions need torch's own libraries
        stem = re.sub(r"^lib|\.so.*$", "", lib).lower().replace("_", "")
        if cause is None and stem and any(stem in d.replace("-", "") for d in missing_dists):
            cause = "missing-dependency"  # e.g. libcudnn.so.9 from the uninstalled nvidia-cudnn-cu13
        if cause is None and any(
            os.path.basename(p) == lib for pkg in ("torch", "torchvision") for p in ev.record_missing(pkg)
        ):
            cause = "corrupt-file"  # a vendored library deleted from torchvision.libs / torch/lib
        torch_needs = all(w.startswith("torch/") for w in who)
        consequence = (
            "`import torch` fails with this error."
            if torch_needs
            else "torchvision catches this error and only shows a vague one later."
        )
        image_only = all(re.match(r"torchvision/(image|video)", w) for w in who) and _still_works(ev, who)
        needed = f"needed by {', '.join(who[:3])}{' …' if len(who) > 3 else ''}"
        if bad is not None:
            title = (
                f"{lib} cannot be loaded: the loader stopped at {os.path.normpath(bad['path'])} "
                f"({bad.get('problem')}); {needed}"
            )
            why = (
                f"ld.so found a file of that name first and could not load it; it does not look further. {consequence}"
            )
        else:
            title = f"{lib} cannot be found; {needed}"
            why = (
                "The dynamic loader looked in the file's RPATH/RUNPATH, LD_LIBRARY_PATH, the "
                f"ld.so cache and the system folders and did not find it. {consequence}"
            )
        out.append(
            Finding(
                id="missing-shared-library",
                severity=Severity.WARNING if image_only else Severity.ERROR,
                title=title,
                explanation=why,
                evidence=[
                    Fact(
                        "live" if ev.extension_errors() else "native",
                        "loader",
                        f"{lib}: cannot open shared object file",
                    )
                ],
                caused_by=cause,
                checks=["extensions", "native"] if ev.extension_errors() else ["native"],
            )
        )
    return out


def _missing_dists(ev: Evidence) -> list[str]:
    """Names of required distributions that are not installed at all (e.g. nvidia-cudnn-cu13)."""
    marker_env = ev.marker_env()
    if not marker_env or not ev.has("distributions"):
        return []
    from tvwizard.diagnosis.requirements import unsatisfied

    return [u.name for u in unsatisfied(ev.dists(), marker_env) if u.reason == "missing"]


@rule(needs=("live",), emits=("abi-mismatch",), priority=90)
def abi_mismatch(ev: Evidence) -> Finding | None:
    """Undefined symbols although the versions pair: built against another torch."""
    errors = [f for f in ev.extension_errors() if "undefined symbol" in f.error]
    if not errors:
        return None
    tb, vb = ev.torch_build(), ev.torchvision_build()
    if tb is not None and vb is not None and not knowledge.is_released_pair(tb.base, vb.base):
        return None  # version-mismatch explains the symbols
    from tvwizard.demangle import demangle_all

    sym = errors[0].error.split("undefined symbol:")[-1].strip()
    sym = demangle_all([sym]).get(sym, sym)
    return Finding(
        id="abi-mismatch",
        severity=Severity.ERROR,
        title=f"torchvision's {errors[0].file} does not link against this torch (undefined symbol {sym[:120]})",
        explanation=(
            "The versions pair on paper, but the compiled file was built against a different torch "
            "(a source build, a nightly, or a different C++ ABI). Rebuild torchvision against the "
            "installed torch, or install the released binary pair."
        ),
        evidence=[Fact("live", "extensions", errors[0].error)],
        checks=["extensions"],
    )


@rule(needs=("live",), emits=("image-extension-failed",))
def image_extension_failed(ev: Evidence) -> Finding | None:
    extensions = ev.extensions_step()
    files = extensions.files if extensions is not None else ()
    image = [f for f in files if f.file.startswith("image") and not f.loaded]
    ops_ok = any(f.file.startswith("_C") and f.loaded for f in files)
    if not image or not ops_ok:
        return None  # when _C fails too, the root cause covers both
    return Finding(
        id="image-extension-failed",
        severity=Severity.WARNING,
        title=f"torchvision's image extension does not load: {image[0].error[:200]}",
        explanation=(
            "torchvision imports and its ops work, but torchvision.io's image decoding "
            "(decode_jpeg, read_image…) will fail. Ignore it if you do not use torchvision.io."
        ),
        evidence=[Fact("live", "extensions", image[0].error)],
        caused_by="corrupt-file" if ev.record_missing("torchvision") else None,
        checks=["extensions"],
    )


DAMAGED = ("empty", "not-elf", "bad-elf", "truncated", "unreadable")


def _still_works(ev: Evidence, paths: list[str]) -> bool:
    """torchvision imports and its ops run, and none of ``paths`` is its ops library (_C*)."""
    ops_hit = any(os.path.basename(p).startswith("_C") for p in paths)
    nms = ev.live_step("nms_cpu")
    return not ops_hit and ev.torchvision_imported() and isinstance(nms, NmsStep) and bool(nms.correct)


@rule(needs=("native|distributions|live",), emits=("corrupt-file",), priority=64)
def corrupt_file(ev: Evidence) -> list[Finding]:
    """Files that no longer match their package's RECORD: damaged, cut short or gone.

    Read three ways: torch's and torchvision's compiled files as the loader sees them (empty,
    truncated, not ELF), RECORD entries missing on disk or of another size, and the files a
    failing step names whose hash differs from RECORD (any package: an nvidia-* library too).
    The fix reinstalls each owner at the same version, and removes pip's ``~`` leftovers."""
    from tvwizard.diagnosis.provenance import behaviour_works, damaged_named_files, leftovers, overwritten_files

    overwritten = {o["path"] for o in overwritten_files(ev)}
    problems: dict[str, list[tuple[str, str, Fact]]] = {}  # package -> [(path, label, fact)]
    for pkg in ("torch", "torchvision"):
        for f in ev.native_files(pkg):
            if f.get("problem") in DAMAGED:
                short = f["path"].split("site-packages/")[-1]
                fact = Fact("native", pkg, f"{f['path']}: {f.get('detail') or f['problem']}")
                problems.setdefault(pkg, []).append((f["path"], f"{short} ({f['problem']})", fact))
        for p in ev.record_missing(pkg):
            fact = Fact("distributions", pkg, f"RECORD lists {p}, which is not on disk")
            problems.setdefault(pkg, []).append((p, f"{p} (missing)", fact))
    for key, copies in ev.focus_copies().items():
        first = (copies or [{}])[0]
        root = os.path.dirname(str(first.get("path") or ""))
        for c in (first.get("record") or {}).get("native_changed") or []:
            path = os.path.normpath(os.path.join(root, str(c.get("path"))))
            if path in overwritten:
                continue  # another package wrote it: overwritten-file says so
            fact = Fact(
                "distributions", key, f"{c.get('path')}: {c.get('size')} bytes, RECORD says {c.get('record_size')}"
            )
            problems.setdefault(str(first.get("name") or key), []).append(
                (path, f"{c.get('path')} (size differs)", fact)
            )
    for d in damaged_named_files(ev):
        if d["path"] in overwritten or any(d["path"] == p for items in problems.values() for p, _l, _f in items):
            continue
        fact = Fact("live", d["step"], f"{d['path']}: {d['record']} from the RECORD of {d['owner']} {d['version']}")
        short = d["path"].split("site-packages/")[-1]
        problems.setdefault(str(d["owner"]), []).append((d["path"], f"{short} ({d['record']})", fact))
    if not problems:
        return []
    fixes = []
    for pkg in problems:
        d = ev.dist(pkg)
        version = (d or {}).get("version") or next(
            (x["version"] for x in damaged_named_files(ev) if x["owner"] == pkg), None
        )
        if version and is_valid_version(str(version)):  # metadata's Version: goes into a command only if it is one
            fixes.append(
                catalog.build(
                    "reinstall-package", ev=ev, package=pkg, version=str(version), leftovers=leftovers(ev, pkg)
                )
            )
    paths = [p for items in problems.values() for p, _l, _f in items]
    names = [label for items in problems.values() for _p, label, _f in items]
    only_images = set(problems) == {"torchvision"} and _still_works(ev, paths)
    pkgs = ", ".join(problems)
    return [
        Finding(
            id="corrupt-file",
            # Only the image/video extensions hit (torchvision itself still works), or nothing fails.
            severity=Severity.WARNING if only_images or behaviour_works(ev) else Severity.ERROR,
            title=f"Damaged or missing compiled file(s) of {pkgs}: {', '.join(names[:4])}"
            + (" …" if len(names) > 4 else ""),
            explanation="The install is incomplete: a file is empty, truncated, not a shared object, no longer "
            "what the package's RECORD says (its size or hash), or listed in RECORD but gone. An interrupted "
            "download or install, a full disk, a sync tool or a hand-made clean-up; the loader cannot use it.",
            evidence=[f for items in problems.values() for _p, _l, f in items][:12],
            fixes=fixes,
            checks=["native", "distributions"],
        )
    ]


@rule(needs=("native|live",), emits=("library-path-override",), priority=60)
def library_path_override(ev: Evidence) -> list[Finding]:
    """LD_LIBRARY_PATH or LD_PRELOAD puts a library first that is not the one torch needs.

    Two ways: another copy of a library torch ships (an override the loader model resolves to),
    or a file ld.so cannot load at all (not ELF, cut short, another machine) found first: ld.so
    stops its search there with that error instead of looking further."""
    from tvwizard.diagnosis.provenance import bad_library_candidates, behaviour_works

    overrides = ev.library_overrides()
    bad = bad_library_candidates(ev)
    if not overrides and not bad:
        return []
    sources = {o.get("source") for o in overrides} | {b["source"] for b in bad}
    fixes = []
    if "LD_LIBRARY_PATH" in sources:
        entries = [o.get("entry") for o in overrides if o.get("source") == "LD_LIBRARY_PATH"]
        entries += [b["entry"] for b in bad if b["source"] == "LD_LIBRARY_PATH"]
        bad_entries = [e for e in dict.fromkeys(entries) if e]
        current = ev.ld_library_path()
        if not current:
            current = [e for e in (ev.env.get("LD_LIBRARY_PATH") or "").split(":") if e]
        kept = [e for e in current if e not in bad_entries]
        fixes.append(catalog.build("trim-ld-library-path", bad_entries=bad_entries, kept=kept))
    if "LD_PRELOAD" in sources:
        fixes.append(catalog.build("unset-ld-preload"))
    evidence = [
        Fact(
            "native",
            o.get("name", ""),
            f"{o.get('source')}={o.get('entry')}: {o.get('path')} "
            f"shadows {o.get('shadows')}; used by {', '.join(o.get('used_by') or [])[:300]}",
        )
        for o in overrides[:6]
    ]
    evidence += [
        Fact(
            "native",
            b["name"],
            f"{b['source']}={b['entry']}: {b['path']} is {b['problem']}"
            + (f" ({b['detail']})" if b["detail"] else "")
            + (f"; needed by {b['needed_by']}" if b["needed_by"] else ""),
        )
        for b in bad[:6]
    ]
    if bad:
        first = bad[0]
        title = (
            f"{first['source']} entry {first['entry']} holds {first['path']}, which the loader cannot load "
            f"({first['detail'] or first['problem']}): ld.so stops there instead of finding a working {first['name']}"
        )
        explanation = (
            "ld.so searches LD_PRELOAD, RPATH, LD_LIBRARY_PATH, RUNPATH, the ld.so cache and the system "
            "folders in order, and the first file with the right name ends the search: one it cannot load "
            "(an empty or cut-short file, not an ELF library, another machine's build) is an error, not a "
            "reason to look further. That entry put it first."
        )
    else:
        first = overrides[0]
        title = (
            f"{first.get('source')} puts {first.get('path')} ahead of the {first.get('name')} torch needs "
            f"({first.get('shadows')})"
        )
        explanation = (
            "The loader takes LD_PRELOAD first, and LD_LIBRARY_PATH before the folders some of "
            "torch's libraries point to, so another copy of a library torch ships is loaded instead of "
            "torch's own (the classic: an older system CUDA library); `import torch` then fails with an "
            "`undefined symbol`."
        )
    return [
        Finding(
            id="library-path-override",
            # Nothing fails (the other copy happens to be compatible): worth knowing, not an error.
            severity=Severity.WARNING if behaviour_works(ev) else Severity.ERROR,
            title=title,
            explanation=explanation,
            evidence=evidence,
            fixes=fixes,
            checks=["native", "import_torch"],
        )
    ]
