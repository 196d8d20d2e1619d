"""The probes tvwizard runs, in report order.  One line per probe; timeouts in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


USER_TIMEOUT = 180.0  # the user's import or command, unless --timeout says otherwise
USER_PROBE = "user"  # run only when asked (``--import``, ``-- COMMAND``, ``explain``): not in PROBES


def probe_names() -> frozenset[str]:
    """Every probe a rule may need: the standard ones and the one run on request."""
    return frozenset(spec.name for spec in PROBES) | {USER_PROBE}


def user_probe(
    *,
    imports: Sequence[str] = (),
    command: Sequence[str] = (),
    failure: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> ProbeSpec:
    """The probe of what failed for the user (see :mod:`tvwizard.probes.user`): their imports,
    their command (run only because they asked for it), or a pasted traceback's files."""
    if imports:
        options: dict[str, Any] = {"imports": list(imports)}
        title = "import " + ", ".join(imports)
    elif command:
        options = {"command": list(command)}
        title = "Your command"
    else:
        options = {"failure": failure or {}}
        title = "Your traceback"
    return ProbeSpec(USER_PROBE, title, USER_PROBE, timeout=timeout or USER_TIMEOUT, after_live=True, options=options)


def by_name(name: str) -> ProbeSpec:
    for spec in PROBES:
        if spec.name == name:
            return spec
    raise KeyError(name)
