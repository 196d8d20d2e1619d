"""The facts a person reads in a report: a projection of the facts layer, for every renderer.

The probe data is read through :class:`tvwizard.facts.evidence.Evidence` (built from the report
dict with :meth:`~tvwizard.facts.evidence.Evidence.from_report`), so the report names the same
versions, variants and files as the diagnosis.  What is read here directly is the report's
own record: its meta fields, ``system``, the checks, the findings and how each probe run went
(status, steps, log).  Every accessor tolerates missing keys and ``None``: a report file may
come from an older tvwizard, or be damaged.

:func:`summarize_facts` returns plain data (str/int/float/None, lists, dicts) in a fixed
order, so the Markdown and HTML renderers, ``compare`` and ``fleet`` show the same thing.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tvwizard.facts.evidence import Evidence
from tvwizard.units import size

__all__ = ["PACKAGES", "VERDICTS", "first_line", "summarize_facts", "variant_of"]

#: The packages a report is about, in the order it shows them.
PACKAGES = ("torch", "torchvision")
#: Other distributions worth listing when present (companions and the libraries they load).
RELEVANT_DISTS = re.compile(
    r"^(torch|torchvision|torchaudio|triton|numpy|pillow|nvidia-.*|pytorch-triton.*|cuda-.*|"
    r"mkl.*|intel-openmp|opencv-python.*|torchaudio)$",
    re.IGNORECASE,
)

VERDICTS = {
    "works": ("✅", "`import torchvision` works"),
    "degraded": ("⚠️", "`import torchvision` works, with problems"),
    "broken": ("❌", "`import torchvision` is broken"),
    "unknown": ("❔", "tvwizard could not tell whether `import torchvision` works"),
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _get(d: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(d, Mapping) or key not in d:
            return default
        d = d[key]
    return d if d is not None else default


def _first(*values: Any) -> Any:
    return next((v for v in values if v not in (None, "", [], {})), None)


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or None
    return str(value)


def first_line(text: Any, limit: int = 160) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    for line in str(text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def variant_of(version: str | None, cuda: str | None = None) -> str | None:
    """The build variant: the local version tag (``cpu``, ``cu130``, ``rocm6.4``), else from CUDA."""
    if version and "+" in version:
        return version.split("+", 1)[1]
    if cuda:
        return "cu" + re.sub(r"\D", "", str(cuda))[:3]
    return None


def _probes(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _list(report.get("probes")) if isinstance(p, dict)]


def _steps(probe: Mapping[str, Any]) -> list[dict[str, Any]]:
    steps = _list(probe.get("steps")) or _list(_get(probe, "data", "steps"))
    return [s for s in steps if isinstance(s, dict) and s.get("name")]


def _error_text(err: Any) -> str:
    if isinstance(err, dict):
        kind = err.get("type") or err.get("exc_type") or ""
        msg = err.get("message") or err.get("msg") or ""
        return f"{kind}: {msg}" if kind and msg else str(kind or msg)
    return str(err or "")


def _step_summary(step: Mapping[str, Any]) -> str:
    data = _dict(step.get("data"))
    failed = step.get("status") != "ok"
    err = _first(data.get("error"), data.get("exception"), data.get("message") if failed else None)
    if err:
        return first_line(_error_text(err))
    for key in ("summary", "version", "__version__", "result", "device", "file", "path", "origin"):
        if _str(data.get(key)):
            return first_line(f"{key}: {data[key]}" if key not in ("summary", "result") else data[key])
    return ""


# -- sections -------------------------------------------------------------------------------


def _platform_text(value: Any) -> str | None:
    if not isinstance(value, dict):
        return _str(value)
    libc = _dict(value.get("libc"))
    bits = [value.get("system"), value.get("release"), value.get("machine")]
    if libc.get("name"):
        bits.append(f"{libc['name']} {libc.get('version') or ''}".strip())
    return " ".join(str(b) for b in bits if b) or _str(value.get("sys_platform"))


def _python(ev: Evidence) -> dict[str, Any]:
    target, py, env = ev.target, ev.python_info(), ev.environment_info()
    platform = ev.platform_info()
    return {
        "version": _str(_first(py.get("version"), target.version)),
        "implementation": _str(_first(target.implementation, py.get("implementation"))),
        "executable": _str(_first(py.get("executable"), target.executable, target.python)),
        "prefix": _str(_first(py.get("prefix"), target.prefix)),
        "base_prefix": _str(_first(py.get("base_prefix"), target.base_prefix)),
        "env_kind": _str(_first(env.get("env_kind"), target.env_kind)),
        "how_chosen": _str(target.how_chosen),
        "platform": _platform_text(platform) if platform else None,
        "cwd": _str(_first(target.cwd, py.get("cwd"))),
    }


def _dists(ev: Evidence) -> list[dict[str, Any]]:
    return [
        {
            "name": str(d["name"]),
            "version": _str(d.get("version")),
            "location": ev.dist_location(d),
            "installer": _str(d.get("installer")),
        }
        for d in ev.dists()
        if d.get("name")
    ]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _packages(ev: Evidence, dists: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """torch and torchvision as the diagnosis sees them: each fact through the facts layer's one
    fallback chain (the live import first, then version.py, then metadata), so a report never
    names another version than the findings do (a shadowing copy is the case that matters)."""
    chosen = {
        "torch": (ev.torch_version(), _str(ev.torch_cuda())),
        "torchvision": (ev.torchvision_version(), ev.torchvision_cuda()),
    }
    out: dict[str, dict[str, Any]] = {}
    for pkg in PACKAGES:
        installs = [d for d in dists if _norm(d["name"]) == pkg]
        version, cuda = chosen[pkg]
        out[pkg] = {
            "version": version,
            "dist_version": installs[0]["version"] if installs else None,
            "cuda": cuda,
            "variant": variant_of(version, cuda),
            "origin": ev.import_origin(pkg),
            "location": installs[0]["location"] if installs else None,
            "installs": len(installs),
            "all_locations": [d["location"] for d in installs if d.get("location")],
        }
    return out


def _gpu(ev: Evidence) -> dict[str, Any]:
    """``system["gpu"]`` as :func:`tvwizard.gpu.collect_gpus` writes it."""
    from tvwizard.facts.gpu import host_gpu

    gpu = host_gpu(ev)
    gpus = []
    for i, g in enumerate(_list(gpu.get("gpus"))):
        if not isinstance(g, dict):
            continue
        mib = g.get("memory_total_mib")
        gpus.append(
            {
                "index": g.get("index", i),
                "name": _str(g.get("name")),
                "capability": _str(g.get("compute_capability")),
                "memory": size(mib * 2**20) if isinstance(mib, int | float) else None,
                "mig": _str(g.get("mig_mode")),
                "mig_instances": len(_list(g.get("mig_devices"))) if "mig_devices" in g else None,
                "visible": g.get("visible"),
                "cuda_index": g.get("cuda_index"),
                "errors": {str(k): str(v) for k, v in _dict(g.get("errors")).items()},
            }
        )
    state = _str(gpu.get("state"))
    error = _str(gpu.get("error"))
    if error is None and state in ("driver-error", "timeout", "error"):
        error = _str(gpu.get("reason"))
    linux = _dict(gpu.get("linux"))
    from tvwizard.gpu import visible_devices_text

    return {
        "visibility": visible_devices_text(_dict(gpu.get("visible_devices"))),
        "state": state,
        "source": _str(gpu.get("source")),
        "driver": _str(gpu.get("driver")),
        "cuda": _str(gpu.get("cuda_driver")),
        "gpus": gpus,
        "error": error,
        "kernel_module": _str(linux.get("kernel_module")),
        "nodes": {str(k): str(v) for k, v in _dict(linux.get("nodes")).items()},
        "attempts": [
            {
                "source": _str(a.get("source")),
                "state": _str(a.get("state")),
                "duration": a.get("duration") if isinstance(a.get("duration"), int | float) else None,
                "where": _str(_first(a.get("library"), a.get("path"))),
                "error": _str(a.get("error")),
            }
            for a in _list(gpu.get("attempts"))
            if isinstance(a, dict)
        ],
    }


def _system(report: Mapping[str, Any]) -> dict[str, Any]:
    system = _dict(report.get("system"))
    out: dict[str, Any] = {}
    for key in ("os", "kernel", "arch", "machine", "libc", "cpu", "cpus", "memory", "container"):
        if _str(system.get(key)) is not None and not isinstance(system.get(key), dict):
            out[key] = _str(system[key])
    for key, value in system.items():  # other scalar facts, in the probe's order
        if key not in out and key != "gpu" and isinstance(value, str | int | float | bool) and value != "":
            out[key] = _str(value)
    return out


def _env(ev: Evidence) -> dict[str, str | None]:
    return dict(sorted(ev.env_vars().items()))


_BASE_LIBS = re.compile(r"^(libc|libm|libdl|libpthread|librt|libutil|ld-linux[-\w]*)\.so")


def _libraries(ev: Evidence) -> list[dict[str, Any]]:
    """The shared libraries torch and torchvision load, where each resolved: the ``native``
    probe's model of the loader (each file's ``needed``), one row per library name; the C
    library and its companions left out."""
    out: dict[str, dict[str, Any]] = {}
    for f in ev.native_files(*PACKAGES):
        for need in _list(f.get("needed")):
            need = _dict(need)
            name = _str(need.get("name"))
            if not name or name in out or _BASE_LIBS.match(name):
                continue
            if need.get("found") and need.get("path"):
                path = posixpath.normpath(str(need["path"]))  # ".../torchvision/../torchvision.libs/…"
                out[name] = {"name": name, "path": path, "via": _str(need.get("via"))}
    return [out[k] for k in sorted(out)]


def _probe_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for p in _probes(report):
        rows.append(
            {
                "name": _str(p.get("name")),
                "title": _str(_first(p.get("title"), p.get("name"))),
                "status": _str(p.get("status")) or "unknown",
                "duration": p.get("duration") if isinstance(p.get("duration"), int | float) else None,
                "error": first_line(p.get("error")) or None,
                "returncode": p.get("returncode"),
                "signal": _str(p.get("signal")),
                "log_lines": len(_list(p.get("log"))),
                "log_dropped": p.get("log_dropped") or 0,
                "has_fault": bool(p.get("fault")),
                "steps": [
                    {
                        "name": _str(s.get("name")),
                        "status": _str(s.get("status")) or "unknown",
                        "duration": s.get("duration") if isinstance(s.get("duration"), int | float) else None,
                        "summary": _step_summary(s),
                    }
                    for s in _steps(p)
                ],
            }
        )
    return rows


def _fix_key(fix: Mapping[str, Any]) -> tuple[str, ...]:
    """:func:`tvwizard.model.fix_key` of a fix as a report stores it."""
    from tvwizard.model import fix_key

    return fix_key(_list(fix.get("commands")), _dict(fix.get("env")), fix.get("id"))


def _findings(report: Mapping[str, Any]) -> dict[str, Any]:
    findings = [f for f in _list(report.get("findings")) if isinstance(f, dict) and f.get("id")]
    ids = {f["id"] for f in findings}
    roots = [f for f in findings if not f.get("caused_by") or f.get("caused_by") not in ids]
    symptoms: dict[str, list[dict[str, Any]]] = {}
    for f in findings:
        if f.get("caused_by") in ids:
            symptoms.setdefault(f["caused_by"], []).append(f)
    order = {"error": 0, "warning": 1, "info": 2}
    roots.sort(key=lambda f: order.get(str(f.get("severity")), 3))  # stable: keeps probe order within
    fixes: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], dict[str, Any]] = {}
    for root in roots:
        for f in [root, *symptoms.get(root["id"], [])]:
            for fix in _list(f.get("fixes")):
                if not isinstance(fix, dict):
                    continue
                key = _fix_key(fix)
                if key in seen:  # one fix for two findings (a new pair for the driver and the GPU): once
                    also = seen[key]["also_for"]
                    if f["id"] != seen[key]["finding"] and f["id"] not in also:
                        also.append(f["id"])
                    continue
                seen[key] = {"finding": f["id"], "also_for": [], **fix}
                fixes.append(seen[key])
    return {"all": findings, "roots": roots, "symptoms": symptoms, "fixes": fixes}


def _meta(report: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "schema": _str(report.get("schema")),
        "tvwizard_version": _str(report.get("tvwizard_version")),
        "created": _str(report.get("created")),
        "verdict": _str(report.get("verdict")) or "unknown",
        "exit_code": report.get("exit_code"),
        "duration": report.get("duration") if isinstance(report.get("duration"), int | float) else None,
    }


def _user(ev: Evidence) -> dict[str, Any]:
    """What the user ran (``--import``, ``-- COMMAND``, a pasted traceback) and how it ended;
    {} when they asked for nothing."""
    data = ev.user_request()
    if not data.get("source"):
        return {}
    run = ev.probes.get("user")
    failure = data.get("failure")
    return {
        "source": str(data["source"]),
        "request": [str(r) for r in _list(data.get("request"))],
        "returncode": data.get("returncode"),
        "failure": failure if isinstance(failure, dict) else None,
        "status": str(run.status) if run is not None else None,
        "error": (run.error or "") if run is not None else "",
    }


#: The sections :func:`summarize_facts` can return, in its order.
SECTIONS = (
    "meta",
    "python",
    "packages",
    "distributions",
    "relevant_distributions",
    "gpu",
    "system",
    "env",
    "libraries",
    "checks",
    "probes",
    "user",
    "findings",
    "redaction",
    "timings",
)


def summarize_facts(report: Mapping[str, Any], sections: Iterable[str] = SECTIONS) -> dict[str, Any]:
    """What the renderers, ``compare`` and ``fleet`` show, from a report dict (missing keys
    tolerated); ``sections``: only those (``fleet`` skips the probe rows and logs it never shows)."""
    ev = Evidence.from_report(report)
    wanted = set(sections)
    dists = _dists(ev) if wanted & {"packages", "distributions", "relevant_distributions"} else []
    build = {
        "meta": lambda: _meta(report),
        "python": lambda: _python(ev),
        "packages": lambda: _packages(ev, dists),
        "distributions": lambda: dists,
        "relevant_distributions": lambda: [d for d in dists if RELEVANT_DISTS.match(d["name"])],
        "gpu": lambda: _gpu(ev),
        "system": lambda: _system(report),
        "env": lambda: _env(ev),
        "libraries": lambda: _libraries(ev),
        "checks": lambda: [c for c in _list(report.get("checks")) if isinstance(c, dict)],
        "probes": lambda: _probe_rows(report),
        "user": lambda: _user(ev),
        "findings": lambda: _findings(report),
        "redaction": lambda: _dict(report.get("redaction")),
        "timings": lambda: {str(k): v for k, v in _dict(report.get("timings")).items() if isinstance(v, int | float)},
    }
    unknown = wanted - set(build)
    if unknown:
        raise ValueError(f"no such report section: {', '.join(sorted(unknown))}")
    return {name: build[name]() for name in SECTIONS if name in wanted}


def iter_logs(report: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Each probe's long text: fault traceback, step tracebacks and log, for the log sections."""
    for p in _probes(report):
        tracebacks = []
        for s in _steps(p):
            data = _dict(s.get("data"))
            for key in ("error", "exception"):
                tb = _get(data, key, "traceback")
                if isinstance(tb, str) and tb.strip():
                    tracebacks.append((str(s.get("name")), tb))
        log = [line for line in _list(p.get("log")) if isinstance(line, dict)]
        yield {
            "probe": _str(p.get("name")) or "?",
            "title": _str(_first(p.get("title"), p.get("name"))) or "?",
            "status": _str(p.get("status")) or "unknown",
            "error": _str(p.get("error")),
            "fault": p.get("fault") if isinstance(p.get("fault"), str) else "",
            "tracebacks": tracebacks,
            "log": "\n".join(str(line.get("text", "")) for line in log),
            "log_lines": len(log),
            "log_dropped": p.get("log_dropped") or 0,
        }
