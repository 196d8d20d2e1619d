"""The checklist a person reads in five seconds: one line per check, and the verdict.

A check's status comes from how its probe ran (crashed / timeout / skipped beat everything)
and from the worst finding that names it; its summary is the one fact worth seeing.
"""

from __future__ import annotations

from tvwizard import units
from tvwizard.facts.evidence import Evidence, brief, clean_torch_warning
from tvwizard.model import Check, CheckStatus, Finding, RunStatus, Severity

_BY_SEVERITY = {Severity.ERROR: CheckStatus.ERROR, Severity.WARNING: CheckStatus.WARNING}


def _err(data: dict) -> str:
    err = data.get("error") or {}
    if not err:
        return ""
    msg = str(err.get("message", "")).strip().splitlines()
    return f"{err.get('type', 'Error')}: {msg[0] if msg else ''}"[:160]


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


def _step_summary(name: str, data: dict, duration: float) -> str:
    if data.get("skipped"):
        return str(data["skipped"])
    if name in ("import_torch", "import_torchvision"):
        if data.get("ok"):
            return f"{data.get('version')} in {units.duration(data.get('seconds', duration))}"
        return _err(data)
    if name == "second_import":
        if data.get("cached"):
            return "not needed: the first import worked"
        return "same result as the first" if not _err(data) else f"{_err(data)}"
    if name == "extensions":
        files = data.get("files") or []
        bad = [f for f in files if not f.get("loaded")]
        if not files:
            return "no compiled files found"
        if not bad:
            return f"{len(files)} loaded ({', '.join(f['file'] for f in files)})"
        return f"{bad[0]['file']}: {bad[0].get('error', '')}"[:200]
    if name == "cuda":
        if data.get("available"):
            names = ", ".join(str(d.get("name")) for d in data.get("devices") or [])
            return f"{data.get('count')} GPU(s): {names}; built for CUDA {data.get('built_with')}"
        if data.get("built_with") is None and not data.get("hip"):
            return "CPU-only torch"
        warn = (data.get("warnings") or [{}])[0].get("message", "") if data.get("warnings") else ""
        warn = clean_torch_warning(warn) if warn else warn
        return f"built for CUDA {data.get('built_with')}, not available" + (f": {brief(warn, 120)}" if warn else "")
    if name.startswith("nms_"):
        if "keep" in data:
            verdict = "correct" if data.get("correct") else f"WRONG: {data.get('keep')} != {data.get('expected')}"
            again = data.get("seconds_again")
            if again is not None and data.get("device") not in (None, "cpu"):
                return f"{verdict} in {units.duration(data.get('seconds'))} (first call), {units.duration(again)} after"
            return f"{verdict} in {units.duration(data.get('seconds'))}"
        return _err(data)
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
        for step in live.steps:
            title = _STEP_TITLES.get(step.name) or (
                f"nms on {step.data.get('device') or step.name[4:]}" if step.name.startswith("nms_") else step.name
            )
            base = {
                # the CUDA step "works" when CUDA does; unavailable is a fact (rules judge it)
                "ok": CheckStatus.INFO if step.name == "cuda" and not step.data.get("available") else CheckStatus.OK,
                "error": CheckStatus.ERROR,
                "skipped": CheckStatus.SKIPPED,
                "crashed": CheckStatus.CRASHED,
                "timeout": CheckStatus.TIMEOUT,
            }.get(step.status, CheckStatus.ERROR)
            if step.name == "second_import" and step.data.get("ok") is False:
                base = CheckStatus.ERROR
            if base in (CheckStatus.OK, CheckStatus.INFO, CheckStatus.ERROR):
                base = _status(findings, step.name, base)
            summary = _step_summary(step.name, step.data, step.duration)
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
        cuda = ev.step("cuda")
        seen = [d for d in (cuda.data.get("devices") or []) if isinstance(d, dict)] if cuda is not None else []
        if gpu.get("state") in ("no-driver", "no-gpu") and seen:
            # A Jetson (no NVML, no nvidia-smi) or a driver whose tools are missing: torch saw GPUs.
            names = ", ".join(
                f"{d.get('name') or 'GPU'}" + (f" ({d['capability']})" if d.get("capability") else "") for d in seen
            )
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
    imported = bool(ev.step_data("import_torchvision").get("ok"))
    nms = [s for s in live.steps if s.name.startswith("nms_")]
    ops_ok = bool(nms) and all(s.status == "ok" and s.data.get("correct") for s in nms)
    if imported and ops_ok and not errors:
        return "works", 0
    if imported and ops_ok and user_only:
        return "degraded", 1  # torchvision works; what the user ran does not
    return "broken", 1
