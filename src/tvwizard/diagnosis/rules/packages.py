"""Rules on which packages are installed and whether they pair.

These read static metadata (``distributions``) when the live import has not finished yet,
so a mismatch shows in the first half-second, and the live versions when they exist.
"""

from __future__ import annotations

from tvwizard.diagnosis.rules import rule
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.fixes import catalog
from tvwizard.fixes.pairing import newest_pair_fix, pair_torchvision_fix
from tvwizard.model import Fact, Finding, RunStatus, Severity


def _absence_is_known(ev: Evidence, package: str) -> bool:
    """Whether "``package`` is not installed" comes from probes that finished.

    A probe killed, hung or ended early leaves its data empty, and empty is not "absent":
    only the import's own ``No module named`` error, or the metadata and import-path probes
    both run to their end, may say a package is missing.
    """
    step = ev.import_step(f"import_{package}")
    if step is not None and f"No module named '{package}'" in step.error_message:
        return True
    metadata, paths = ev.probes.get("distributions"), ev.probes.get("resolution")
    return (
        metadata is not None
        and metadata.status is RunStatus.OK
        and (paths is None or paths.status is RunStatus.OK)  # not run yet: the metadata alone says it
    )


def _source(ev: Evidence) -> str:
    torch = ev.import_step("import_torch")
    return "live" if torch is not None and torch.version else "distributions"


def _builds(ev: Evidence) -> tuple[knowledge.Build, knowledge.Build] | None:
    tb, vb = ev.torch_build(), ev.torchvision_build()
    if tb is None or vb is None:
        return None
    return tb, vb


def _stray_cause(ev: Evidence) -> str | None:
    """duplicate-install when the mismatch comes from a stray copy whose env-own twin pairs."""
    from tvwizard.diagnosis.rules.environment import stray_copy

    for key in ("torchvision", "torch"):
        stray = stray_copy(ev, key)
        if stray is None:
            continue
        own = str(stray["own"].get("version") or "")
        other = ev.torch_version() if key == "torchvision" else ev.torchvision_version()
        if not own or not other:
            continue
        torch_v, tv_v = (other, own) if key == "torchvision" else (own, other)
        try:
            if knowledge.is_released_pair(knowledge.parse_local(torch_v).base, knowledge.parse_local(tv_v).base):
                return "duplicate-install"
        except ValueError:
            continue
    return None


def variant_conflict(tb: knowledge.Build, vb: knowledge.Build) -> str | None:
    """Why these two builds cannot work together, or None (unknown counts as no conflict)."""
    if vb.is_cuda and tb.is_cpu:
        return "torchvision is a CUDA build but torch is CPU-only."
    if vb.is_rocm and not tb.is_rocm and (tb.is_cpu or tb.is_cuda):
        return "torchvision is a ROCm build but torch is not."
    if vb.is_cuda and tb.is_rocm:
        return "torchvision is a CUDA build but torch is a ROCm build."
    if tb.is_cuda and vb.is_cpu:
        return "torch is a CUDA build but torchvision is CPU-only, so its ops cannot run on the GPU."
    if tb.is_cuda and vb.is_cuda and tb.cuda and vb.cuda and tb.cuda.split(".")[0] != vb.cuda.split(".")[0]:
        return (
            f"torch was built with CUDA {tb.cuda} and torchvision with CUDA {vb.cuda}: "
            "torchvision refuses different CUDA major versions."
        )
    return None


@rule(needs=("distributions|live",), emits=("torch-missing",), priority=30)
def torch_missing(ev: Evidence) -> Finding | None:
    if ev.torch_installed() is not False or not _absence_is_known(ev, "torch"):
        return None
    python = ev.target.version
    gpu_state = (ev.system.get("gpu") or {}).get("state")
    no_gpu = gpu_state in ("no-driver", "no-gpu")
    pair = knowledge.newest_pair(python, variant="cpu" if no_gpu else None) if python else None
    fixes = []
    if pair is not None:
        fixes.append(
            catalog.build(
                "install-torch",
                ev=ev,
                torch=pair.torch,
                torchvision=pair.torchvision,
                variant=pair.variant,
                index_url=pair.index_url,
            )
        )
    return Finding(
        id="torch-missing",
        severity=Severity.ERROR,
        title=f"torch is not installed in {ev.target.python}",
        explanation="torchvision needs torch. If you installed it, it went to a different Python: "
        "compare `python -c 'import sys; print(sys.executable)'` with the path above.",
        evidence=[Fact("distributions", "torch", "no torch distribution on sys.path")],
        fixes=fixes,
        checks=["distributions", "import_torch"],
    )


@rule(needs=("distributions|live",), emits=("torchvision-missing",), priority=40)
def torchvision_missing(ev: Evidence) -> Finding | None:
    if ev.torchvision_installed() is not False or ev.torch_installed() is False:
        return None
    if not _absence_is_known(ev, "torchvision"):
        return None
    torch = ev.torch_version()
    fixes = []
    if torch:
        b = ev.torch_build()
        fix = pair_torchvision_fix(ev, b.base, b.variant, no_deps=False) if b else None
        if fix is not None:
            fixes.append(fix)
    return Finding(
        id="torchvision-missing",
        severity=Severity.ERROR,
        title=f"torchvision is not installed in {ev.target.python}",
        explanation="No torchvision distribution is on this interpreter's sys.path. If you installed it, "
        "it went to another environment (a notebook kernel and a terminal often differ).",
        evidence=[Fact("distributions", "torchvision", "no torchvision distribution on sys.path")],
        fixes=fixes,
        checks=["distributions", "import_torchvision"],
    )


@rule(needs=("distributions|live",), emits=("version-mismatch",), priority=80)
def version_mismatch(ev: Evidence) -> Finding | None:
    builds = _builds(ev)
    if builds is None:
        return None
    tb, vb = builds
    if knowledge.is_released_pair(tb.base, vb.base):
        return None
    expected = knowledge.expected_torchvision(tb.base)
    req = knowledge.torch_requirement_of(vb.base)
    evidence = [
        Fact(_source(ev), "versions", f"torch {ev.torch_version()}, torchvision {ev.torchvision_version()}"),
    ]
    if req is not None:
        evidence.append(Fact("knowledge", "requirement", f"torchvision {vb.base} requires torch{req}"))
    symbols = [f.error for f in ev.extension_errors() if "undefined symbol" in f.error]
    if symbols:
        from tvwizard.demangle import demangle_text

        evidence.append(Fact("live", "extensions", demangle_text(symbols[0])))
    made_for = knowledge.expected_torch(vb.base)
    title = f"torchvision {vb.base} is made for torch {made_for or req or '?'}; your torch is {ev.torch_version()}"
    fixes = [f for f in (pair_torchvision_fix(ev, tb.base, tb.variant), newest_pair_fix(ev, tb.variant)) if f]
    from tvwizard.diagnosis.provenance import behaviour_works

    works = behaviour_works(ev)
    if works:
        title += " (it imports and nms runs: a warning, not a failure)"
        evidence.append(Fact("live", "behaviour", "import torch, import torchvision (twice), extensions, nms: all ok"))
    return Finding(
        # a CPU torch with a CUDA torchvision is one problem: the variant mismatch (which
        # names the version too) is the root cause, the version gap one of its symptoms
        caused_by=_stray_cause(ev) or ("build-variant-mismatch" if variant_conflict(tb, vb) else None),
        id="version-mismatch",
        # Verdict from behaviour: a pin one patch level off is a warning while everything runs.
        severity=Severity.WARNING if works else Severity.ERROR,
        title=title,
        explanation=(
            "torchvision's compiled ops are built against one torch release. With another torch "
            "they fail to load (often as an `undefined symbol`), torchvision swallows that error, "
            "and the import then dies with `operator torchvision::nms does not exist`. "
            f"The torchvision for torch {tb.base} is {expected or 'unknown to this tvwizard'}."
        ),
        evidence=evidence,
        fixes=fixes,
        checks=["distributions", "import_torchvision", "extensions"],
    )


def _variant_words(b: knowledge.Build) -> str:
    if b.variant == "cpu":
        return "CPU"
    if b.rocm:
        return f"ROCm {b.rocm}"
    return f"CUDA {b.cuda}" if b.cuda else (b.variant or "default")


@rule(needs=("distributions|live",), emits=("build-variant-mismatch",), priority=70)
def build_variant_mismatch(ev: Evidence) -> Finding | None:
    builds = _builds(ev)
    if builds is None:
        return None
    tb, vb = builds
    problem = variant_conflict(tb, vb)
    if problem is None:
        return None
    evidence = [
        Fact(
            _source(ev),
            "builds",
            f"torch {ev.torch_version()} ({_variant_words(tb)}), "
            f"torchvision {ev.torchvision_version()} ({_variant_words(vb)})",
        )
    ]
    for f in ev.extension_errors():
        if "cannot open shared object file" in f.error:
            evidence.append(Fact("live", "extensions", f"{f.file}: {f.error}"))
            break
    made_for = knowledge.expected_torch(vb.base)
    vb_words = _variant_words(vb)
    tb_words = _variant_words(tb)
    title = (
        f"torchvision {ev.torchvision_version()} is a {vb_words} build"
        f"{' made for torch ' + made_for if made_for else ''}; your torch is {ev.torch_version()} ({tb_words})"
    )
    fixes = [f for f in (pair_torchvision_fix(ev, tb.base, tb.variant), newest_pair_fix(ev, tb.variant)) if f]
    return Finding(
        caused_by=_stray_cause(ev),
        id="build-variant-mismatch",
        severity=Severity.ERROR,
        title=title,
        explanation=(
            f"{problem} A torchvision build links against the matching torch build's libraries "
            "(e.g. libc10_cuda.so for CUDA), which this torch does not have, so its ops never load. "
            "pip does not see the conflict: `torch==X` is satisfied by `X+cpu`. Install both from the "
            "same index."
        ),
        evidence=evidence,
        fixes=fixes,
        checks=["distributions", "import_torchvision", "extensions"],
    )


@rule(needs=("interpreter|distributions|live",), emits=("unsupported-python",), priority=180)
def unsupported_python(ev: Evidence) -> Finding | None:
    python = ev.target.version
    torch = ev.torch_version()
    if not python:
        return None
    if torch:
        tb = ev.torch_build()
        if tb is None:
            return None
        base = tb.base
        if knowledge.python_supported(base, python) is not False:
            return None
        pair = knowledge.newest_pair(python)
        advice = (
            f"torch {pair.torch} + torchvision {pair.torchvision} is the newest pair for Python {python}."
            if pair
            else f"No released torch supports Python {python}: use another Python."
        )
        return Finding(
            id="unsupported-python",
            severity=Severity.ERROR,
            title=f"torch {base} does not support Python {python}",
            explanation=f"No torch {base} wheel was published for Python {python}, so this install came "
            f"from elsewhere or will not work. {advice}",
            evidence=[Fact("interpreter", "version", python)],
            checks=["interpreter"],
        )
    if knowledge.newest_pair(python) is None:
        return Finding(
            id="unsupported-python",
            severity=Severity.ERROR,
            title=f"No released torch supports Python {python}",
            explanation="Create an environment with a Python that torch supports (3.10–3.13 are safe choices).",
            evidence=[Fact("interpreter", "version", python)],
            checks=["interpreter"],
        )
    return None
