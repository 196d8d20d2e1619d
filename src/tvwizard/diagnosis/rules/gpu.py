"""Rules on the GPU side (catalog §3.8): driver, compute capability, CUDA availability.

These are not import errors: ``import torchvision`` usually succeeds and the trouble starts
at the first CUDA call.  The facts (host driver and GPUs, ``torch.cuda``, torchvision's GPU
code) are read through :mod:`tvwizard.facts.gpu`; ``CUDA_HOME``/``CUDA_PATH`` come from the
toolchain probe's ``cuda_env``.

When torch cannot be imported, what the build needs is predicted from its CUDA version
(``torch_build().cuda``) and the CUDA toolkit's limits (``cuda_toolkit_cc`` in the knowledge
data); the build to suggest for a GPU comes from ``wheel_arches``, never from guessing.
torch's start-up warnings are matched in the words torch 2.14.1 really prints (recorded with
the stand-in driver in ``tests/fakedriver``).
"""

from __future__ import annotations

import re
from typing import Any

from packaging.version import Version

from tvwizard.diagnosis.rules import rule
from tvwizard.diagnosis.rules.packages import variant_conflict
from tvwizard.facts import gpu as gpu_facts
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence, clean_torch_warning
from tvwizard.facts.gpu import (
    Device,
    arch_covers,
    arch_major_minor,
    cuda_build,
    cuda_messages,
    cuda_step,
    dotted,
    driver_max_cuda,
    driver_too_old_message,
    env_var,
    host_gpu,
    kernel_side_facts,
    libcuda_seen,
    linux_driver,
    major_minor,
    nms_ok,
    no_driver_message,
    no_kernel_errors,
    python_version,
    signs_of_a_gpu,
    torchvision_arches,
)
from tvwizard.fixes.commands import installer_for, quote
from tvwizard.fixes.pairing import CPU_TORCH_SIZE, CUDA_TORCH_SIZE, install_pair_fix, pair_torchvision_fix
from tvwizard.model import Fact, Finding, Fix, Severity

DRIVER_DOWNLOAD = "https://www.nvidia.com/Download/index.aspx"


# -- facts ---------------------------------------------------------------------------------


# -- fixes ---------------------------------------------------------------------------------


def _cpu_pair(ev: Evidence) -> knowledge.Pair | None:
    """The CPU build of the installed release when published, else the newest CPU pair."""
    tb = ev.torch_build()
    if tb is not None:
        rel = knowledge.release(tb.base)
        if (
            rel is not None
            and "cpu" in rel.variants
            and knowledge.python_supported(rel.torch, python_version(ev) or "3")
        ):
            return knowledge.Pair(rel.torch, rel.torchvision, rel.torchaudio, "cpu", knowledge.index_url("cpu"))
    python = python_version(ev)
    return knowledge.newest_pair(python, variant="cpu") if python else None


def _cpu_fix(ev: Evidence, why: str) -> Fix | None:
    pair = _cpu_pair(ev)
    if pair is None:
        return None
    fix = install_pair_fix(
        ev,
        pair,
        "install-cpu-pair",
        f"Switch to the CPU build: torch {pair.torch}+cpu + torchvision {pair.torchvision}+cpu",
        why,
    )
    nvidia = sorted(str(d["name"]) for d in ev.dists() if str(d.get("name", "")).lower().startswith("nvidia-"))
    if nvidia:
        argv = installer_for(ev).uninstall(nvidia)
        fix.commands.append(quote(argv))
        fix.argv.append(argv)
        fix.changes += f" Then removes the {len(nvidia)} nvidia-* CUDA library packages the CUDA build pulled in."
    return fix


def _driver_fix(need: str | None, ev: Evidence, verb: str = "Upgrade") -> Fix:
    floor = knowledge.min_driver_for_cuda(need) if need else None
    container = ev.system.get("container") if isinstance(ev.system, dict) else None
    wsl = ev.system.get("wsl") if isinstance(ev.system, dict) else None
    if isinstance(wsl, dict) and wsl.get("detected"):
        how = (
            "Under WSL the driver is the Windows one: update the NVIDIA driver in Windows "
            "(never install a Linux driver inside WSL), then `wsl --shutdown`."
        )
    elif isinstance(container, dict) and container.get("detected"):
        how = "In a container the driver is the host's: upgrade it on the host, then restart the container."
    else:
        how = (
            "Install it from your distribution's packages (e.g. `sudo ubuntu-drivers install`) "
            f"or {DRIVER_DOWNLOAD}, then reboot."
        )
    return Fix(
        id="upgrade-driver",
        title=f"{verb} the NVIDIA driver ({floor} or newer)" if floor else f"{verb} the NVIDIA driver",
        kind="manual",
        why=f"Keeps this torch build as it is. {how}",
        changes="The system's NVIDIA driver (needs administrator rights and a reboot).",
        restart=True,
    )


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
    torch_none = bool(cuda) and cuda.get("available") is False and not cuda_messages(ev) and not gpu
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
    if gpu.get("state") in ("ok", "no-gpu", "driver-error", "timeout") or cuda_step(ev).get("available"):
        return []  # a driver is there; other rules say what is wrong with it
    missing, certain, evidence = _no_driver(ev)
    if not missing:
        return []
    signs = signs_of_a_gpu(ev) if certain else []
    build = f"torch {ev.torch_version()} (CUDA {tb.cuda})"
    if not signs:
        return [_without_gpu(ev, tb, evidence, "no NVIDIA driver or GPU was found")]
    floor = knowledge.min_driver_for_cuda(tb.cuda or "")
    fixes = [_driver_fix(tb.cuda, ev, "Install or load")]
    container = ev.system.get("container") if isinstance(ev.system, dict) else None
    if isinstance(container, dict) and container.get("detected"):
        fixes.insert(
            0,
            Fix(
                id="container-gpus",
                title="Start the container with the GPUs passed in (`docker run --gpus all …`)",
                kind="manual",
                why="A container sees no NVIDIA driver unless the NVIDIA Container Toolkit maps it in: "
                "`--gpus all` (Docker), `--device nvidia.com/gpu=all` (Podman/CDI) or a GPU resource request "
                "(Kubernetes).",
                restart=True,
            ),
        )
    cpu = _cpu_fix(
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
    no_library = any(
        a.get("source") == "nvml" and a.get("code") == 12 and not a.get("library") for a in gpu.get("attempts") or []
    )
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
            1 if fixes and fixes[0].id == "container-gpus" else 0,
            Fix(
                id="install-driver-libraries",
                title=f"Install the driver's libraries of the same version ({module}), e.g. on Ubuntu "
                f"`sudo apt install libnvidia-compute-{module.split('.')[0]}`, or add their folder to the "
                "loader's path (`ldconfig`)",
                kind="manual",
                why="libcuda and libnvidia-ml must match the loaded kernel module's version exactly.",
                restart=True,
            ),
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
    cpu = _cpu_fix(
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
    if cuda_step(ev).get("available") and not failed:
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
            "distributions" if not ev.step_data("import_torch").get("ok") else "live",
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
    upgrade = _driver_fix(tb.cuda, ev)
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
    python = python_version(ev)
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


# -- gpu-arch-unsupported ---------------------------------------------------------------------


def _toolkit_range(cuda: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """What CUDA ``cuda`` can build for (``cuda_toolkit_cc`` of the knowledge data): when torch
    cannot report its arch list, a GPU outside it is predicted to have no kernels, unless the
    wheel shipped PTX the driver can JIT."""
    return knowledge.toolkit_cc_range(cuda)


def _variant_for(cc: tuple[int, int], ev: Evidence, max_cuda: tuple[int, int] | None) -> knowledge.Pair | None:
    """The pair to suggest for a GPU of compute capability ``cc``: official wheels that carry
    kernels for it (``wheel_arches`` of the knowledge data), on a CUDA this driver runs.

    A variant of the driver's CUDA major (or older) runs through minor-version compatibility;
    one the driver fully supports comes first, then the newest torch, then the newest CUDA.
    """
    python = python_version(ev)
    if not python:
        return None

    def carries_kernels(pair: knowledge.Pair) -> bool:
        arches = knowledge.wheel_arch_list(pair.variant or "", pair.torch)
        return arches is not None and arch_covers(cc, arches) is not None

    candidates = []
    for variant in knowledge.cuda_variants():
        cuda = major_minor(knowledge.cuda_of_variant(variant))
        if cuda is None or (max_cuda is not None and cuda[0] > max_cuda[0]):
            continue
        pair = knowledge.newest_pair(python, variant=variant, accept=carries_kernels)
        if pair is not None:
            full = max_cuda is None or cuda <= max_cuda
            candidates.append(((full, Version(pair.torch), cuda), pair))
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


@rule(needs=("distributions|live",), emits=("gpu-arch-unsupported",), priority=120)
def gpu_arch_unsupported(ev: Evidence) -> Finding | None:
    tb = cuda_build(ev)
    devices = gpu_facts.devices(ev)
    failing = no_kernel_errors(ev)
    if tb is None or (not devices and not failing):
        return None
    arch_list = [str(a) for a in cuda_step(ev).get("arch_list") or []]
    arch_source = str(cuda_step(ev).get("arch_list_source") or "torch.cuda.get_arch_list()")
    bad: list[tuple[Device, str, bool]] = []  # (device, why, certain)
    for dev in devices:
        if nms_ok(ev, dev.cuda_index):
            continue  # it ran a torchvision kernel correctly: whatever the lists say, it works
        if arch_list:
            if arch_covers(dev.cc, arch_list) is None:
                bad.append(
                    (
                        dev,
                        f"compute capability {dotted(dev.cc)} is not in {arch_source} = {arch_list}",
                        True,
                    )
                )
            continue
        rng = _toolkit_range(tb.cuda or "")
        if rng is None:
            continue
        lo, hi = rng
        if dev.cc < lo:
            bad.append((dev, f"CUDA {tb.cuda} cannot build code for compute capability below {dotted(lo)}", True))
        elif dev.cc > hi:
            bad.append(
                (
                    dev,
                    f"CUDA {tb.cuda} has no kernels for compute capability {dotted(dev.cc)} "
                    f"(newest: {dotted(hi)}); "
                    "only PTX shipped in the wheel could run there",
                    False,
                )
            )
    torchvision_only = False
    tv_evidence: list[Fact] = []
    if not bad:
        # torch has kernels for the device; torchvision's own extensions may not (a source build
        # with a narrow TORCH_CUDA_ARCH_LIST): read from their .nv_fatbin, before any op runs.
        tv_arch, tv_files = torchvision_arches(ev)
        for dev in devices:
            if tv_arch and not nms_ok(ev, dev.cuda_index) and arch_covers(dev.cc, tv_arch) is None:
                tv_evidence.append(
                    Fact(
                        "native",
                        "torchvision",
                        f"{dev.label}: compute capability {dotted(dev.cc)} is not among the GPU architectures "
                        f"compiled into {', '.join(tv_files)} ({', '.join(tv_arch)})",
                    )
                )
        torchvision_only = bool(failing) or bool(tv_evidence)
    if not bad and not torchvision_only:
        return None
    evidence = [Fact(d.source if d.source == "live" else "system", "gpu", f"{d.label}: {why}") for d, why, _ in bad]
    evidence += tv_evidence
    for index, msg in failing.items():
        evidence.append(Fact("live", f"nms_cuda:{index}" if index is not None else "nms_cuda", msg[:400]))
    certain = any(c for _, _, c in bad) or bool(failing)
    have, _driver, _src = driver_max_cuda(ev)
    fixes: list[Fix] = []
    if torchvision_only:
        title = f"torchvision {ev.torchvision_version()} has no GPU kernels for this GPU, although torch does"
        explanation = (
            "torch runs on this GPU but torchvision's compiled ops "
            + ("fail" if failing else "will fail")
            + " with 'no kernel image is available for execution on the device': this torchvision was built "
            "for other GPU architectures (usually a source build with a narrow TORCH_CUDA_ARCH_LIST). "
            "Reinstall the official torchvision made for this torch, from the same index."
        )
        fix = pair_torchvision_fix(ev, tb.base, tb.variant)
        if fix is not None:
            fix.why += " The official wheels are built for every architecture torch supports."
            fixes.append(fix)
    else:
        first = bad[0][0]
        names = ", ".join(f"{d.label} with compute capability {dotted(d.cc)}" for d, _, _ in bad)
        older = first.cc < (_toolkit_range(tb.cuda or "") or ((0, 0), (0, 0)))[0] or (
            bool(arch_list) and all((arch_major_minor(a) or (99, 0)) > first.cc for a in arch_list)
        )
        title = (
            f"torch {ev.torch_version()} has no kernels for {first.label}: compute capability {dotted(first.cc)} "
            f"is {'too old' if older else 'too new'} for this build"
        )
        explanation = (
            f"A CUDA build only runs on the GPU architectures it was compiled for. {names} "
            f"{'is' if len(bad) == 1 else 'are'} not among them, so `import torchvision` works but the first "
            "GPU operation fails with 'no kernel image is available for execution on the device'. "
            + (
                "Install a build that includes this architecture."
                if certain
                else "This is predicted from the build's CUDA version (torch could not report its arch list): "
                "it holds unless the wheel ships PTX that the driver can compile for this GPU."
            )
        )
        pair = _variant_for(first.cc, ev, have)
        if pair is not None and pair.variant != tb.variant:
            fixes.append(
                install_pair_fix(
                    ev,
                    pair,
                    "install-pair-for-gpu",
                    f"Install torch {pair.torch}+{pair.variant} + torchvision {pair.torchvision}+{pair.variant}",
                    f"The official {pair.variant} wheels include kernels for compute capability "
                    f"{dotted(first.cc)}{' and run on this driver' if have else ''}.",
                )
            )
        else:
            fixes.append(
                Fix(
                    id="no-build-for-gpu",
                    title="No current official build supports this GPU",
                    kind="manual",
                    why=(
                        f"Compute capability {dotted(first.cc)} is outside what current PyTorch wheels "
                        "are built for. "
                        "Use the CPU build, an older torch built for a CUDA that still supports it, or build torch "
                        f"and torchvision from source with TORCH_CUDA_ARCH_LIST={dotted(first.cc)}."
                    ),
                )
            )
        cpu = _cpu_fix(ev, "Runs on the CPU instead; slower, but every op works.")
        if cpu is not None:
            fixes.append(cpu)
    return Finding(
        id="gpu-arch-unsupported",
        severity=Severity.ERROR if certain else Severity.WARNING,
        title=title,
        explanation=explanation,
        evidence=evidence,
        fixes=fixes,
        checks=["cuda", "gpu", *(f"nms_cuda:{i}" for i in failing if i is not None)],
    )


# -- cuda-unavailable -------------------------------------------------------------------------

# (text in torch's warning or the driver's reason, what it means, fix id, fix title, fix why)
_REASONS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "Error 804",
        "a CUDA forward-compatibility library (cuda-compat) is loaded on a GPU that does not support it",
        "remove-cuda-compat",
        "Take the cuda-compat folder out of LD_LIBRARY_PATH",
        "Forward compatibility only works on data-center GPUs; elsewhere the driver's own libcuda must be used.",
    ),
    (
        "Error 803",
        "the loaded libcuda does not match the running kernel driver (usually a driver update without a reboot)",
        "reboot-after-driver-update",
        "Reboot (or reload the nvidia kernel modules)",
        "The driver's user-space and kernel parts must be the same version.",
    ),
    (
        "version mismatch",
        "the NVIDIA driver's library and kernel module versions differ (usually a driver update without a reboot)",
        "reboot-after-driver-update",
        "Reboot (or reload the nvidia kernel modules)",
        "The driver's user-space and kernel parts must be the same version.",
    ),
    (
        "Error 802",
        "the system is not yet initialized: on NVSwitch machines the nvidia-fabricmanager service is not running",
        "start-fabricmanager",
        "Start nvidia-fabricmanager (`sudo systemctl enable --now nvidia-fabricmanager`)",
        "HGX/DGX machines need the fabric manager, of the same version as the driver, before CUDA can start.",
    ),
    (
        "Error 34",
        "a CUDA stub library (…/stubs/libcuda.so) is loaded instead of the driver's",
        "remove-cuda-stubs",
        "Take the `stubs` folder out of LD_LIBRARY_PATH",
        "The stub libcuda exists only for linking at build time; it has no driver behind it.",
    ),
    (
        "Error 304",
        "an operating-system call failed: usually missing /dev/nvidia* permissions or device nodes",
        "check-device-permissions",
        "Check that your user can open /dev/nvidia* (group `video`/`render`), or pass the devices into the container",
        "CUDA opens the device nodes directly; without them it cannot start.",
    ),
    (
        "Error 46",
        "every GPU is busy or unavailable: its compute mode is Exclusive-Process and another process holds it",
        "free-busy-gpu",
        "Find the process on the GPU (`nvidia-smi`) and wait for it or pick another GPU (CUDA_VISIBLE_DEVICES); "
        "an admin can set the compute mode back with `sudo nvidia-smi -c DEFAULT`",
        "In Exclusive-Process mode a GPU takes one CUDA process at a time.",
    ),
    (
        "Error 2: out of memory",
        "the GPU's memory is already full when CUDA starts: another process holds it",
        "free-gpu-memory",
        "Find the processes holding GPU memory (`nvidia-smi`), stop them or pick another GPU (CUDA_VISIBLE_DEVICES)",
        "CUDA needs some memory for its context on every visible GPU.",
    ),
    (
        "Error 500",
        "the libcuda.so.1 this process loads lacks a function torch's CUDA runtime needs: it comes from an older "
        "driver than this build expects, or is not the driver's own (a copy on LD_LIBRARY_PATH, an old WSL or "
        "Docker Desktop libcuda)",
        "use-drivers-libcuda",
        "Load the driver's own libcuda.so.1: take other copies out of LD_LIBRARY_PATH; on WSL or Docker Desktop, "
        "update the Windows NVIDIA driver and Docker Desktop",
        "The CUDA runtime looks up the driver's functions by name; a libcuda from another or older driver lacks some.",
    ),
    (
        "Error 100",
        "CUDA sees no device",
        "check-visible-devices",
        "Check CUDA_VISIBLE_DEVICES and that the GPU is passed to this process",
        "The driver is there but no GPU is visible to this process.",
    ),
    (
        "Error 101",
        "CUDA_VISIBLE_DEVICES names a device that does not exist",
        "check-visible-devices",
        "Fix CUDA_VISIBLE_DEVICES",
        "An invalid ordinal hides every GPU.",
    ),
)


# torch's errors that come from loading the wrong libcuda.so.1: the finding shows which one loaded
_WRONG_LIBCUDA = ("Error 500", "Error 34", "Error 804", "Error 803")


# What torch says for the two start-up failures that do not name a cause (c10/cuda
# CUDAFunctions.cpp turns cudaErrorUnknown and cudaErrorInitializationError into these
# sentences, with no error number); the kernel side (:func:`_kernel_side`) is asked first.
_GENERIC_REASONS: tuple[tuple[tuple[str, ...], str, str, str, str], ...] = (
    (
        ("CUDA unknown error", "Error 999"),
        "CUDA failed to start with an unknown error: the driver is in a bad state, most often the nvidia_uvm "
        "module after a suspend/resume",
        "reload-nvidia-uvm",
        "Reload nvidia_uvm (`sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`) or reboot",
        "An unknown CUDA error at start-up usually clears when the unified-memory module is reloaded.",
    ),
    (
        ("CUDA driver initialization failed",),
        "the CUDA driver could not initialise in this process: the nvidia kernel module or its device nodes are "
        "not usable here",
        "check-driver-in-this-process",
        "Check that `nvidia-smi` works in this same shell; in a container, start it with GPU access "
        "(`--gpus all`); after a driver install, reboot",
        "CUDA needs the kernel module loaded and /dev/nvidia* reachable from this process.",
    ),
)


def _kernel_side(ev: Evidence, gpu: dict[str, Any], silent: bool) -> tuple[str, Fix] | None:
    """A cause read from the kernel side of the driver (``gpu["linux"]``), or None."""
    linux = linux_driver(gpu)
    nodes: dict[str, str] = linux.get("nodes") or {}
    module, library = linux.get("kernel_module"), gpu.get("driver")
    if module and library and module != library:
        return (
            f"the loaded nvidia kernel module is {module} but the driver library is {library}: "
            "a driver update without a reboot",
            Fix(
                id="reboot-after-driver-update",
                title="Reboot (or reload the nvidia kernel modules)",
                kind="manual",
                why="The driver's user-space and kernel parts must be the same version.",
                restart=True,
            ),
        )
    refused = [n for n, state in nodes.items() if state == "no access"]
    if refused:
        return (
            f"this user cannot open {', '.join(refused)}",
            Fix(
                id="check-device-permissions",
                title="Give your user access to /dev/nvidia* (group `video`/`render`, or the node's mode)",
                kind="manual",
                why="CUDA opens the device nodes directly; without read-write access it cannot start.",
                restart=True,
            ),
        )
    if nodes.get("/dev/nvidiactl") == "missing" and gpu.get("source") == "nvml":
        return (
            "the GPU device nodes (/dev/nvidiactl, /dev/nvidia0, ...) are not in this process's view although the "
            "driver library answered: a container started without GPU access",
            Fix(
                id="container-gpu-access",
                title="Start the container with GPU access (`--gpus all` for Docker, "
                "`--device nvidia.com/gpu=all` for Podman/CDI, a GPU resource request on Kubernetes)",
                kind="manual",
                why="The NVIDIA container runtime mounts the device nodes and the driver's libraries together.",
                restart=True,
            ),
        )
    if nodes.get("/dev/nvidia-uvm") == "missing" and nodes.get("/dev/nvidiactl") == "ok":
        return (
            "/dev/nvidia-uvm is missing: the nvidia_uvm kernel module is not loaded, and CUDA cannot start without it",
            Fix(
                id="load-nvidia-uvm",
                title="Load the unified-memory module: `sudo modprobe nvidia_uvm` (or `sudo nvidia-modprobe -u -c=0`)",
                kind="manual",
                why="nvidia-smi works without nvidia_uvm, CUDA does not; the module creates /dev/nvidia-uvm.",
                restart=True,
            ),
        )
    if silent and env_var(ev, "SLURM_JOB_ID") and not (env_var(ev, "SLURM_JOB_GPUS") or env_var(ev, "SLURM_STEP_GPUS")):
        return (
            f"this runs in Slurm job {env_var(ev, 'SLURM_JOB_ID')}, which has no GPU allocated: Slurm's device "
            "cgroup hides the GPUs from CUDA",
            Fix(
                id="slurm-request-gpu",
                title="Ask Slurm for a GPU: `srun --gres=gpu:1 …` (or `--gpus=1`, `#SBATCH --gres=gpu:1`)",
                kind="manual",
                why="Inside a job, only the GPUs Slurm allocated are usable; NVML may still list them all.",
                restart=True,
            ),
        )
    return None


@rule(needs=("live",), emits=("cuda-unavailable",), priority=130)
def cuda_unavailable(ev: Evidence) -> Finding | None:
    tb = cuda_build(ev)
    step = ev.step("cuda")
    data = cuda_step(ev)
    if tb is None or step is None or not data or data.get("available") is not False:
        return None
    gpu = host_gpu(ev)
    present = [g for g in gpu.get("gpus") or []]
    texts = cuda_messages(ev)
    if not present and gpu.get("state") != "driver-error":
        return None  # no GPU: gpu-driver-missing / cuda-build-without-gpu speak instead
    evidence = [Fact("live", "cuda", clean_torch_warning(t)[:400]) for t in texts] or [
        Fact("live", "cuda", "torch.cuda.is_available() returned False")
    ]
    if present:
        names = ", ".join(f"GPU {g.get('index')} ({g.get('name') or '?'})" for g in present[:4])
        evidence.insert(
            0,
            Fact("system", "gpu", f"{gpu.get('source') or 'driver'} lists {names}; driver {gpu.get('driver') or '?'}"),
        )
    cause = None
    reason = None
    fixes: list[Fix] = []
    vis = gpu.get("visible_devices") or {}
    if present and vis.get("set") and vis.get("visible") == []:
        note = vis.get("note") or "none of its entries names a GPU"
        reason = f"CUDA_VISIBLE_DEVICES={vis.get('env')!r} hides every GPU ({note})"
        evidence.append(Fact("system", "gpu", reason))
        fixes.append(
            Fix(
                id="unset-cuda-visible-devices",
                title="Unset CUDA_VISIBLE_DEVICES (or list the GPUs to use, e.g. 0)",
                kind="env",
                env={"CUDA_VISIBLE_DEVICES": None},
                why="With it unset, CUDA sees every GPU.",
                restart=True,
            )
        )
    haystack = (" ".join(texts) + " " + str(gpu.get("reason") or "")).lower()
    if reason is None:
        for pattern, meaning, fid, ftitle, fwhy in _REASONS:
            if pattern.lower() in haystack:
                reason = meaning
                fixes.append(Fix(id=fid, title=ftitle, kind="manual", why=fwhy, restart=True))
                if pattern in _WRONG_LIBCUDA and (seen := libcuda_seen(ev)):
                    evidence.append(Fact("native", "loader", seen))
                break
    generic = [g for g in _GENERIC_REASONS if any(text.lower() in haystack for text in g[0])]
    if reason is None and present and (generic or not texts):
        # what the kernel side looked like, whether or not it explains the failure
        evidence.append(Fact("system", "gpu", kernel_side_facts(gpu)))
        found = _kernel_side(ev, gpu, silent=not texts)
        if found is not None:
            reason = found[0]
            fixes.append(found[1])
    if reason is None and generic:
        _pattern, reason, fid, ftitle, fwhy = generic[0]
        fixes.append(Fix(id=fid, title=ftitle, kind="manual", why=fwhy, restart=True))
    if reason is None and driver_too_old_message(texts):
        cause, reason = "driver-too-old", "the driver is too old for this build"
    if reason is None and no_driver_message(texts):
        cause, reason = "gpu-driver-missing", "no NVIDIA driver is loaded"
    if reason is None and gpu.get("state") == "driver-error":
        reason = f"the NVIDIA driver is installed but failing: {gpu.get('reason')}"
    if reason is None and texts:
        reason = clean_torch_warning(texts[0])[:200]
    if reason is None:
        reason = (
            f"CUDA finds no usable GPU although the driver lists {len(present)}, and torch gave no reason: this "
            "process is probably not allowed to use them (a batch job or container without a GPU allocation)"
        )
        fixes.append(
            Fix(
                id="check-gpu-allocation",
                title="Check that this process was given the GPU: `nvidia-smi` in the same shell, the job's GPU "
                "request (`--gres=gpu:1`), the container's `--gpus`",
                kind="manual",
                why="NVML can list GPUs that a device cgroup keeps CUDA from opening.",
                restart=True,
            )
        )
    return Finding(
        id="cuda-unavailable",
        severity=Severity.ERROR,
        title=f"The GPU is there but torch cannot use it: {reason}",
        explanation=(
            f"torch {ev.torch_version()} is a CUDA {tb.cuda} build and the machine has an NVIDIA GPU, yet "
            "`torch.cuda.is_available()` returns False, so every model silently runs on the CPU and `.cuda()` "
            f"raises. The reason: {reason}."
        ),
        evidence=evidence,
        fixes=fixes,
        caused_by=cause,
        checks=["cuda", "gpu"],
    )


# -- cuda-home-invalid -------------------------------------------------------------------------


@rule(needs=("toolchain",), emits=("cuda-home-invalid",))
def cuda_home_invalid(ev: Evidence) -> list[Finding]:
    data = ev.data("toolchain")
    cuda_env = data.get("cuda_env") or {}
    out = []
    usr_local = data.get("usr_local_cuda") or {}
    good_default = "/usr/local/cuda" if usr_local.get("nvcc") and usr_local.get("lib64") else None
    for var in ("CUDA_HOME", "CUDA_PATH"):
        entry = cuda_env.get(var) or {}
        if not entry.get("set") or entry.get("error"):
            continue
        value = str(entry.get("value", ""))
        problems = []
        if not entry.get("exists"):
            problems.append("does not exist")
        elif not entry.get("is_dir"):
            problems.append("is not a folder")
        else:
            if not entry.get("nvcc"):
                problems.append("has no bin/nvcc")
            if not entry.get("lib64"):
                problems.append("has no lib64")
        if not problems:
            continue
        other = "CUDA_PATH" if var == "CUDA_HOME" else "CUDA_HOME"
        o = cuda_env.get(other) or {}
        replacement = str(o["value"]) if o.get("set") and o.get("nvcc") and o.get("lib64") else good_default
        fix = Fix(
            id=f"fix-{var.lower().replace('_', '-')}",
            title=f"Set {var}={replacement}" if replacement else f"Unset {var}",
            kind="env",
            env={var: replacement},
            why=(
                f"{replacement} is a complete CUDA toolkit (nvcc and lib64)."
                if replacement
                else "An unset variable lets build tools find nvcc on PATH or fail with a clear message."
            ),
            undo=f"Set {var} back to {value}.",
        )
        out.append(
            Finding(
                id="cuda-home-invalid",
                severity=Severity.WARNING,
                title=f"{var}={value} {' and '.join(problems)}",
                explanation=(
                    f"{var} tells build tools where the CUDA toolkit is. It only matters when something is compiled "
                    "against CUDA: building torchvision (or another extension) from source, torch.utils.cpp_extension, "
                    "or ops compiled at first use. The pip wheels bring their own CUDA libraries and never read it, so "
                    "it does not explain an import error."
                ),
                evidence=[Fact("toolchain", "cuda_env", f"{var}={value}: {', '.join(problems)}")],
                fixes=[fix],
                checks=["toolchain"],
            )
        )
    return out


# -- torchvision's compiled CUDA vs torch's ----------------------------------------------------


@rule(needs=("live",), emits=("build-variant-mismatch",), priority=70, supplements=True)
def extension_cuda_mismatch(ev: Evidence) -> Finding | None:
    """torchvision's compiled ops report another CUDA major than torch.

    Reported under ``build-variant-mismatch`` so it merges with the packages rule's finding:
    declared ``supplements=True``, so that finding is kept and this evidence added to it,
    whatever order the rules ran in; it stands alone only when version.py hid the mismatch (a
    source build whose binary disagrees with its label).
    """
    code = ev.step_data("extensions").get("cuda_version")
    torch_cuda = major_minor(ev.torch_cuda())
    if not isinstance(code, int) or code <= 0 or torch_cuda is None:
        return None
    tv = major_minor(knowledge.cuda_from_driver_api(code))
    if tv is None or tv[0] == torch_cuda[0]:
        return None
    fact = Fact(
        "live",
        "extensions",
        f"torchvision's compiled ops report CUDA {dotted(tv)} (_cuda_version() = {code}); "
        f"torch.version.cuda = {ev.torch_cuda()}",
    )
    tb, vb = ev.torch_build(), ev.torchvision_build()
    fixes = []
    if tb is not None:
        fix = pair_torchvision_fix(ev, tb.base, tb.variant)
        if fix is not None:
            fixes.append(fix)
    already = tb is not None and vb is not None and variant_conflict(tb, vb) is not None
    return Finding(
        id="build-variant-mismatch",
        severity=Severity.ERROR,
        title=f"torchvision's compiled ops were built with CUDA {dotted(tv)}; torch {ev.torch_version()} "
        f"uses CUDA {ev.torch_cuda()}",
        explanation=(
            "torchvision refuses to run its ops when its CUDA major version differs from torch's. "
            + ("" if already else "Its version label does not show it: the binary was built elsewhere. ")
            + "Install the torchvision made for this torch from the same index."
        ),
        evidence=[fact],
        fixes=fixes,
        checks=["extensions"],
    )
