"""The checklist a person reads in five seconds: one line per check, and the verdict.

A check's status comes from how its probe ran (crashed / timeout / skipped beat everything)
and from the worst finding that names it; its summary is the one fact worth seeing.
"""

from __future__ import annotations

from tvwizard import units
from tvwizard.facts.evidence import Evidence, brief, clean_torch_warning
from tvwizard.facts.steps import CudaStep, ExtensionsStep, ImportStep, LiveStep, NmsStep
from tvwizard.model import Check, CheckStatus, Finding, RunStatus, Severity

_BY_SEVERITY = {Severity.ERROR: CheckStatus.ERROR, Severity.WARNING: CheckStatus.WARNING}


def _err(step: LiveStep) -> str:
    err = step.error
    if err is None:
        return ""
    msg = err.message.strip().splitlines()
    return f"{err.type}: {msg[0] if msg else ''}"[:160]


def _status(findings: list[Finding], check_id: str, default: CheckStatus) -> CheckStatus:
    worst = default
    for f in findings:
        if check_id in f.checks and f.severity in _BY_SEVERITY:
            s = _BY_SEVERITY[f.severity]
            if s is CheckStatus.ERROR or worst in (CheckStatus.OK, CheckStatus.INFO):
                worst = s
    return worst


def _probe_check(
    ev: Evidence,
    findings: list[Finding],
    name: str,
    title: str,
    summary: str,
    default: CheckStatus = CheckStatus.OK,
) -> Check | None:
    run = ev.probes.get(name)
    if run is None:
        return None
    if run.status is RunStatus.CRASHED:
        return Check(name, title, CheckStatus.CRASHED, run.error or "", run.duration, name)
    if run.status is RunStatus.TIMEOUT:
        return Check(name, title, CheckStatus.TIMEOUT, run.error or "", run.duration, name)
    if run.status in (RunStatus.FAILED, RunStatus.ERROR):
        return Check(name, title, CheckStatus.ERROR, f"probe failed: {run.error}", run.duration, name)
    return Check(name, title, _status(findings, name, default), summary, run.duration, name)


def _pkg_summary(ev: Evidence) -> str:
    parts = []
    for name in ("torch", "torchvision"):
        d = ev.dist(name)
        vp = ev.version_py(name).get("__version__")
        if d is None:
            parts.append(f"{name} not installed")
        else:
            parts.append(f"{name} {vp or d.get('version')}")
    return " · ".join(parts)


_STEP_TITLES = {
    "import_torch": "import torch",
    "import_torchvision": "import torchvision",
    "second_import": "Second import in the same process",
    "extensions": "Compiled extensions load",
    "cuda": "CUDA",
}


def _indices(kept: tuple[int, ...] | None) -> str:
    return str(list(kept)) if kept is not None else "None"


def _step_summary(step: LiveStep) -> str:
    if step.skipped:
        return step.skipped
    if isinstance(step, ImportStep) and step.name in ("import_torch", "import_torchvision"):
        if step.ok:
            seconds = step.seconds if step.seconds is not None else step.duration
            return f"{step.version} in {units.duration(seconds)}"
        return _err(step)
    if isinstance(step, ImportStep):  # the second import
        if step.cached:
            return "not needed: the first import worked"
        return "same result as the first" if not _err(step) else f"{_err(step)}"
    if isinstance(step, ExtensionsStep):
        bad = step.unloaded
        if not step.files:
            return "no compiled files found"
        if not bad:
            return f"{len(step.files)} loaded ({', '.join(f.file for f in step.files)})"
        return f"{bad[0].file}: {bad[0].error}"[:200]
    if isinstance(step, CudaStep):
        if step.available:
            names = ", ".join(str(d.name) for d in step.devices)
            return f"{step.count} GPU(s): {names}; built for CUDA {step.built_with}"
        if step.built_with is None and not step.hip:
            return "CPU-only torch"
        warn = step.warnings[0] if step.warnings else ""
        warn = clean_torch_warning(warn) if warn else warn
        return f"built for CUDA {step.built_with}, not available" + (f": {brief(warn, 120)}" if warn else "")
    if isinstance(step, NmsStep):
        if step.keep is not None:
            verdict = "correct" if step.correct else f"WRONG: {_indices(step.keep)} != {_indices(step.expected)}"
            again = step.seconds_again
            if again is not None and step.device != "cpu":
                return f"{verdict} in {units.duration(step.seconds)} (first call), {units.duration(again)} after"
            return f"{verdict} in {units.duration(step.seconds)}"
        return _err(step)
    return ""


def build_checks(ev: Evidence, findings: list[Finding]) -> list[Check]:
    checks: list[Check] = []
    py = ev.python_version()
    kind = ev.env_kind()
    for c in (
        _probe_check(ev, findings, "interpreter", "Python", f"{py} ({kind}) {ev.target.python}"),
        _probe_check(ev, findings, "distributions", "Packages", _pkg_summary(ev)),
        _probe_check(
            ev, findings, "resolution", "Import locations", "torch and torchvision import from their installs"
        ),
        _probe_check(ev, findings, "native", "Native libraries", _native_summary(ev)),
    ):
        if c is not None:
            checks.append(c)
    live = ev.probes.get("live")
    if live is not None:
        if not live.steps:
            checks.append(
                _probe_check(ev, findings, "live", "import torch", "") or Check("live", "live", CheckStatus.ERROR)
            )
        for step in ev.live_steps():
            title = _STEP_TITLES.get(step.name) or (f"nms on {step.device}" if isinstance(step, NmsStep) else step.name)
            base = {
                # the CUDA step "works" when CUDA does; unavailable is a fact (rules judge it)
                "ok": CheckStatus.INFO if isinstance(step, CudaStep) and not step.available else CheckStatus.OK,
                "error": CheckStatus.ERROR,
                "skipped": CheckStatus.SKIPPED,
                "crashed": CheckStatus.CRASHED,
                "timeout": CheckStatus.TIMEOUT,
            }.get(step.status, CheckStatus.ERROR)
            if step.name == "second_import" and step.ok is False:
                base = CheckStatus.ERROR
            if base in (CheckStatus.OK, CheckStatus.INFO, CheckStatus.ERROR):
                base = _status(findings, step.name, base)
            summary = _step_summary(step)
            if step.status in ("crashed", "timeout"):
                summary = f"{live.signal or step.status}: {live.error or ''}"
            checks.append(Check(step.name, title, base, summary, step.duration, "live"))
    for c in (
        _probe_check(ev, findings, "envvars", "Environment variables", _env_summary(ev), CheckStatus.INFO),
        _probe_check(ev, findings, "toolchain", "Toolchain", _toolchain_summary(ev), CheckStatus.INFO),
        _probe_check(ev, findings, "user", _user_title(ev), _user_summary(ev)),
    ):
        if c is not None:
            checks.append(c)
    gpu = ev.system.get("gpu") if isinstance(ev.system, dict) else None
    if isinstance(gpu, dict):
        summary = _gpu_summary(gpu)
        cuda = ev.torch_cuda_step()
        seen = list(cuda.devices) if cuda is not None else []
        if gpu.get("state") in ("no-driver", "no-gpu") and seen:
            # A Jetson (no NVML, no nvidia-smi) or a driver whose tools are missing: torch saw GPUs.
            names = ", ".join(f"{d.name or 'GPU'}" + (f" ({d.capability})" if d.capability else "") for d in seen)
            summary = f"{names}, seen by torch; NVML and nvidia-smi did not answer here"
        checks.append(Check("gpu", "GPU", _status(findings, "gpu", CheckStatus.INFO), summary))
    machine = _machine_summary(ev.system if isinstance(ev.system, dict) else {})
    if machine:
        checks.append(Check("machine", "Machine", _status(findings, "machine", CheckStatus.INFO), machine))
    return checks


def _user_title(ev: Evidence) -> str:
    """The user's own way in, as the line's title: ``import basicsr``, ``python train.py``."""
    data = ev.user_request()
    request = [str(r) for r in data.get("request") or []]
    if data.get("source") == "import":
        return "import " + ", ".join(request)
    if data.get("source") == "command":
        return brief(" ".join(request), 60)
    return "Your traceback"


def _user_summary(ev: Evidence) -> str:
    data = ev.user_request()
    failure = data.get("failure")
    if isinstance(failure, dict):
        msg = str(failure.get("message") or "").splitlines()
        return brief(f"{failure.get('type') or 'failed'}: {msg[0] if msg else ''}", 160)
    if data.get("source") == "command":
        return f"exited with code {data.get('returncode')}"
    return "works"


def _machine_summary(system: dict) -> str:
    """``Debian GNU/Linux 12, x86_64, 2 CPUs, 23 GiB RAM (21 GiB free), 80 GiB free disk for the env``."""
    parts = []
    os_info = system.get("os") or {}
    if os_info.get("pretty_name") or os_info.get("platform"):
        parts.append(str(os_info.get("pretty_name") or os_info.get("platform")))
    if os_info.get("machine"):
        parts.append(str(os_info["machine"]))
    cpu = system.get("cpu") or {}
    if cpu.get("logical"):
        parts.append(f"{cpu['logical']} CPUs")
    mem = system.get("memory") or {}
    if mem.get("total"):
        parts.append(f"{units.size(mem['total'])} RAM ({units.size(mem.get('available'))} free)")
    disk = system.get("disk") or {}
    if disk.get("free") is not None:
        parts.append(f"{units.size(disk['free'])} free disk for the env")
    container = system.get("container") or {}
    if container.get("detected"):
        parts.append(f"in a container ({container.get('kind') or 'unknown kind'})")
    return ", ".join(parts)


def _gpu_summary(gpu: dict) -> str:
    """``2 × NVIDIA H200 (9.0), driver 580.95, CUDA 13.0`` / ``no NVIDIA GPU`` / ``driver not loaded``."""
    state = gpu.get("state")
    if state == "ok":
        groups: dict[str, int] = {}
        for g in gpu.get("gpus") or []:
            label = f"{g.get('name') or 'NVIDIA GPU'}" + (
                f" ({g['compute_capability']})" if g.get("compute_capability") else ""
            )
            groups[label] = groups.get(label, 0) + 1
        parts = [", ".join(f"{n} × {label}" if n > 1 else label for label, n in groups.items())]
        if gpu.get("driver"):
            parts.append(f"driver {gpu['driver']}")
        if gpu.get("cuda_driver"):
            parts.append(f"CUDA {gpu['cuda_driver']}")
        vis = gpu.get("visible_devices") or {}
        if vis.get("set") and vis.get("visible") is not None:
            parts.append(f"CUDA_VISIBLE_DEVICES={vis.get('env')}: {len(vis['visible'])} visible")
        elif vis.get("set") and vis.get("unresolved"):
            parts.append(f"CUDA_VISIBLE_DEVICES: {len(vis['unresolved'])} MIG instance(s)")
        return ", ".join(parts)
    if state == "no-gpu":
        return "no NVIDIA GPU" + (f" (driver {gpu['driver']} loaded)" if gpu.get("driver") else "")
    if state == "no-driver":
        from tvwizard.gpu import NVML_ERROR_DRIVER_NOT_LOADED

        tried = [a for a in gpu.get("attempts") or [] if a.get("path") or a.get("code") == NVML_ERROR_DRIVER_NOT_LOADED]
        return "driver not loaded" if tried else "no NVIDIA GPU"
    if state == "timeout":
        return "the NVIDIA driver did not answer (timed out)"
    return f"driver error: {gpu.get('reason') or state}"[:200]


def _native_summary(ev: Evidence) -> str:
    unresolved = ev.unresolved_libraries()
    missing = sorted({str(u.get("name") or u.get("library")) for u in unresolved if not u.get("driver")})
    driver = sorted({str(u.get("name")) for u in unresolved if u.get("driver")})
    if missing:
        return f"{len(missing)} library(ies) not found: {', '.join(missing[:4])}"
    if (platform := ev.native_unsupported_on()) is not None:
        return f"not checked on {platform}"
    note = f" ({', '.join(driver)} would come with an NVIDIA driver)" if driver else ""
    return "every library torch and torchvision need resolves" + note


def _env_summary(ev: Evidence) -> str:
    names = sorted(ev.env_vars())
    shown = [n for n in names if n and not n.startswith(("PATH", "CONDA_", "VIRTUAL_ENV"))]
    return ", ".join(shown[:6]) + (" …" if len(shown) > 6 else "") if shown else "nothing unusual set"


def _toolchain_summary(ev: Evidence) -> str:
    tools = ev.toolchain_part("tools")
    found = [name for name, t in tools.items() if isinstance(t, dict) and t.get("path")]
    return ("found: " + ", ".join(found)) if found else "no compilers found"


def verdict_of(ev: Evidence, findings: list[Finding]) -> tuple[str, int]:
    """("works", 0) when torchvision imports and its ops work; ("broken", 1) otherwise.

    What the user ran (``--import``, ``-- COMMAND``, a pasted traceback) failing while torchvision
    works is ("degraded", 1); with no import probe (``explain``) it is ("unknown", 1).
    """
    live = ev.probes.get("live")
    errors = [f for f in findings if f.severity is Severity.ERROR]
    user_only = bool(errors) and all(f.checks == ["user"] for f in errors)
    if live is None or not live.steps:  # `explain` runs only some probes: whether torchvision works is not known
        return ("broken" if errors and not user_only else "unknown"), 1
    imported = ev.torchvision_imported()
    nms = ev.nms_steps()
    ops_ok = bool(nms) and all(s.status == "ok" and s.correct for s in nms)
    if imported and ops_ok and not errors:
        return "works", 0
    if imported and ops_ok and user_only:
        return "degraded", 1  # torchvision works; what the user ran does not
    return "broken", 1
