"""The facts a person reads in a report, pulled out of a report dict once, for every renderer.

Probes are written (and changed) separately from the renderers, so every accessor here
tolerates missing keys, ``None``, and a few shapes of the same fact.  What it reads, where
present:

- ``target`` (always) and the ``interpreter`` probe: version, executable, prefix, env kind,
  platform;
- the ``distributions`` probe: ``dists``/``distributions`` (name, version, location) and
  ``torch_version_py``/``torchvision_version_py`` (``__version__``, ``cuda``);
- the ``resolution`` probe: per package, ``origin`` (the file ``import`` would load);
- the ``envvars`` probe: the allowlisted variables;
- ``system`` (os, kernel, cpu, memory …) and ``system["gpu"]`` (driver, cuda, gpus);
- the ``live`` probe's steps (``import_torch``, ``import_torchvision``, ``nms_cpu`` …).

:func:`summarize_facts` returns plain data (str/int/float/None, lists, dicts) in a fixed
order, so the Markdown and HTML renderers and ``compare`` show the same thing.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

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


def _probe(report: Mapping[str, Any], *names: str) -> dict[str, Any]:
    for name in names:
        for p in _probes(report):
            if p.get("name") == name:
                return p
    return {}


def _probe_data(report: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return _dict(_probe(report, *names).get("data"))


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


def _python(report: Mapping[str, Any]) -> dict[str, Any]:
    target = _dict(report.get("target"))
    interp = _probe_data(report, "interpreter")
    py = _dict(interp.get("python")) or interp  # {"python": {...}, "environment": {...}} or flat
    env = _dict(interp.get("environment"))
    return {
        "version": _str(_first(py.get("version"), target.get("version"))),
        "implementation": _str(_first(target.get("implementation"), py.get("implementation"))),
        "executable": _str(_first(py.get("executable"), target.get("executable"), target.get("python"))),
        "prefix": _str(_first(py.get("prefix"), target.get("prefix"))),
        "base_prefix": _str(_first(py.get("base_prefix"), target.get("base_prefix"))),
        "env_kind": _str(_first(env.get("env_kind"), interp.get("env_kind"), target.get("env_kind"))),
        "how_chosen": _str(target.get("how_chosen")),
        "platform": _platform_text(_first(interp.get("platform"), py.get("sysconfig_platform"))),
        "cwd": _str(_first(target.get("cwd"), py.get("cwd"))),
    }


def _dists(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = _probe_data(report, "distributions", "dists")
    raw = _first(_list(data.get("dists")), _list(data.get("distributions")), _list(data.get("packages")))
    locations = _list(data.get("locations"))
    out = []
    for d in raw or []:
        if isinstance(d, dict) and d.get("name"):
            loc = d.get("loc")
            where = locations[loc] if isinstance(loc, int) and 0 <= loc < len(locations) else None
            out.append(
                {
                    "name": str(d["name"]),
                    "version": _str(d.get("version")),
                    "location": _str(_first(d.get("location"), d.get("path"), where)),
                    "installer": _str(d.get("installer")),
                }
            )
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _resolution(report: Mapping[str, Any], package: str) -> dict[str, Any]:
    data = _probe_data(report, "resolution")
    for container in (data.get("packages"), data.get("modules"), data.get("specs"), data):
        entry = _get(container, package)
        if isinstance(entry, dict):
            return entry
        if isinstance(entry, str):
            return {"origin": entry}
    return {}


def _live_step_data(report: Mapping[str, Any], step: str) -> dict[str, Any]:
    for s in _steps(_probe(report, "live")):
        if s.get("name") == step:
            return _dict(s.get("data"))
    return {}


def _cuda_text(value: Any) -> str | None:
    """A CUDA version as people write it: torchvision's ``13000`` (its ``_cuda_version()``
    encoding) reads "13.0", like torch's ``"13.0"``."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        from tvwizard.gpu import cuda_int_to_str

        number = int(value)
        return cuda_int_to_str(number) if number >= 1000 else None
    return _str(value)


def _packages(report: Mapping[str, Any], dists: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """torch and torchvision as the diagnosis sees them: each fact through the facts layer's one
    fallback chain (the live import first, then version.py, then metadata), so a report never
    names another version than the findings do (a shadowing copy is the case that matters)."""
    from tvwizard.facts.evidence import Evidence

    ev = Evidence.from_report(report)
    chosen = {
        "torch": (ev.torch_version(), _cuda_text(ev.torch_cuda())),
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


def _gib(mib: Any) -> str | None:
    try:
        value = float(mib)
    except (TypeError, ValueError):
        return _str(mib)
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def _gpu(report: Mapping[str, Any]) -> dict[str, Any]:
    """``system["gpu"]`` as :func:`tvwizard.gpu.collect_gpus` writes it (older key names too)."""
    gpu = _dict(_get(report, "system", "gpu"))
    gpus = []
    for i, g in enumerate(_list(gpu.get("gpus"))):
        if not isinstance(g, dict):
            continue
        cap = _first(g.get("compute_capability"), g.get("capability"))
        if isinstance(cap, list | tuple):
            cap = ".".join(str(c) for c in cap)
        mib = g.get("memory_total_mib")
        gpus.append(
            {
                "index": g.get("index", i),
                "name": _str(g.get("name")),
                "capability": _str(cap),
                "memory": _gib(mib) if mib is not None else _str(_first(g.get("memory"), g.get("memory_total"))),
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
        "driver": _str(_first(gpu.get("driver"), gpu.get("driver_version"))),
        "cuda": _str(_first(gpu.get("cuda_driver"), gpu.get("cuda"), gpu.get("cuda_version"))),
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


def _env(report: Mapping[str, Any]) -> dict[str, str | None]:
    data = _probe_data(report, "envvars", "env")
    mapping: Any = None
    for key in ("vars", "env", "environ", "variables", "values", "set"):
        if isinstance(data.get(key), dict | list):
            mapping = data[key]
            break
    if mapping is None and data and all(isinstance(k, str) and k.isupper() for k in data):
        mapping = data
    out: dict[str, str | None] = {}
    if isinstance(mapping, dict):
        for name, value in mapping.items():
            if isinstance(value, dict):  # the envvars probe: {"value", "kind", "entries", …}
                value = value.get("value")
            out[str(name)] = None if value is None else _str(value) or ""
    elif isinstance(mapping, list):
        for item in mapping:
            if isinstance(item, dict) and item.get("name"):
                out[str(item["name"])] = _str(item.get("value"))
    return dict(sorted(out.items()))


_BASE_LIBS = re.compile(r"^(libc|libm|libdl|libpthread|librt|libutil|ld-linux[-\w]*)\.so")


def _libraries(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The shared libraries torch and torchvision load, where each resolved: the ``native``
    probe's model of the loader (each file's ``needed``), one row per library name; the C
    library and its companions left out.  Older reports: ``libraries``/``loaded_libraries``."""
    out: dict[str, dict[str, Any]] = {}
    native = _probe_data(report, "native")
    for package in PACKAGES:
        for f in _list(_get(native, "packages", package, "files")):
            for need in _list(_dict(f).get("needed")):
                need = _dict(need)
                name = _str(need.get("name"))
                if not name or name in out or _BASE_LIBS.match(name):
                    continue
                if need.get("found") and need.get("path"):
                    path = posixpath.normpath(str(need["path"]))  # ".../torchvision/../torchvision.libs/…"
                    out[name] = {"name": name, "path": path, "via": _str(need.get("via"))}
    for p in _probes(report):
        data = _dict(p.get("data"))
        libs = _first(_list(data.get("loaded_libraries")), _list(data.get("libraries")))
        for lib in libs or []:
            if isinstance(lib, str):
                lib = {"path": lib}
            if isinstance(lib, dict) and _first(lib.get("name"), lib.get("path")):
                path = _str(_first(lib.get("path"), lib.get("name"))) or ""
                name = _str(lib.get("name")) or path.rsplit("/", 1)[-1]
                out.setdefault(name, {"name": name, "path": path, "via": None})
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


def summarize_facts(report: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the renderers and ``compare`` show, from a report dict (missing keys tolerated)."""
    dists = _dists(report)
    relevant = [d for d in dists if RELEVANT_DISTS.match(d["name"])]
    return {
        "meta": {
            "schema": _str(report.get("schema")),
            "tvwizard_version": _str(report.get("tvwizard_version")),
            "created": _str(report.get("created")),
            "verdict": _str(report.get("verdict")) or "unknown",
            "exit_code": report.get("exit_code"),
            "duration": report.get("duration") if isinstance(report.get("duration"), int | float) else None,
        },
        "python": _python(report),
        "packages": _packages(report, dists),
        "distributions": dists,
        "relevant_distributions": relevant,
        "gpu": _gpu(report),
        "system": _system(report),
        "env": _env(report),
        "libraries": _libraries(report),
        "checks": [c for c in _list(report.get("checks")) if isinstance(c, dict)],
        "probes": _probe_rows(report),
        "findings": _findings(report),
        "redaction": _dict(report.get("redaction")),
        "timings": {str(k): v for k, v in _dict(report.get("timings")).items() if isinstance(v, int | float)},
    }


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
