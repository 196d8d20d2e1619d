"""Rules on compiled files: libraries the loader cannot find, undefined symbols, bad files."""

from __future__ import annotations

import os
import re

from tvwizard.diagnosis.rules import rule
from tvwizard.diagnosis.rules.packages import variant_conflict
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.model import Fact, Finding, Fix, Severity

_MISSING = re.compile(r"([\w.+-]+\.so[\w.]*): cannot open shared object file")
# Libraries the NVIDIA driver provides (not the env): absent on every machine without a GPU
# driver, and loaded lazily by torch, so their absence is the GPU rules' business.
DRIVER_LIBS = re.compile(r"^lib(cuda|nvidia-[\w-]+|nvcuvid|nvidia-ml)\.so")
_CUDA_ONLY = re.compile(r"^lib(c10_cuda|torch_cuda|cudart|c10_hip|torch_hip|amdhip64)")


@rule("live|native")
def missing_shared_library(ev: Evidence) -> list[Finding]:
    """The loader cannot find a library: name it and who needs it."""
    missing: dict[str, list[str]] = {}
    for f in ev.extension_errors():
        m = _MISSING.search(f.get("error", ""))
        if m:
            missing.setdefault(m.group(1), []).append(f"torchvision/{f.get('file')}")
    for item in ev.data("native").get("unresolved") or []:
        lib = str(item.get("name") or item.get("library") or "")
        who = str(item.get("needed_by") or item.get("file") or "")
        if lib and who and not item.get("driver") and not DRIVER_LIBS.match(lib):
            missing.setdefault(lib, [])
            short = who.split("site-packages/")[-1]
            if short not in missing[lib] and not any(short.endswith(x.split("/")[-1]) for x in missing[lib]):
                missing[lib].append(short)
    if not missing:
        return []
    tb, vb = ev.torch_build(), ev.torchvision_build()
    conflict = tb is not None and vb is not None and variant_conflict(tb, vb) is not None
    missing_dists = _missing_dists(ev)
    out = []
    for lib, who in sorted(missing.items()):
        cause = "build-variant-mismatch" if conflict and _CUDA_ONLY.match(lib) else None
        if ev.torch_installed() is False and re.match(r"^lib(c10|torch|shm|caffe2)", lib):
            cause = "torch-missing"  # torchvision's extensions need torch's own libraries
        stem = re.sub(r"^lib|\.so.*$", "", lib).lower().replace("_", "")
        if cause is None and stem and any(stem in d.replace("-", "") for d in missing_dists):
            cause = "missing-dependency"  # e.g. libcudnn.so.9 from the uninstalled nvidia-cudnn-cu13
        if cause is None and any(
            os.path.basename(p) == lib for pkg in ("torch", "torchvision") for p in _missing_from_record(ev, pkg)
        ):
            cause = "corrupt-file"  # a vendored library deleted from torchvision.libs / torch/lib
        torch_needs = all(w.startswith("torch/") for w in who)
        consequence = (
            "`import torch` fails with this error."
            if torch_needs
            else "torchvision catches this error and only shows a vague one later."
        )
        image_only = all(re.match(r"torchvision/(image|video)", w) for w in who) and _still_works(ev, who)
        out.append(
            Finding(
                id="missing-shared-library",
                severity=Severity.WARNING if image_only else Severity.ERROR,
                title=f"{lib} cannot be found; needed by {', '.join(who[:3])}{' …' if len(who) > 3 else ''}",
                explanation=(
                    "The dynamic loader looked in the file's RPATH/RUNPATH, LD_LIBRARY_PATH, the "
                    f"ld.so cache and the system folders and did not find it. {consequence}"
                ),
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
    marker_env = ev.data("interpreter").get("marker_env")
    if not marker_env or not ev.has("distributions"):
        return []
    from tvwizard.diagnosis.requirements import unsatisfied

    return [u.name for u in unsatisfied(ev.dists(), marker_env) if u.reason == "missing"]


@rule("live")
def abi_mismatch(ev: Evidence) -> Finding | None:
    """Undefined symbols although the versions pair: built against another torch."""
    errors = [f for f in ev.extension_errors() if "undefined symbol" in f.get("error", "")]
    if not errors:
        return None
    tb, vb = ev.torch_build(), ev.torchvision_build()
    if tb is not None and vb is not None and not knowledge.is_released_pair(tb.base, vb.base):
        return None  # version-mismatch explains the symbols
    from tvwizard.demangle import demangle_all

    sym = errors[0]["error"].split("undefined symbol:")[-1].strip()
    sym = demangle_all([sym]).get(sym, sym)
    return Finding(
        id="abi-mismatch",
        severity=Severity.ERROR,
        title=f"torchvision's {errors[0].get('file')} does not link against this torch (undefined symbol {sym[:120]})",
        explanation=(
            "The versions pair on paper, but the compiled file was built against a different torch "
            "(a source build, a nightly, or a different C++ ABI). Rebuild torchvision against the "
            "installed torch, or install the released binary pair."
        ),
        evidence=[Fact("live", "extensions", errors[0]["error"])],
        checks=["extensions"],
    )


@rule("live")
def image_extension_failed(ev: Evidence) -> Finding | None:
    files = ev.step_data("extensions").get("files") or []
    image = [f for f in files if f.get("file", "").startswith("image") and not f.get("loaded")]
    ops_ok = any(f.get("file", "").startswith("_C") and f.get("loaded") for f in files)
    if not image or not ops_ok:
        return None  # when _C fails too, the root cause covers both
    return Finding(
        id="image-extension-failed",
        severity=Severity.WARNING,
        title=f"torchvision's image extension does not load: {image[0].get('error', '')[:200]}",
        explanation=(
            "torchvision imports and its ops work, but torchvision.io's image decoding "
            "(decode_jpeg, read_image…) will fail. Ignore it if you do not use torchvision.io."
        ),
        evidence=[Fact("live", "extensions", image[0].get("error", ""))],
        caused_by="corrupt-file" if _missing_from_record(ev, "torchvision") else None,
        checks=["extensions"],
    )


DAMAGED = ("empty", "not-elf", "bad-elf", "truncated", "unreadable")


def _missing_from_record(ev: Evidence, pkg: str) -> list[str]:
    """Compiled files the package's RECORD lists but the disk lacks (``torchvision.libs/libjpeg…``)."""
    copies = (ev.data("distributions").get("focus") or {}).get(pkg) or []
    record = (copies[0].get("record") or {}) if copies else {}
    return [str(p) for p in record.get("native_missing") or []]


def _still_works(ev: Evidence, paths: list[str]) -> bool:
    """torchvision imports and its ops run, and none of ``paths`` is its ops library (_C*)."""
    ops_hit = any(os.path.basename(p).startswith("_C") for p in paths)
    nms = ev.step_data("nms_cpu")
    return not ops_hit and ev.torchvision_imported() and bool(nms.get("correct"))


@rule("native|distributions")
def corrupt_file(ev: Evidence) -> list[Finding]:
    """Damaged or missing compiled files of torch/torchvision: an interrupted install."""
    from tvwizard.fixes.commands import installer_for, quote

    out = []
    for pkg in ("torch", "torchvision"):
        bad = [f for f in ev.native_files(pkg) if f.get("problem") in DAMAGED]
        gone = _missing_from_record(ev, pkg)
        if not bad and not gone:
            continue
        d = ev.dist(pkg)
        version = (d or {}).get("version")
        fixes = []
        if version:
            inst = installer_for(ev)
            argv = inst.install([f"{pkg}=={version}"], force_reinstall=True, no_deps=True)
            fixes.append(
                Fix(
                    id="reinstall-package",
                    title=f"Reinstall {pkg} {version} over the damaged files",
                    kind="command",
                    commands=[quote(argv)],
                    argv=[argv],
                    applicable=inst.auto,
                    restart=True,
                    why="A fresh copy of the same version replaces the damaged files; nothing else changes.",
                    changes=f"Rewrites every file of {pkg} {version}; its dependencies are not touched (--no-deps).",
                    undo="Nothing to undo: the same version is installed again.",
                    download="",
                )
            )
        names = [f"{f['path'].split('site-packages/')[-1]} ({f['problem']})" for f in bad]
        names += [f"{p} (missing)" for p in gone]
        paths = [f["path"] for f in bad] + gone
        out.append(
            Finding(
                id="corrupt-file",
                # Only the image/video extensions hit: torchvision itself still works.
                severity=Severity.WARNING if pkg == "torchvision" and _still_works(ev, paths) else Severity.ERROR,
                title=f"Damaged or missing compiled file(s) of {pkg}: {', '.join(names[:4])}"
                + (" …" if len(names) > 4 else ""),
                explanation="The install is incomplete: a file is empty, truncated, not a shared object, or "
                "listed in the package's RECORD but gone. An interrupted download or install, a full disk, "
                "a sync tool or a hand-made clean-up; the loader cannot use it.",
                evidence=[Fact("native", pkg, f"{f['path']}: {f.get('detail') or f['problem']}") for f in bad[:10]]
                + [Fact("distributions", pkg, f"RECORD lists {p}, which is not on disk") for p in gone[:10]],
                fixes=fixes,
                checks=["native", "distributions"],
            )
        )
    return out


@rule("native")
def library_path_override(ev: Evidence) -> list[Finding]:
    overrides = [o for o in ev.data("native").get("overrides") or [] if o.get("used_by")]
    if not overrides:
        return []
    sources = {o.get("source") for o in overrides}
    fixes = []
    if "LD_LIBRARY_PATH" in sources:
        bad_entries = {o.get("entry") for o in overrides if o.get("source") == "LD_LIBRARY_PATH"}
        current = [e.get("entry") for e in ev.data("native").get("ld_library_path") or []]
        kept = [e for e in current if e and e not in bad_entries]
        fixes.append(
            Fix(
                id="trim-ld-library-path",
                title="Take " + ", ".join(sorted(b for b in bad_entries if b)) + " out of LD_LIBRARY_PATH",
                kind="env",
                env={"LD_LIBRARY_PATH": ":".join(kept) or None},
                why="torch ships the libraries it needs and finds them itself; the older copies "
                "ahead of them on LD_LIBRARY_PATH are loaded first.",
                undo="Restore LD_LIBRARY_PATH to its previous value (see the evidence).",
                restart=True,
            )
        )
    if "LD_PRELOAD" in sources:
        fixes.append(
            Fix(
                id="unset-ld-preload",
                title="Unset LD_PRELOAD for Python",
                kind="env",
                env={"LD_PRELOAD": None},
                restart=True,
                why="A preloaded library wins over the copy torch ships.",
            )
        )
    first = overrides[0]
    return [
        Finding(
            id="library-path-override",
            severity=Severity.ERROR,
            title=f"{first.get('source')} puts {first.get('path')} ahead of the {first.get('name')} torch needs "
            f"({first.get('shadows')})",
            explanation="The loader takes LD_PRELOAD first, and LD_LIBRARY_PATH before the folders some of "
            "torch's libraries point to, so another copy of a library torch ships is loaded instead of "
            "torch's own (the classic: an older system CUDA library); `import torch` then fails with an "
            "`undefined symbol`.",
            evidence=[
                Fact(
                    "native",
                    o.get("name", ""),
                    f"{o.get('source')}={o.get('entry')}: {o.get('path')} "
                    f"shadows {o.get('shadows')}; used by {', '.join(o.get('used_by') or [])[:300]}",
                )
                for o in overrides[:6]
            ],
            fixes=fixes,
            checks=["native", "import_torch"],
        )
    ]
