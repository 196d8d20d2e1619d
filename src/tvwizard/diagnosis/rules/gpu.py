"""Rules on the GPU driver: none loaded, a CUDA build without a GPU, a driver too old for the build.

The failures they read are in docs/knowledge.md, "Failure facts: Driver too old, no kernel image …".
These are not import errors: ``import torchvision`` usually succeeds and the trouble starts at
the first CUDA call.  The facts (host driver and GPUs, ``torch.cuda``) are read through
:mod:`tvwizard.facts.gpu`; the fixes are built by :mod:`tvwizard.fixes`.  When torch cannot be
imported, what the build needs is predicted from its CUDA version (``torch_build().cuda``) and
the knowledge data's driver tables.  GPU architectures are in ``gpu_arch.py``; CUDA that will
not start, ``CUDA_HOME`` and torchvision's compiled CUDA in ``cuda.py``.
"""

from __future__ import annotations

import re

from tvwizard.diagnosis.rules import rule
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence, clean_torch_warning
from tvwizard.facts.gpu import (
    cuda_available,
    cuda_build,
    cuda_messages,
    cuda_step,
    dotted,
    driver_max_cuda,
    driver_too_old_message,
    host_gpu,
    linux_driver,
    major_minor,
    no_driver_message,
    nvml_library_missing,
    signs_of_a_gpu,
)
from tvwizard.fixes import catalog
from tvwizard.fixes.pairing import CPU_TORCH_SIZE, CUDA_TORCH_SIZE, cpu_pair_fix, install_pair_fix
from tvwizard.model import Fact, Finding, Fix, Severity

# -- gpu-driver-missing / cuda-build-without-gpu -------------------------------------------


def _no_driver(ev: Evidence) -> tuple[bool, bool, list[Fact]]:
    """(no NVIDIA driver answers, that is certain, evidence) from the host facts and/or torch.

    Certain: the host facts say so, or torch said 'Found no NVIDIA driver'.  A silent
    ``is_available() == False`` without host facts is only a hint (it also means "no device").
    """
    gpu = host_gpu(ev)
    evidence = []
    host = gpu.get("state") == "no-driver"
    if host:
        evidence.append(Fact("system", "gpu", f"no NVIDIA driver answered: {gpu.get('reason') or 'no driver found'}"))
    text = no_driver_message(cuda_messages(ev))
    if text:
        evidence.append(Fact("live", "cuda", clean_torch_warning(text)[:400]))
    cuda = cuda_step(ev)
    torch_none = cuda is not None and cuda.available is False and not cuda_messages(ev) and not gpu
    if torch_none:  # torch saw no device and no host facts to say more
        evidence.append(Fact("live", "cuda", "torch.cuda.is_available() is False"))
    return bool(host or text or torch_none), bool(host or text), evidence


@rule(
    needs=("distributions|live",),
    emits=("gpu-driver-missing", "cuda-build-without-gpu"),
    priority={"gpu-driver-missing": 100},
)
def gpu_driver_missing(ev: Evidence) -> list[Finding]:
    tb = cuda_build(ev)
    if tb is None:
        return []
    gpu = host_gpu(ev)
    if gpu.get("state") in ("ok", "no-gpu", "driver-error", "timeout") or cuda_available(ev):
        return []  # a driver is there; other rules say what is wrong with it
    missing, certain, evidence = _no_driver(ev)
    if not missing:
        return []
    signs = signs_of_a_gpu(ev) if certain else []
    build = f"torch {ev.torch_version()} (CUDA {tb.cuda})"
    if not signs:
        return [_without_gpu(ev, tb, evidence, "no NVIDIA driver or GPU was found")]
    floor = knowledge.min_driver_for_cuda(tb.cuda or "")
    fixes = [catalog.build("upgrade-driver", ev=ev, floor=floor, verb="Install or load")]
    container = ev.system.get("container") if isinstance(ev.system, dict) else None
    if isinstance(container, dict) and container.get("detected"):
        fixes.insert(0, catalog.build("container-gpu-access"))
    cpu = cpu_pair_fix(
        ev,
        "If this machine is not meant to use the GPU, the CPU build does everything else "
        "and is about 15 times smaller.",
    )
    if cpu is not None:
        fixes.append(cpu)
    title = f"No NVIDIA driver is loaded, so {build} cannot use the GPU"
    explanation = (
        "The NVIDIA kernel driver is not running, so CUDA finds no device and "
        "`torch.cuda.is_available()` is False; everything falls back to the CPU or fails with "
        "'Found no NVIDIA driver on your system'. "
        f"This machine looks like it should have one ({signs[0].split(' but ')[0]}). "
        f"This build needs driver {floor or 'a recent driver'} or newer."
    )
    linux = linux_driver(gpu)
    module = linux.get("kernel_module")
    no_library = nvml_library_missing(gpu)
    if module and no_library:
        # The kernel half is there; the user-space half (libcuda, libnvidia-ml) is not.
        title = (
            f"The NVIDIA kernel driver {module} is loaded, but its libraries (libcuda, libnvidia-ml) are not found, "
            f"so {build} cannot use the GPU"
        )
        explanation = (
            "A driver has two halves: the kernel module, which is loaded, and the user-space libraries CUDA "
            "loads (libcuda.so.1, libnvidia-ml.so.1), which the loader cannot find here. That happens in a "
            "container started without the NVIDIA runtime, or when the driver's library package is missing or "
            "of another version. torch then reports no driver at all."
        )
        fixes.insert(
            1 if fixes and fixes[0].id == "container-gpu-access" else 0,
            catalog.build("install-driver-libraries", module=module),
        )
    return [
        Finding(
            id="gpu-driver-missing",
            severity=Severity.ERROR,
            title=title,
            explanation=explanation,
            evidence=[*evidence, *(Fact("system", "gpu", s) for s in signs)],
            fixes=fixes,
            checks=["cuda", "gpu"],
        )
    ]


SHARED_ENV_CAVEAT = (
    "An environment shared with GPU nodes (a cluster login node, a conda env or home folder the compute "
    "nodes also use) should keep its CUDA build: the nodes need it."
)


def _without_gpu(ev: Evidence, tb: knowledge.Build, evidence: list[Fact], what: str) -> Finding:
    fixes = []
    cpu = cpu_pair_fix(
        ev,
        "The CPU build runs everything torchvision does on this machine, from a download "
        f"of {CPU_TORCH_SIZE} instead of {CUDA_TORCH_SIZE}. {SHARED_ENV_CAVEAT}",
    )
    if cpu is not None:
        fixes.append(cpu)
    return Finding(
        id="cuda-build-without-gpu",
        severity=Severity.INFO,
        title=f"torch {ev.torch_version()} is a CUDA {tb.cuda} build, but this machine has no NVIDIA GPU",
        explanation=(
            f"This breaks nothing: {what}, so torch runs on the CPU. But the CUDA build and its "
            f"nvidia-* libraries take {CUDA_TORCH_SIZE.removeprefix('about ')} of disk for nothing here; "
            f"the CPU build from the CPU index does the same work in a fraction of the space. {SHARED_ENV_CAVEAT}"
        ),
        evidence=evidence,
        fixes=fixes,
        checks=["gpu"],
    )


@rule(needs=("distributions|live",), emits=("cuda-build-without-gpu",))
def cuda_build_without_gpu(ev: Evidence) -> Finding | None:
    """The driver answers but reports no GPU (the no-driver case is in gpu_driver_missing)."""
    tb = cuda_build(ev)
    gpu = host_gpu(ev)
    if tb is None or gpu.get("state") != "no-gpu":
        return None
    driver = gpu.get("driver")
    what = f"the NVIDIA driver{' ' + str(driver) if driver else ''} is loaded but reports no GPU"
    return _without_gpu(ev, tb, [Fact("system", "gpu", gpu.get("reason") or "no GPU listed")], what)


# -- driver-too-old -------------------------------------------------------------------------


@rule(needs=("distributions|live",), emits=("driver-too-old",), priority=110)
def driver_too_old(ev: Evidence) -> Finding | None:
    tb = cuda_build(ev)
    if tb is None or host_gpu(ev).get("state") == "no-gpu":
        return None  # without a GPU the driver's age does not matter (cuda-build-without-gpu)
    need = major_minor(tb.cuda)
    have, driver, source = driver_max_cuda(ev)
    if need is None or have is None or need <= have:
        return None
    texts = cuda_messages(ev)
    failed = driver_too_old_message(texts)
    toolkit_floor = knowledge.min_driver_for_cuda(tb.cuda or "")
    compat_floor = knowledge.min_driver_for_cuda(tb.cuda or "", "minor_compat")
    same_major = need[0] == have[0]
    if same_major and not failed:
        # Minor-version compatibility: a driver of the same major family runs the build unless
        # it is below that family's floor.
        below = bool(driver and compat_floor and _ints(driver) < _ints(compat_floor))
        certain = below
    else:
        certain = True
    if cuda_available(ev) and not failed:
        certain = False
    drv_words = f"driver {driver}" if driver else "the NVIDIA driver"
    if same_major and not certain:
        need_words = f"torch {ev.torch_version()} is built for CUDA {tb.cuda}" + (
            f" (fully supported from driver {toolkit_floor})" if toolkit_floor else ""
        )
    else:
        need_words = f"torch {ev.torch_version()} needs CUDA {tb.cuda}" + (
            f" (driver ≥ {toolkit_floor})" if toolkit_floor else ""
        )
    title = f"{drv_words[0].upper() + drv_words[1:]} supports CUDA {dotted(have)}; {need_words}"
    evidence = []
    if driver or host_gpu(ev).get("cuda_driver"):
        evidence.append(
            Fact(
                "system",
                "gpu",
                f"driver {driver or '?'}, newest CUDA it supports: "
                f"{host_gpu(ev).get('cuda_driver') or dotted(have)} ({source})",
            )
        )
    if failed:
        evidence.append(Fact("live", "cuda", clean_torch_warning(failed)[:400]))
    evidence.append(
        Fact(
            "distributions" if not ev.torch_imported() else "live",
            "torch",
            f"torch {ev.torch_version()}, built with CUDA {tb.cuda}",
        )
    )
    if same_major and not certain:
        explanation = (
            f"This build uses CUDA {tb.cuda}, newer than the {dotted(have)} this driver was made for. "
            f"It still starts through CUDA minor-version compatibility (CUDA {need[0]}.x runs on drivers "
            f"≥ {compat_floor or '?'}), but features that compile GPU code at run time (PTX JIT, nvJitLink, "
            "some torch.compile paths) can fail. Upgrading the driver removes the risk."
        )
        severity = Severity.WARNING
    else:
        compat_words = (
            f" ({compat_floor} with minor-version compatibility)"
            if compat_floor and compat_floor != toolkit_floor
            else ""
        )
        explanation = (
            f"Every CUDA build needs a driver at least as new as its CUDA version: CUDA {tb.cuda} needs "
            f"driver {toolkit_floor or '?'} or newer{compat_words}. "
            "With this driver torch reports `torch.cuda.is_available() == False` and the first CUDA call "
            "raises 'The NVIDIA driver on your system is too old'. Upgrade the driver, or install a torch "
            "built for a CUDA this driver supports."
        )
        severity = Severity.ERROR
    pair_fix = _older_cuda_fix(ev, have, tb, strict_only=severity is Severity.WARNING)
    upgrade = catalog.build("upgrade-driver", ev=ev, floor=toolkit_floor)
    fixes = [upgrade, pair_fix] if severity is Severity.WARNING else [pair_fix, upgrade]
    return Finding(
        id="driver-too-old",
        severity=severity,
        title=title,
        explanation=explanation,
        evidence=evidence,
        fixes=[f for f in fixes if f is not None],
        checks=["cuda", "gpu"],
    )


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", str(text)))


def _older_cuda_fix(
    ev: Evidence, have: tuple[int, int], tb: knowledge.Build, *, strict_only: bool = False
) -> Fix | None:
    """The newest pair for a CUDA this driver runs; ``strict_only``: no minor-version compatibility."""
    python = ev.python_version()
    if not python:
        return None
    # Minor-version compatibility lets a driver of CUDA X.y run any X.z build (a driver that
    # reports X.y is at least the X.0 driver, the family's floor): PyTorch's wheels rely on it,
    # and it reaches a newer torch than the strict table would.
    family = [
        major_minor(row.get("cuda"))
        for row in knowledge.load_data()["cuda_drivers"]["toolkit"]
        if (major_minor(row.get("cuda")) or (0, 0))[0] == have[0]
    ]
    cap = dotted(max(f for f in family if f)) if any(family) and not strict_only else None
    strict = dotted(have)
    pair = knowledge.newest_pair(python, max_cuda=cap) if cap else None
    pair_cuda = major_minor(knowledge.cuda_of_variant(pair.variant)) if pair is not None and pair.variant else None
    compat = pair_cuda is not None and pair_cuda > have
    if pair is None:
        pair = knowledge.newest_pair(python, max_cuda=strict)
        compat = False
    if pair is None or pair.variant is None or (pair.torch == tb.base and pair.variant == tb.variant):
        return None
    cuda = knowledge.cuda_of_variant(pair.variant)
    why = f"The newest torch + torchvision pair for Python {python} built for CUDA ≤ {cap if compat else strict}."
    if compat:
        floor = knowledge.min_driver_for_cuda(cuda or "", "minor_compat")
        why += (
            f" CUDA {cuda} is newer than the driver's {strict}, but runs on it through CUDA minor-version "
            f"compatibility (CUDA {cuda.split('.')[0] if cuda else '?'}.x needs driver ≥ {floor})."
        )
    return install_pair_fix(
        ev,
        pair,
        "install-pair-for-driver",
        f"Keep the driver; install torch {pair.torch}+{pair.variant} + torchvision {pair.torchvision}+{pair.variant}",
        why,
    )
