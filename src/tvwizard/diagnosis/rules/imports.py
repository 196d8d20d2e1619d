"""Rules on what the live import and the op did (the ``live`` probe's steps)."""

from __future__ import annotations

import re

from tvwizard.diagnosis.rules import rule
from tvwizard.facts.evidence import Evidence
from tvwizard.fixes import catalog
from tvwizard.model import Fact, Finding, Fix, RunStatus, Severity

IMPORT_STEPS = ("import_torch", "import_torchvision", "second_import")


def _indices(kept: tuple[int, ...] | None) -> str:
    """nms's kept indices as the probe wrote them ("[0, 2, 3]")."""
    return str(list(kept)) if kept is not None else "None"


@rule(
    needs=("live",),
    emits=("import-crash", "import-timeout", "op-failed", "op-timeout"),
    priority={"import-crash": 10, "import-timeout": 20},
)
def import_crash(ev: Evidence) -> list[Finding]:
    """The interpreter died or hung while importing (or running a step)."""
    run = ev.probes["live"]
    out: list[Finding] = []
    for step in ev.live_steps():
        if step.status not in ("crashed", "timeout"):
            continue
        fixes: list[Fix] = []
        importing = step.name in IMPORT_STEPS
        where = {
            "import_torch": "import torch",
            "import_torchvision": "import torchvision",
            "second_import": "the second import of torchvision",
            "extensions": "loading torchvision's compiled extensions",
            "cuda": "initialising CUDA",
        }.get(step.name, f"running {step.name.replace('_', ' ')}")
        detail = run.fault.strip().splitlines()
        tb = "\n".join(detail[:40])
        if step.status == "crashed":
            fid = "import-crash" if importing else "op-failed"
            title = f"The interpreter crashed ({run.signal or 'killed'}) during {where}"
            explanation = (
                "A native library took the whole Python process down, so no Python exception "
                "was raised. The traceback below, written by faulthandler at the moment of the "
                "crash, shows which import or call it was."
            )
        else:
            fid = "import-timeout" if importing else "op-timeout"
            waited = step.limit or run.duration
            title = f"{where[0].upper() + where[1:]} never finished (killed after {waited:.0f} s)"
            explanation = (
                "The step hung. The dump of every thread taken just before tvwizard killed it "
                "shows where: a hung CUDA driver call, a lock, or a network file system are the "
                "usual suspects."
            )
            if step.name == "cuda" or step.name.startswith("nms_cuda"):
                explanation, fixes = _gpu_hang(ev, step.name)
        out.append(
            Finding(
                id=fid,
                severity=Severity.ERROR,
                title=title,
                explanation=explanation,
                evidence=[Fact("live", step.name, tb or (run.error or ""))],
                caused_by=_hang_or_crash_cause(ev, step.name, step.status),
                fixes=fixes,
                checks=[step.name],
            )
        )
    return out


def _gpu_hang(ev: Evidence, step: str) -> tuple[str, list[Fix]]:
    """What a hung CUDA step means, and what to do: the driver, not torchvision, stopped answering."""
    gpu = ev.system.get("gpu") if isinstance(ev.system, dict) else None
    nvml_hung = isinstance(gpu, dict) and gpu.get("state") == "timeout"
    if step == "cuda":
        explanation = (
            "`torch.cuda.is_available()` waits for the NVIDIA driver to initialise (cuInit), and it never "
            "answered. That is the driver or a GPU in a bad state, not torchvision: a GPU that fell off the "
            "bus or hit an Xid error, a driver wedged after a crash, or a hung nvidia-persistenced."
        )
    else:
        explanation = (
            "The nms kernel was launched but never completed. A GPU in a bad state (an Xid error) does "
            "this; so can a first run that makes the driver compile PTX for this GPU on a slow or full "
            "CUDA_CACHE_PATH disk."
        )
    if nvml_hung:
        explanation += " The driver's management library (NVML) did not answer tvwizard either."
    fixes = [catalog.build("check-gpu-health")]
    return explanation, fixes


def _hang_or_crash_cause(ev: Evidence, step: str, status: str) -> str | None:
    """What an import that crashed or hung is a symptom of: a damaged .so (the loader maps it past
    its end: SIGBUS/SIGSEGV), or a stray copy of the module it imports (a source checkout or an old
    folder on PYTHONPATH that hangs or crashes on import is that folder's doing, not its own)."""
    if status == "crashed" and _damaged_files(ev):
        return "corrupt-file"
    module = {"import_torch": "torch", "import_torchvision": "torchvision", "second_import": "torchvision"}.get(step)
    if module is not None:
        from tvwizard.diagnosis.rules.environment import shadow_winner

        if shadow_winner(ev, module) is not None:
            return "shadowed-module"
    return None


def _damaged_files(ev: Evidence) -> bool:
    from tvwizard.diagnosis.rules.native import DAMAGED

    return any(f.get("problem") in DAMAGED for f in ev.native_files())


@rule(needs=("live",), emits=("import-failed",))
def import_failed(ev: Evidence) -> Finding | None:
    """``import torchvision`` raised: the symptom every root cause attaches to."""
    step = ev.import_step("import_torchvision")
    if step is None or step.status != "error":
        return None
    text = step.error_text
    if "No module named 'torchvision'" in text:
        return None  # torchvision-missing says it better
    tb = step.error.traceback if step.error is not None else ""
    return Finding(
        id="import-failed",
        severity=Severity.ERROR,
        title=f"import torchvision fails: {text}",
        explanation=(
            'This is the error a fresh `python -c "import torchvision"` raises here. '
            "It is usually a symptom: the root cause is listed with it."
        ),
        evidence=[Fact("live", "import_torchvision", tb[-4000:] or text)],
        caused_by="shadowed-module" if _shadowing_frames(ev, tb) else _cause_of_import_error(ev, text),
        checks=["import_torchvision"],
    )


def _shadowing_frames(ev: Evidence, traceback: str) -> bool:
    from tvwizard.diagnosis.rules.environment import _cwd_frames

    cwd = ev.live_cwd()
    return bool(cwd and _cwd_frames(traceback, cwd))


def _cause_of_import_error(ev: Evidence, text: str) -> str | None:
    """Which root-cause id explains this import error, by the evidence available.

    The rules that produce those ids run independently; ``diagnosis.engine.order`` drops a
    ``caused_by`` whose finding does not exist, so naming a candidate here is safe.
    """
    from tvwizard.diagnosis import provenance

    traced = provenance.cause_of(ev, "import_torchvision") or provenance.cause_of(ev, "extensions")
    if traced is not None:
        return traced
    shadow = _shadowing_entry(ev, "torchvision")
    if shadow is not None:
        return shadow
    if "torchvision::nms does not exist" in text or "Couldn't load custom C++ ops" in text:
        # The extension did not load; extension errors say why.
        for f in ev.extension_errors():
            err = f.error
            if "cannot open shared object file" in err:
                return "build-variant-mismatch" if _is_cuda_lib(err) else "missing-shared-library"
            if "undefined symbol" in err:
                return "abi-mismatch" if _released_pair(ev) else "version-mismatch"
        return "version-mismatch"
    if "partially initialized module 'torchvision'" in text or "consider renaming" in text:
        return "shadowed-module"
    if "different CUDA major versions" in text or "different CUDA versions" in text:
        return "build-variant-mismatch"
    if "No module named 'torchvision." in text and ev.torchvision_installed():
        return "corrupt-file"  # a module of torchvision itself is gone: an incomplete install
    if "No module named 'torch'" in text or "No module named 'torch." in text:
        return "torch-missing"
    if "No module named" in text:
        return "missing-dependency"
    if "cannot open shared object file" in text:
        return "missing-shared-library"
    if "_ARRAY_API" in text or "compiled using NumPy 1.x" in text:
        return "numpy-abi"
    torch = ev.import_step("import_torch")
    if torch is not None and torch.ok is False:
        return "torch-import-failed"
    return None


def _shadowing_entry(ev: Evidence, name: str) -> str | None:
    """The root cause when the ``name`` Python imports is not the env's own: a stray copy or a shadow."""
    from tvwizard.diagnosis.rules.environment import shadow_winner, stray_copy

    if shadow_winner(ev, name) is not None:
        return "shadowed-module"
    if stray_copy(ev, name) is not None:
        return "duplicate-install"
    return None


def _released_pair(ev: Evidence) -> bool:
    from tvwizard.facts import knowledge

    tb, vb = ev.torch_build(), ev.torchvision_build()
    return tb is not None and vb is not None and knowledge.is_released_pair(tb.base, vb.base)


_CUDA_LIB = re.compile(r"lib(c10_cuda|torch_cuda|cudart|c10_hip|torch_hip|amdhip64|cudnn|cublas|nvrtc)")


def _is_cuda_lib(error: str) -> bool:
    return bool(_CUDA_LIB.search(error))


@rule(needs=("live",), emits=("torch-import-failed",))
def torch_import_failed(ev: Evidence) -> Finding | None:
    step = ev.import_step("import_torch")
    if step is None or step.status != "error":
        return None
    err = step.error
    text = step.error_text
    if "No module named 'torch'" in text:
        return None  # torch-missing
    from tvwizard.diagnosis import provenance

    cause = provenance.cause_of(ev, "import_torch") or _shadowing_entry(ev, "torch")
    if cause is not None:
        pass
    elif _shadowing_frames(ev, err.traceback if err is not None else ""):
        cause = "shadowed-module"
    elif "No module named" in text:
        cause = "missing-dependency"
    elif "cannot open shared object file" in text:
        cause = "missing-shared-library"
    elif "undefined symbol" in text:
        cause = "library-path-override"
    return Finding(
        id="torch-import-failed",
        severity=Severity.ERROR,
        title=f"import torch fails: {text}",
        explanation=("torchvision imports torch first, so nothing of torchvision can work until `import torch` does."),
        evidence=[Fact("live", "import_torch", (err.traceback if err is not None else "")[-4000:] or text)],
        caused_by=cause,
        checks=["import_torch"],
    )


@rule(needs=("live",), emits=("first-import-differs",))
def first_import_differs(ev: Evidence) -> Finding | None:
    """The second import in one process behaves differently from the first."""
    first = ev.import_step("import_torchvision")
    second = ev.import_step("second_import")
    if first is None or second is None or second.cached:
        return None
    e1, e2 = first.error_text, second.error_text
    if first.ok == second.ok and e1 == e2:
        return None
    left = list(second.left_by_first)
    if second.ok:
        title = 'import torchvision fails the first time and "works" the second time: the first error is the real one'
        why = (
            "The first attempt failed part-way; Python removed `torchvision` from sys.modules "
            f"but kept the submodules that had loaded ({', '.join(left) or 'none'}). "
            "The retry skips those cached pieces, so it can appear to succeed while the "
            "compiled ops stay unloaded for the life of the process. Restart the interpreter "
            "and fix the first error."
        )
    else:
        title = f"A second import in the same process fails differently ({e2}): the first error ({e1}) is the real one"
        why = (
            "After a failed import, Python keeps the torchvision submodules that had loaded "
            f"({', '.join(left) or 'none'}) and re-runs only the package's __init__. That "
            "takes a different path, so notebooks and retrying wrappers show a misleading "
            "second error (often \"partially initialized module 'torchvision' has no "
            "attribute 'extension'\", which is not a circular import). Restart the kernel "
            "and fix the first error."
        )
    return Finding(
        id="first-import-differs",
        severity=Severity.WARNING,
        title=title,
        explanation=why,
        evidence=[
            Fact("live", "import_torchvision", e1 or "ok"),
            Fact("live", "second_import", e2 or "ok"),
        ],
        caused_by="import-failed" if not first.ok else None,
        checks=["second_import"],
    )


@rule(needs=("live",), emits=("op-failed", "op-wrong-result"))
def op_results(ev: Evidence) -> list[Finding]:
    out: list[Finding] = []
    for step in ev.nms_steps():
        if step.status in ("skipped", "crashed", "timeout"):
            continue
        device = step.device
        if step.status == "error":
            text = step.error_text
            cause = None
            torchvision = ev.import_step("import_torchvision")
            tv_file = (torchvision.file if torchvision is not None else None) or ""
            cwd = ev.live_cwd()
            if cwd and tv_file.startswith(cwd.rstrip("/") + "/") and "site-packages" not in tv_file:
                cause = "shadowed-module"
            elif "no kernel image is available" in text:
                cause = "gpu-arch-unsupported"
            elif "Could not run 'torchvision::nms' with arguments from the 'CUDA' backend" in text:
                cause = "build-variant-mismatch"
            out.append(
                Finding(
                    id="op-failed",
                    severity=Severity.ERROR,
                    title=f"torchvision.ops.nms fails on {device}: {text[:300]}",
                    explanation="torchvision imports, but its compiled op does not run on this device.",
                    evidence=[Fact("live", step.name, (step.error.traceback if step.error else "")[-4000:] or text)],
                    caused_by=cause,
                    checks=[step.name],
                )
            )
        elif step.correct is False:
            out.append(
                Finding(
                    id="op-wrong-result",
                    severity=Severity.ERROR,
                    title=(
                        f"torchvision.ops.nms on {device} returns {_indices(step.keep)}, "
                        f"expected {_indices(step.expected)}"
                    ),
                    explanation=(
                        "The op runs but its answer differs from a reference computed in pure "
                        "Python on boxes chosen far from the threshold: the build or the device "
                        "computes wrongly."
                    ),
                    evidence=[
                        Fact(
                            "live",
                            step.name,
                            f"keep={_indices(step.keep)} expected={_indices(step.expected)}",
                        )
                    ],
                    checks=[step.name],
                )
            )
    return out


@rule(needs=("live",), emits=("exit-crash",))
def exit_crash(ev: Evidence) -> Finding | None:
    """Every step worked, then the interpreter died on its way out (teardown, atexit)."""
    run = ev.probes["live"]
    if run.status is not RunStatus.CRASHED or not run.steps:
        return None
    if any(step.status in ("crashed", "timeout") for step in run.steps):
        return None  # import_crash speaks for a crash inside a step
    signal = run.signal or "a signal"
    return Finding(
        id="exit-crash",
        severity=Severity.WARNING,
        title=f"Python crashes ({signal}) when it exits after using torch and torchvision",
        explanation=(
            "Every step worked, but the interpreter died while shutting down (module teardown or an atexit "
            "handler), so scripts that use torchvision end with a signal instead of exit code 0, and batch "
            "schedulers or CI count them as failed. Two copies of a native runtime (OpenMP: libgomp and "
            "libiomp5, two CUDA runtimes) or a library's teardown order are the usual causes; the traceback "
            "below, written by faulthandler at the crash, shows where."
        ),
        evidence=[Fact("live", "exit", "\n".join(run.fault.strip().splitlines()[:40]) or (run.error or ""))],
        fixes=[catalog.build("exit-without-teardown")],
        checks=["import_torchvision"],
    )


@rule(needs=("live",), emits=("probe-failed",))
def live_probe_failed(ev: Evidence) -> Finding | None:
    """The live probe could not run at all (not a crash inside a step)."""
    run = ev.probes["live"]
    if run.status in (RunStatus.OK, RunStatus.CRASHED, RunStatus.TIMEOUT) or run.steps:
        return None
    return Finding(
        id="probe-failed",
        severity=Severity.ERROR,
        title=f"tvwizard could not run its import probe in this interpreter: {run.error}",
        explanation="The interpreter started but the probe did not report; its log says why.",
        evidence=[Fact("live", "run", "\n".join(line.text for line in run.log[-20:]))],
        checks=["import_torch"],
    )
