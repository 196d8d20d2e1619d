"""The ``native`` probe against real torch/torchvision wheels (see tests/realenvs.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import realenvs
from conftest import run_probe_sync

from tvwizard.model import RunStatus

pytestmark = pytest.mark.real


def probe(name: str) -> dict:
    try:
        path = realenvs.build(name)
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env {name!r} unavailable here: {exc}")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH")}
    run = run_probe_sync("native", python=str(path / "bin" / "python"), env=env)
    assert run.status == RunStatus.OK, (run.error, run.log, run.fault)
    return run.data


def test_cpu_torch_with_cuda_torchvision():
    data = probe("cpu-torch-cuda-tv")
    missing = {(m["name"], Path(m["needed_by"]).name) for m in data["unresolved"] if m["package"] == "torchvision"}
    assert ("libc10_cuda.so", "_C_stable.so") in missing
    assert ("libtorch_cuda.so", "_C_stable.so") in missing
    files = {Path(f["path"]).name: f for f in data["packages"]["torchvision"]["files"]}
    c = files["_C_stable.so"]
    assert c["valid"] is True
    by_name = {n["name"]: n for n in c["needed"]}
    assert by_name["libc10.so"]["found"] and by_name["libc10.so"]["via"] == "torch"
    assert by_name["libc10_cuda.so"]["found"] is False
    assert data["elapsed"] < 1.0


def test_healthy():
    data = probe("healthy")
    assert [m for m in data["unresolved"] if m["package"] == "torchvision"] == []
    # whatever torch itself misses here can only be the NVIDIA driver (no GPU needed to import)
    assert all(m.get("driver") for m in data["unresolved"]), data["unresolved"]
    tv = data["packages"]["torchvision"]["files"]
    assert tv and all(f["valid"] for f in tv)
    c = next(f for f in tv if Path(f["path"]).name == "_C_stable.so")
    by_name = {n["name"]: n for n in c["needed"]}
    assert by_name["libc10_cuda.so"]["via"] == "torch"
    assert by_name["libcudart.so.13"]["via"] == "torch"
    assert data["loaded_by_torch"] > 10
    assert any("nvidia" in d for d in data["lib_dirs"])
    assert data["elapsed"] < 1.0
