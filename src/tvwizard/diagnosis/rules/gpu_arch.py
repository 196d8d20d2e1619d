"""Rule ``gpu-arch-unsupported``: the build has no kernels for this GPU's compute capability.

The failure is in docs/knowledge.md, "Failure facts: Driver too old, no kernel image …".  What a
build covers comes from torch's own arch list, else is predicted from its CUDA version and the
CUDA toolkit's limits (``cuda_toolkit_cc`` in the knowledge data); torchvision's own kernels are
read from its extensions' ``.nv_fatbin`` by the native probe.  The build to suggest for a GPU
comes from ``wheel_arches``, never from guessing.
"""

from __future__ import annotations

from packaging.version import Version

from tvwizard.diagnosis.rules import rule
from tvwizard.facts import gpu as gpu_facts
from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.gpu import (
    Device,
    arch_covers,
    arch_major_minor,
    cuda_build,
    cuda_step,
    dotted,
    driver_max_cuda,
    major_minor,
    nms_ok,
    no_kernel_errors,
    torchvision_arches,
)
from tvwizard.fixes import catalog
from tvwizard.fixes.pairing import cpu_pair_fix, install_pair_fix, pair_torchvision_fix
from tvwizard.model import Fact, Finding, Fix, Severity

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
    python = ev.python_version()
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
    cuda = cuda_step(ev)
    arch_list = list(cuda.arch_list) if cuda is not None else []
    arch_source = (cuda.arch_list_source if cuda is not None else "") or "torch.cuda.get_arch_list()"
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
            fixes.append(catalog.build("no-build-for-gpu", capability=dotted(first.cc)))
        cpu = cpu_pair_fix(ev, "Runs on the CPU instead; slower, but every op works.")
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
