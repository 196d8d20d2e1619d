"""The GPU facts: the host's driver and GPUs, what ``torch.cuda`` said, torchvision's GPU code.

The one reader of these facts for the GPU rules (``diagnosis/rules/gpu.py``, ``gpu_arch.py``,
``cuda.py``).  They come from three places, none of which imports torch in tvwizard's own process:

* ``Evidence.system["gpu"]``: the driver and GPUs seen by NVML / ``nvidia-smi``
  (:func:`tvwizard.gpu.collect_gpus`), including ``CUDA_VISIBLE_DEVICES`` and the kernel
  side (``gpu["linux"]``: module version, ``/dev/nvidia*``);
* the live probe's ``cuda`` step (``torch.cuda`` inside the target) and ``nms_cuda:N`` steps;
* the native probe's reading of torchvision's own GPU code (``cuda_arch`` of its extensions)
  and of the loader (which ``libcuda.so.1`` torch's libraries resolve to).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.steps import CudaStep
from tvwizard.gpu import NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_LIBRARY_NOT_FOUND, cuda_int_to_str

_ARCH = re.compile(r"^(sm|compute)_(\d+)([af]?)$")


def major_minor(text: object) -> tuple[int, int] | None:
    m = re.match(r"\s*(\d+)\.(\d+)", str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def dotted(mm: tuple[int, int]) -> str:
    return f"{mm[0]}.{mm[1]}"


def host_gpu(ev: Evidence) -> dict[str, Any]:
    gpu = ev.system.get("gpu") if isinstance(ev.system, dict) else None
    return gpu if isinstance(gpu, dict) else {}


def linux_driver(gpu: dict[str, Any]) -> dict[str, Any]:
    """The kernel side of the driver (``gpu["linux"]``: module version, device nodes), or {}."""
    linux = gpu.get("linux")
    return linux if isinstance(linux, dict) else {}


def nvml_library_missing(gpu: dict[str, Any]) -> bool:
    """NVML's library (libnvidia-ml, the driver's user-space half) was not found at all."""
    return any(
        a.get("source") == "nvml" and a.get("code") == NVML_ERROR_LIBRARY_NOT_FOUND and not a.get("library")
        for a in gpu.get("attempts") or []
    )


def cuda_step(ev: Evidence) -> CudaStep | None:
    """The live ``cuda`` step, or None when it did not run (torch did not import)."""
    step = ev.torch_cuda_step()
    if step is None or step.status != "ok" or step.skipped:
        return None
    return step


def cuda_available(ev: Evidence) -> bool:
    """``torch.cuda.is_available()`` said True in the live probe."""
    step = cuda_step(ev)
    return step is not None and step.is_available


def cuda_messages(ev: Evidence) -> list[str]:
    """What ``torch.cuda.is_available()`` said: its warnings and error, in order."""
    step = cuda_step(ev)
    if step is None:
        return []
    texts = list(step.warnings)
    if step.error is not None:
        texts.append(step.error.text)
    return [t for t in texts if t.strip()]


def cuda_build(ev: Evidence) -> knowledge.Build | None:
    tb = ev.torch_build()
    return tb if tb is not None and tb.is_cuda and tb.cuda else None


def env_var(ev: Evidence, name: str) -> str | None:
    """A variable as the target sees it (envvars probe), else as tvwizard saw it."""
    value = ev.env_vars().get(name)
    if value is not None:
        return value
    value = ev.env.get(name)
    return None if value is None else str(value)


def no_driver_message(texts: Iterable[str]) -> str | None:
    return next((t for t in texts if "Found no NVIDIA driver" in t), None)


def driver_too_old_message(texts: Iterable[str]) -> str | None:
    return next(
        (t for t in texts if "driver on your system is too old" in t or "driver version is insufficient" in t), None
    )


def signs_of_a_gpu(ev: Evidence) -> list[str]:
    """Signs that this machine is meant to have an NVIDIA GPU even though no driver answers."""
    gpu = host_gpu(ev)
    signs = []
    for attempt in gpu.get("attempts") or []:
        if attempt.get("source") == "nvidia-smi" and attempt.get("path"):
            signs.append(f"nvidia-smi is installed ({attempt['path']}) but fails: {attempt.get('error') or ''}".strip())
        if attempt.get("source") == "nvml" and attempt.get("code") == NVML_ERROR_DRIVER_NOT_LOADED:
            signs.append(
                "the NVIDIA driver's user-space library (NVML) is installed, but the kernel driver is not loaded"
            )
    linux = linux_driver(gpu)
    if linux.get("kernel_module"):
        signs.append(f"the nvidia kernel module {linux['kernel_module']} is loaded")
    present = [str(n) for n, state in (linux.get("nodes") or {}).items() if state != "missing"]
    if present:
        signs.append("NVIDIA device nodes exist: " + ", ".join(present[:4]))
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"):
        value = env_var(ev, name)
        if (
            value is not None
            and value.strip()
            and not value.strip().startswith("-")
            and value.strip()
            not in (
                "void",
                "none",
            )
        ):
            signs.append(f"{name}={value} is set")
    wsl = ev.system.get("wsl") if isinstance(ev.system, dict) else None
    if isinstance(wsl, dict) and wsl.get("gpu_lib_dir"):
        signs.append("WSL's GPU library folder /usr/lib/wsl/lib exists")
    return signs


def driver_max_cuda(ev: Evidence) -> tuple[tuple[int, int] | None, str | None, str]:
    """(newest CUDA the driver supports, driver version, where that came from)."""
    gpu = host_gpu(ev)
    driver = gpu.get("driver")
    if gpu.get("cuda_driver") and major_minor(gpu["cuda_driver"]):
        return major_minor(gpu["cuda_driver"]), driver, str(gpu.get("source") or "driver")
    text = driver_too_old_message(cuda_messages(ev))
    m = re.search(r"found version (\d+)", text or "")
    if m and int(m.group(1)) > 0:
        return major_minor(cuda_int_to_str(m.group(1))), driver, "torch.cuda"
    if driver:
        table = knowledge.max_cuda_for_driver(str(driver))
        if table:
            return major_minor(table), driver, "knowledge"
    return None, driver, ""


@dataclass
class Device:
    label: str  # "GPU 0 (NVIDIA A100-SXM4-80GB)"
    cc: tuple[int, int]
    cuda_index: int | None  # ordinal inside CUDA (nms_cuda:N), when known
    source: str


def devices(ev: Evidence) -> list[Device]:
    """The GPUs a CUDA process here would use: torch's own list, else the visible host GPUs."""
    out = []
    cuda = cuda_step(ev)
    for dev in cuda.devices if cuda is not None else ():
        cc = major_minor(dev.capability)
        if cc is not None:
            name = f" ({dev.name})" if dev.name else ""
            out.append(Device(f"cuda:{dev.index}{name}", cc, dev.index, "live"))
    if out:
        return out
    for g in host_gpu(ev).get("gpus") or []:
        cc = major_minor(g.get("compute_capability"))
        if cc is None or g.get("visible") is False:
            continue
        name = f" ({g['name']})" if g.get("name") else ""
        out.append(Device(f"GPU {g.get('index')}{name}", cc, g.get("cuda_index"), "system"))
    return out


def arch_covers(cc: tuple[int, int], arch_list: Iterable[str]) -> str | None:
    """The arch-list entry that gives a device of compute capability ``cc`` a kernel, or None.

    ``sm_XY`` cubins run on the same major at an equal or higher minor (sm_80 runs on 8.6,
    sm_86 not on 8.0); ``sm_XYa`` only on exactly X.Y; ``compute_XY`` is PTX, JIT-compiled by
    the driver for any device of X.Y or newer.
    """
    for entry in arch_list:
        m = _ARCH.match(str(entry).strip())
        if not m:
            continue
        kind, num, suffix = m.group(1), int(m.group(2)), m.group(3)
        arch = divmod(num, 10)
        if suffix == "a":
            ok = cc == arch
        elif kind == "sm":
            ok = cc[0] == arch[0] and cc[1] >= arch[1]
        else:
            ok = cc >= arch
        if ok:
            return str(entry)
    return None


def nms_ok(ev: Evidence, index: int | None) -> bool:
    if index is None:
        return False
    step = ev.step(f"nms_cuda:{index}")
    return step is not None and step.status == "ok" and bool(step.data.get("correct"))


def no_kernel_errors(ev: Evidence) -> dict[int | None, str]:
    """``nms_cuda:N`` steps that failed with 'no kernel image': {N: the error}."""
    out: dict[int | None, str] = {}
    run = ev.probes.get("live")
    for step in run.steps if run is not None else []:
        if step.name.startswith("nms_cuda") and step.status == "error":
            msg = str((step.data.get("error") or {}).get("message", ""))
            if "no kernel image is available" in msg:
                try:
                    out[int(step.name.split(":", 1)[1])] = msg
                except (IndexError, ValueError):
                    out[None] = msg
    return out


def torchvision_arches(ev: Evidence) -> tuple[list[str], list[str]]:
    """The GPU architectures in torchvision's own extensions (the native probe's reading of
    their .nv_fatbin) as arch-list entries, and the files that had any; ([], []) if none."""
    sm: set[int] = set()
    ptx: set[int] = set()
    files = []
    for f in ev.native_files("torchvision"):
        arch = f.get("cuda_arch")
        if isinstance(arch, dict) and (arch.get("sm") or arch.get("ptx")):
            sm.update(int(a) for a in arch.get("sm") or [])
            ptx.update(int(a) for a in arch.get("ptx") or [])
            files.append(str(f.get("path", "")).rsplit("/", 1)[-1])
    entries = [f"sm_{a}" for a in sorted(sm)] + [f"compute_{a}" for a in sorted(ptx)]
    return entries, files


def arch_major_minor(entry: str) -> tuple[int, int] | None:
    m = _ARCH.match(entry.strip())
    return divmod(int(m.group(2)), 10) if m else None


_VIA = {
    "ld_library_path": "found through LD_LIBRARY_PATH",
    "preload": "forced by LD_PRELOAD",
    "rpath": "found through an RPATH",
    "runpath": "found through a RUNPATH",
    "ld.so.cache": "the ld.so cache's",
    "default": "found in a system folder",
    "loaded": "already loaded",
}


def libcuda_seen(ev: Evidence) -> str | None:
    """Which libcuda.so.1 torch's libraries resolve to, and how (the native probe's loader model)."""
    for f in ev.native_files("torch", "torchvision"):
        for need in f.get("needed") or []:
            if isinstance(need, dict) and str(need.get("name", "")).startswith("libcuda.so"):
                if not need.get("found"):
                    return f"{need['name']} is not found by the loader"
                via = _VIA.get(str(need.get("via")), str(need.get("via") or "?"))
                return f"{need['name']} loads from {need.get('path')} ({via})"
    return None


def kernel_side_facts(gpu: dict[str, Any]) -> str:
    """``gpu["linux"]`` in one line: "kernel module 580.95.05; /dev/nvidiactl ok, ..."."""
    linux = linux_driver(gpu)
    module = linux.get("kernel_module") or "not visible (no /proc/driver/nvidia/version)"
    nodes = ", ".join(f"{n} {state}" for n, state in (linux.get("nodes") or {}).items())
    return f"kernel module {module}" + (f"; {nodes}" if nodes else "")
