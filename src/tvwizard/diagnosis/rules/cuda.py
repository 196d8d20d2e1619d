"""Rules on CUDA itself: a GPU torch cannot use, ``CUDA_HOME``/``CUDA_PATH`` that point nowhere,
torchvision's compiled CUDA against torch's.

torch's start-up errors are matched through :mod:`tvwizard.facts.cuda_errors` (in the words torch
2.14.1 really prints, recorded with the stand-in driver in ``tests/fakedriver``); when they name no
cause, the kernel side of the driver (module version, ``/dev/nvidia*``) and the Slurm allocation
are asked.
"""

from __future__ import annotations

from typing import Any

from tvwizard.diagnosis.rules import rule
from tvwizard.diagnosis.rules.packages import variant_conflict
from tvwizard.facts import cuda_errors
from tvwizard.facts.evidence import Evidence, clean_torch_warning
from tvwizard.facts.gpu import (
    cuda_build,
    cuda_messages,
    cuda_step,
    dotted,
    driver_too_old_message,
    env_var,
    host_gpu,
    kernel_side_facts,
    libcuda_seen,
    linux_driver,
    major_minor,
    no_driver_message,
)
from tvwizard.fixes import catalog
from tvwizard.fixes.pairing import pair_torchvision_fix
from tvwizard.gpu import cuda_int_to_str
from tvwizard.model import Fact, Finding, Fix, Severity

# -- cuda-unavailable -------------------------------------------------------------------------


def _kernel_side(ev: Evidence, gpu: dict[str, Any], silent: bool) -> tuple[str, str] | None:
    """A cause read from the kernel side of the driver (``gpu["linux"]``) and its fix id, or None."""
    linux = linux_driver(gpu)
    nodes: dict[str, str] = linux.get("nodes") or {}
    module, library = linux.get("kernel_module"), gpu.get("driver")
    if module and library and module != library:
        return (
            f"the loaded nvidia kernel module is {module} but the driver library is {library}: "
            "a driver update without a reboot",
            "reboot-after-driver-update",
        )
    refused = [n for n, state in nodes.items() if state == "no access"]
    if refused:
        return (
            f"this user cannot open {', '.join(refused)}",
            "check-device-permissions",
        )
    if nodes.get("/dev/nvidiactl") == "missing" and gpu.get("source") == "nvml":
        return (
            "the GPU device nodes (/dev/nvidiactl, /dev/nvidia0, ...) are not in this process's view although the "
            "driver library answered: a container started without GPU access",
            "container-gpu-access",
        )
    if nodes.get("/dev/nvidia-uvm") == "missing" and nodes.get("/dev/nvidiactl") == "ok":
        return (
            "/dev/nvidia-uvm is missing: the nvidia_uvm kernel module is not loaded, and CUDA cannot start without it",
            "load-nvidia-uvm",
        )
    if silent and env_var(ev, "SLURM_JOB_ID") and not (env_var(ev, "SLURM_JOB_GPUS") or env_var(ev, "SLURM_STEP_GPUS")):
        return (
            f"this runs in Slurm job {env_var(ev, 'SLURM_JOB_ID')}, which has no GPU allocated: Slurm's device "
            "cgroup hides the GPUs from CUDA",
            "slurm-request-gpu",
        )
    return None


@rule(needs=("live",), emits=("cuda-unavailable",), priority=130)
def cuda_unavailable(ev: Evidence) -> Finding | None:
    tb = cuda_build(ev)
    data = cuda_step(ev)
    if tb is None or data is None or data.available is not False:
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
        fixes.append(catalog.build("unset-cuda-visible-devices"))
    haystack = (" ".join(texts) + " " + str(gpu.get("reason") or "")).lower()
    known = cuda_errors.first_match(cuda_errors.REASONS, haystack) if reason is None else None
    if known is not None:
        reason = known.meaning
        fixes.append(catalog.build(known.fix_id))
        if cuda_errors.names_wrong_libcuda(known) and (seen := libcuda_seen(ev)):
            evidence.append(Fact("native", "loader", seen))
    generic = cuda_errors.first_match(cuda_errors.GENERIC_REASONS, haystack)
    if reason is None and present and (generic or not texts):
        # what the kernel side looked like, whether or not it explains the failure
        evidence.append(Fact("system", "gpu", kernel_side_facts(gpu)))
        found = _kernel_side(ev, gpu, silent=not texts)
        if found is not None:
            reason = found[0]
            fixes.append(catalog.build(found[1]))
    if reason is None and generic is not None:
        reason = generic.meaning
        fixes.append(catalog.build(generic.fix_id))
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
        fixes.append(catalog.build("check-gpu-allocation"))
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
    cuda_env = ev.toolchain_part("cuda_env")
    out = []
    usr_local = ev.toolchain_part("usr_local_cuda")
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
        fix = catalog.build(f"fix-{var.lower().replace('_', '-')}", value=value, replacement=replacement)
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
    extensions = ev.extensions_step()
    code = extensions.cuda_version if extensions is not None else None
    torch_cuda = major_minor(ev.torch_cuda())
    if not isinstance(code, int) or code <= 0 or torch_cuda is None:
        return None
    tv = major_minor(cuda_int_to_str(code))
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
