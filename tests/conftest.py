"""Shared test helpers: run a probe for real, find interpreters, reach the real envs."""

from __future__ import annotations

import asyncio
import glob
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for realenvs

from tvwizard.engine.runner import PROBES_DIR, ProbeSpec, run_probe
from tvwizard.model import ProbeRun


def pyenv_python(version: str) -> str | None:
    """A pyenv CPython ``major.minor`` (e.g. "3.8"), or None where this machine has none."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    return found[-1] if found else None


def run_probe_sync(
    module: str,
    python: str = sys.executable,
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    options: dict | None = None,
    timeout: float = 60.0,
    probes_dir: str = PROBES_DIR,
) -> ProbeRun:
    """Run probe ``module`` for real in a subprocess of ``python`` and return its run."""
    spec = ProbeSpec(name=module, title=module, module=module, timeout=timeout, options=options or {})
    return asyncio.run(run_probe(spec, python, cwd=str(cwd) if cwd else None, env=env, probes_dir=probes_dir))


@pytest.fixture
def py38() -> str:
    exe = pyenv_python("3.8")
    if exe is None:
        pytest.skip("no Python 3.8 here (pyenv versions lists none)")
    return exe


def pytest_collection_modifyitems(config, items):
    """Tests that compare SVG snapshots get the ``snapshot`` marker (pinned to exact textual/rich)."""
    for item in items:
        if "snap_compare" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.snapshot)


FAST_DIR = Path(__file__).resolve().parent / "fast"


@pytest.fixture(autouse=True)
def _hide_host_gpus(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast tests bring their own GPUs (a fake NVML, a fake nvidia-smi) or none at all.

    On a machine with an NVIDIA driver, tvwizard would read the real one and the fake torch
    installs (which say CUDA is unavailable) would disagree with it.  Pointing both GPU
    sources and the kernel side (/proc/driver/nvidia, /dev/nvidia*) at paths that do not
    exist makes every fast test see a machine without a driver, as CI's machines are;
    tests that need a driver name their own.  The real tier
    keeps the machine's GPUs: its torch is real too.
    """
    if FAST_DIR in Path(str(request.node.path)).resolve().parents:
        monkeypatch.setenv("TVWIZARD_NVML", "/nonexistent/libnvidia-ml.so.1")
        monkeypatch.setenv("TVWIZARD_NVIDIA_SMI", "/nonexistent/nvidia-smi")
        monkeypatch.setenv("TVWIZARD_DRIVER_ROOT", "/nonexistent/root")  # no kernel module, no /dev/nvidia*
