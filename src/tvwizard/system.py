"""The machine tvwizard runs on: OS, kernel, CPU, memory, disk, container, WSL.

This runs in tvwizard's own process (Python 3.10+), never in the target.  Every field is
collected on its own and guarded: a failure becomes ``None`` plus a line in ``errors``,
never an exception.  File reads go through ``root`` so tests can point them at a fake tree.

:func:`collect_system` returns (JSON-able)::

    {
      "os": {"system": "Linux", "platform": "Linux-6.8.0-…-x86_64-with-glibc2.39",
             "machine": "x86_64", "pretty_name": "Ubuntu 24.04.1 LTS" | None,
             "id": "ubuntu" | None, "version_id": "24.04" | None},
      "kernel": {"release": "6.8.0-45-generic", "version": "#45-Ubuntu SMP …"},
      "cpu": {"model": "AMD EPYC 7763 64-Core Processor" | None,
              "logical": int | None, "physical": int | None},
      "memory": {"total": bytes, "available": bytes} | None,
      "disk": {"path": str,           # the path asked about (the target env's prefix)
               "checked": str,        # the nearest existing ancestor actually measured
               "total": bytes, "used": bytes, "free": bytes} | None,  # None: no prefix given
      "disk_tmp": {... same, for tempfile.gettempdir(): pip unpacks wheels there ...},
      "container": {"detected": bool, "kind": "docker" | "podman" | "kubernetes" | "lxc"
                    | "apptainer" | "container" | None, "hints": [str, ...]},
      "wsl": {"detected": bool, "version": 1 | 2 | None, "hints": [str, ...],
              "gpu_lib_dir": bool},   # /usr/lib/wsl/lib (WSL's libcuda / nvidia-smi) exists
      "errors": {field: "Type: message", ...},
    }
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["collect_system", "detect_container", "detect_wsl", "disk_usage", "read_os_release"]

_CGROUP_HINTS = (
    ("kubepods", "kubernetes"),
    ("libpod", "podman"),
    ("docker", "docker"),
    ("containerd", "container"),
    ("cri-containerd", "container"),
    ("lxc", "lxc"),
)


def _read(root: str, path: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(os.path.join(root, path.lstrip("/")), encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _exists(root: str, path: str) -> bool:
    try:
        return os.path.lexists(os.path.join(root, path.lstrip("/")))
    except (OSError, ValueError):
        return False


def read_os_release(root: str = "/") -> dict[str, str]:
    """``/etc/os-release`` (or ``/usr/lib/os-release``) as a dict, quotes removed."""
    text = _read(root, "/etc/os-release") or _read(root, "/usr/lib/os-release") or ""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value.replace('\\"', '"').replace("\\\\", "\\")
    return out


def _cpu_model(root: str) -> str | None:
    text = _read(root, "/proc/cpuinfo")
    if text:
        for key in ("model name", "Model", "Hardware", "cpu model", "Processor"):
            m = re.search(rf"^{re.escape(key)}\s*:\s*(.+)$", text, re.MULTILINE)
            if m and m.group(1).strip():
                return m.group(1).strip()
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=2
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or None


def disk_usage(path: str) -> dict[str, Any]:
    """Disk usage of ``path``, or of its nearest existing ancestor (an env not created yet)."""
    import psutil

    checked = os.path.abspath(os.path.expanduser(path))
    while not os.path.exists(checked):
        parent = os.path.dirname(checked)
        if parent == checked:
            break
        checked = parent
    usage = psutil.disk_usage(checked)
    return {"path": path, "checked": checked, "total": usage.total, "used": usage.used, "free": usage.free}


def detect_container(root: str = "/", env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    hints: list[str] = []
    kind: str | None = None

    def hit(hint: str, k: str) -> None:
        nonlocal kind
        hints.append(hint)
        kind = kind or k

    if env.get("KUBERNETES_SERVICE_HOST"):
        hit("KUBERNETES_SERVICE_HOST is set", "kubernetes")
    if _exists(root, "/.dockerenv"):
        hit("/.dockerenv exists", "docker")
    if _exists(root, "/run/.containerenv"):
        hit("/run/.containerenv exists", "podman")
    for var in ("APPTAINER_CONTAINER", "SINGULARITY_CONTAINER"):
        if env.get(var):
            hit(f"{var} is set", "apptainer")
    if _exists(root, "/.singularity.d"):
        hit("/.singularity.d exists", "apptainer")
    if env.get("container"):  # systemd-nspawn, podman, lxc set it for PID 1
        hit(
            f"container={env['container']}",
            env["container"] if env["container"] in ("podman", "lxc") else "container",
        )
    for path in ("/proc/1/cgroup", "/proc/self/cgroup"):
        text = _read(root, path) or ""
        found = next(((word, k) for word, k in _CGROUP_HINTS if word in text), None)
        if found:
            hit(f"{path} mentions {found[0]}", found[1])
            break
    mountinfo = _read(root, "/proc/self/mountinfo") or ""
    if "/docker/containers/" in mountinfo:
        hit("/proc/self/mountinfo mentions /docker/containers/", "docker")
    elif "/kubelet/pods/" in mountinfo:
        hit("/proc/self/mountinfo mentions /kubelet/pods/", "kubernetes")
    return {"detected": bool(hints), "kind": kind, "hints": hints}


def detect_wsl(root: str = "/", env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    hints: list[str] = []
    version: int | None = None
    osrelease = (_read(root, "/proc/sys/kernel/osrelease") or "").strip()
    if "microsoft" in osrelease.lower():
        hints.append(f"kernel release {osrelease}")
        # WSL2 kernels: "5.15.153.1-microsoft-standard-WSL2"; WSL1: "4.4.0-19041-Microsoft".
        version = 2 if ("WSL2" in osrelease or "microsoft-standard" in osrelease) else 1
    if env.get("WSL_DISTRO_NAME"):
        hints.append(f"WSL_DISTRO_NAME={env['WSL_DISTRO_NAME']}")
    if env.get("WSL_INTEROP"):
        hints.append("WSL_INTEROP is set")
        version = version or 2
    gpu_lib_dir = _exists(root, "/usr/lib/wsl/lib")
    if gpu_lib_dir:
        hints.append("/usr/lib/wsl/lib exists")
    return {
        "detected": bool(hints),
        "version": version if hints else None,
        "hints": hints,
        "gpu_lib_dir": gpu_lib_dir,
    }


def _guard(errors: dict[str, str], name: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # a fact we could not get is a fact, not a crash
        errors[name] = f"{type(exc).__name__}: {exc}"
        return None


def collect_system(prefix: str | None, *, root: str = "/", env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Facts about this machine; ``prefix`` (the target env's ``sys.prefix``) gets a disk check."""
    import psutil

    errors: dict[str, str] = {}
    uname = _guard(errors, "uname", platform.uname)

    def os_info() -> dict[str, Any]:
        rel = _guard(errors, "os_release", lambda: read_os_release(root)) or {}
        pretty = rel.get("PRETTY_NAME")
        if pretty is None and sys.platform == "darwin":
            pretty = f"macOS {platform.mac_ver()[0]}".strip()
        elif pretty is None and sys.platform.startswith("win"):
            pretty = f"Windows {platform.release()} ({platform.version()})"
        return {
            "system": uname.system if uname else platform.system(),
            "platform": _guard(errors, "platform", platform.platform),
            "machine": uname.machine if uname else None,
            "pretty_name": pretty,
            "id": rel.get("ID"),
            "version_id": rel.get("VERSION_ID"),
        }

    def kernel() -> dict[str, Any]:
        return {"release": uname.release if uname else None, "version": uname.version if uname else None}

    def cpu() -> dict[str, Any]:
        return {
            "model": _guard(errors, "cpu.model", lambda: _cpu_model(root)),
            "logical": _guard(errors, "cpu.logical", lambda: psutil.cpu_count(logical=True)),
            "physical": _guard(errors, "cpu.physical", lambda: psutil.cpu_count(logical=False)),
        }

    def memory() -> dict[str, Any]:
        vm = psutil.virtual_memory()
        return {"total": int(vm.total), "available": int(vm.available)}

    return {
        "os": _guard(errors, "os", os_info),
        "kernel": _guard(errors, "kernel", kernel),
        "cpu": _guard(errors, "cpu", cpu),
        "memory": _guard(errors, "memory", memory),
        "disk": _guard(errors, "disk", lambda: disk_usage(prefix)) if prefix else None,
        "disk_tmp": _guard(errors, "disk_tmp", lambda: disk_usage(tempfile.gettempdir())),
        "container": _guard(errors, "container", lambda: detect_container(root, env)),
        "wsl": _guard(errors, "wsl", lambda: detect_wsl(root, env)),
        "errors": errors,
    }


if __name__ == "__main__":  # pragma: no cover - a quick look by hand
    import json

    json.dump(collect_system(sys.prefix), sys.stdout, indent=2)
    print()
