"""The static probes against real torch/torchvision envs (see tests/realenvs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import realenvs
from conftest import run_probe_sync

from tvwizard.diagnosis.requirements import unsatisfied
from tvwizard.model import RunStatus

pytestmark = pytest.mark.real


def env_python(name: str) -> str:
    try:
        env = realenvs.build(name)
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env {name!r} cannot be built here: {exc}")
    return str(Path(env) / "bin" / "python")


def probe(python: str, name: str, cwd: Path) -> dict:
    run = run_probe_sync(name, python, cwd=cwd)
    assert run.status == RunStatus.OK, (run.status, run.error, run.fault, run.log[-10:])
    assert "errors" not in run.data, run.data["errors"]
    return run.data


def test_torch_missing_dep(tmp_path: Path) -> None:
    python = env_python("torch-missing-dep")
    dists = probe(python, "distributions", tmp_path)
    marker_env = probe(python, "interpreter", tmp_path)["marker_env"]
    got = {(u.requirer, u.name): u for u in unsatisfied(dists, marker_env)}
    u = got[("torch", "typing-extensions")]
    assert u.reason == "missing" and u.installed is None
    assert ("torchvision", "torch") not in got  # 2.14.1 meets >=2.14.0


def test_cpu_torch_with_cuda_torchvision(tmp_path: Path) -> None:
    python = env_python("cpu-torch-cuda-tv")
    dists = probe(python, "distributions", tmp_path)
    marker_env = probe(python, "interpreter", tmp_path)["marker_env"]
    got = {(u.requirer, u.name): u for u in unsatisfied(dists, marker_env)}
    u = got[("torchvision", "torch")]
    assert (u.reason, u.requirer_version, u.installed, u.specifier) == (
        "version",
        "0.29.1",
        "2.13.0+cpu",
        ">=2.14.0",
    )
    tv = dists["version_py"]["torchvision"]
    assert tv["values"]["__version__"] == "0.29.1+cu130"
    # the real version.py sets ``cuda`` from the C extension at import time: it is not a
    # literal, so the CUDA version comes from the local tag
    assert tv["dynamic"] == ["cuda"] and tv["cuda_from_tag"] == "13.0"
    torch = dists["version_py"]["torch"]
    assert torch["values"]["__version__"] == "2.13.0+cpu" and torch["values"]["cuda"] is None
    res = probe(python, "resolution", tmp_path)
    for name in ("torch", "torchvision", "numpy", "PIL"):
        m = res["packages"][name]
        assert m["spec"]["entry_origin"] == "site" and m["installed"], name
    assert res["packages"]["torchvision"]["candidates"][0]["extensions"] == [
        "_C_stable.so",
        "image_stable.so",
    ]


def test_healthy_is_clean_and_fast(tmp_path: Path) -> None:
    python = env_python("healthy")
    dists = probe(python, "distributions", tmp_path)
    marker_env = probe(python, "interpreter", tmp_path)["marker_env"]
    assert unsatisfied(dists, marker_env) == []
    assert dists["duplicates"] == {}
    assert all(c["record"]["native_missing_count"] == 0 for cs in dists["focus"].values() for c in cs)
    for name in ("interpreter", "distributions", "resolution"):
        run = run_probe_sync(name, python, cwd=tmp_path)
        assert run.status == RunStatus.OK
        assert run.duration < 2.0, (name, run.duration)  # generous: CI machines are slow
