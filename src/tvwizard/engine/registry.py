"""The probes tvwizard runs, in report order.  One line per probe; timeouts in seconds."""

from __future__ import annotations

from tvwizard.engine.runner import ProbeSpec

PROBES: tuple[ProbeSpec, ...] = (
    ProbeSpec("interpreter", "Python interpreter", "interpreter", timeout=20),
    ProbeSpec("distributions", "Installed packages", "distributions", timeout=30),
    ProbeSpec("resolution", "Where imports come from", "resolution", timeout=20),
    ProbeSpec("native", "Native libraries", "native", timeout=30),
    ProbeSpec("envvars", "Environment variables", "envvars", timeout=10),
    ProbeSpec("toolchain", "Compilers and CUDA toolkit", "toolchain", timeout=20),
    ProbeSpec(
        "live",
        "Import torch and torchvision, run nms",
        "live",
        timeout=180,
        live=True,
        # A hung cuInit or kernel ends its own step (then the rest runs without it), not the
        # whole 180 s; generous enough for many GPUs and a first-run PTX JIT compile.
        step_timeouts={"cuda": 90, "nms_cpu": 60, "nms_cuda": 120},
    ),
)


def by_name(name: str) -> ProbeSpec:
    for spec in PROBES:
        if spec.name == name:
            return spec
    raise KeyError(name)
