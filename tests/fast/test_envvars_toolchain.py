"""The envvars and toolchain probes, run for real in a subprocess with a controlled env."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from conftest import run_probe_sync

from tvwizard.model import RunStatus
from tvwizard.probes import envvars, toolchain

SECRET = "s3cret"
NVCC_OUTPUT = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
"""


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _everything(run) -> str:
    """All a ProbeRun carries: data, steps, log, fault, error."""
    return json.dumps(run.to_dict())


@pytest.fixture
def secret_env(tmp_path: Path) -> dict[str, str]:
    libdir = tmp_path / "lib"
    libdir.mkdir()
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp_path),
        "PIP_INDEX_URL": f"https://user:{SECRET}@host/simple",
        "PIP_EXTRA_INDEX_URL": "https://__token__:pypi-AgEIcHlwaS5vcmc@pypi.example.com/simple "
        "https://download.pytorch.org/whl/cu124",
        "UV_INDEX_URL": "https://oauth2accesstoken@gitlab.example.com/api/v4/projects/1/packages/pypi/simple",
        "UV_EXTRA_INDEX_URL": "https://host.example/simple?private_token=glpat-XXXXXXXX",
        "FOO_TOKEN": "tok-value-9f8e7d",
        "CUDA_API_KEY": "cuda-key-value-1234",  # allowlisted by pattern, secret by name
        "TORCH_HUB_TOKEN": "hub-token-value-5678",
        "MY_PRIVATE_THING": "hunter2-not-allowlisted",
        "LD_LIBRARY_PATH": f"{libdir}:{tmp_path / 'no-such-dir'}:",
        "LD_PRELOAD": f"{tmp_path / 'libnothere.so'}",
        "CUDA_HOME": str(tmp_path / "missing-cuda"),
        "CUDA_VISIBLE_DEVICES": "1",
        "PYTHONNOUSERSITE": "1",
    }


# -- envvars ---------------------------------------------------------------------------------


def _check_envvars(run, tmp_path: Path) -> None:
    assert run.status == RunStatus.OK, (run.error, run.fault)
    everything = _everything(run)
    for leaked in (
        SECRET,
        "pypi-AgEIcHlwaS5vcmc",
        "oauth2accesstoken",
        "glpat-XXXXXXXX",
        "tok-value-9f8e7d",
        "FOO_TOKEN",
        "CUDA_API_KEY",
        "cuda-key-value-1234",
        "TORCH_HUB_TOKEN",
        "hub-token-value-5678",
        "MY_PRIVATE_THING",
        "hunter2",
    ):
        assert leaked not in everything, leaked
    vars_ = run.data["vars"]
    assert vars_["PIP_INDEX_URL"] == {"value": "https://***@host/simple", "kind": "url", "redacted": True}
    assert vars_["PIP_EXTRA_INDEX_URL"]["value"] == (
        "https://***@pypi.example.com/simple https://download.pytorch.org/whl/cu124"
    )
    assert vars_["UV_EXTRA_INDEX_URL"]["value"] == "https://host.example/simple?private_token=***"
    assert run.data["withheld"] == 2  # CUDA_API_KEY, TORCH_HUB_TOKEN
    assert run.data["not_allowlisted"] >= 3  # HOME, FOO_TOKEN, MY_PRIVATE_THING (+ what python adds)

    ld = vars_["LD_LIBRARY_PATH"]
    assert ld["kind"] == "pathlist"
    assert [e["type"] for e in ld["entries"]] == ["dir", "missing", "empty"]
    assert ld["missing"] == [str(tmp_path / "no-such-dir")]
    assert ld["empty_entries"] == 1
    assert vars_["LD_PRELOAD"]["missing"] == [str(tmp_path / "libnothere.so")]
    assert vars_["CUDA_HOME"]["kind"] == "path"
    assert vars_["CUDA_HOME"]["path"]["type"] == "missing"
    assert vars_["CUDA_VISIBLE_DEVICES"] == {"value": "1", "kind": "plain", "redacted": False}
    assert vars_["PATH"]["kind"] == "pathlist"
    paths = run.step("paths")
    assert paths is not None and paths.status == "ok"
    assert set(paths.data["missing"]) == {"LD_LIBRARY_PATH", "LD_PRELOAD", "CUDA_HOME"}


def test_envvars_redacts_and_checks_paths(tmp_path: Path, secret_env: dict[str, str]) -> None:
    run = run_probe_sync("envvars", env=secret_env, cwd=tmp_path)
    _check_envvars(run, tmp_path)


def test_envvars_under_python38(py38: str, tmp_path: Path, secret_env: dict[str, str]) -> None:
    run = run_probe_sync("envvars", python=py38, env=secret_env, cwd=tmp_path)
    _check_envvars(run, tmp_path)


@pytest.mark.parametrize(
    ("raw", "expected", "changed"),
    [
        ("https://user:pw@host/simple", "https://***@host/simple", True),
        ("https://host/simple", "https://host/simple", False),
        ("https://a@b:p@ss@host:8443/x#frag", "https://***@host:8443/x#frag", True),
        ("http://host/simple?token=abc&x", "http://host/simple?token=***&x", True),
        ("user:pw@host/simple", "***@host/simple", True),
        ("internal=https://u:p@h/simple", "internal=https://***@h/simple", True),
        ("/opt/wheels", "/opt/wheels", False),
        ("", "", False),
    ],
)
def test_scrub(raw: str, expected: str, changed: bool) -> None:
    assert envvars.scrub(raw) == (expected, changed)


def test_secret_names() -> None:
    for name in ("FOO_TOKEN", "cuda_api_key", "TORCH_PASSWORD", "CONDA_CREDENTIALS", "PYTORCH_SECRET_X"):
        assert envvars.is_secret_name(name), name
    for name in ("PATH", "CUDA_HOME", "PIP_INDEX_URL", "CONDA_PREFIX"):
        assert not envvars.is_secret_name(name), name
    assert envvars.is_allowlisted("CONDA_DEFAULT_ENV")
    assert envvars.is_allowlisted("TORCHVISION_WARN_WHEN_EXTENSION_LOADING_FAILS")
    assert not envvars.is_allowlisted("HF_HOME")
    assert not envvars.is_allowlisted("HOME")


# -- toolchain -------------------------------------------------------------------------------


@pytest.fixture
def fake_tools(tmp_path: Path) -> dict[str, str]:
    """A bin dir first on PATH with a fake nvcc, a gcc that hangs, and a CUDA_HOME tree."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _script(bindir / "nvcc", f"cat <<'EOF'\n{NVCC_OUTPUT}EOF\n")
    _script(bindir / "gcc", "sleep 30\necho never\n")
    _script(bindir / "ld", 'echo "GNU ld (GNU Binutils for Ubuntu) 2.42"\n')
    home = tmp_path / "cuda-12.6"
    (home / "bin").mkdir(parents=True)
    (home / "lib64").mkdir()
    _script(home / "bin" / "nvcc", f"cat <<'EOF'\n{NVCC_OUTPUT.replace('12.4', '12.6')}EOF\n")
    (home / "version.json").write_text(json.dumps({"cuda": {"name": "CUDA SDK", "version": "12.6.3"}}))
    return {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(tmp_path),
        "CUDA_HOME": str(home),
    }


def _check_toolchain(run, env: dict[str, str], elapsed: float) -> None:
    assert run.status == RunStatus.OK, (run.error, run.fault)
    assert elapsed < 15, elapsed  # the hanging gcc cost ~1 s, not 30
    tools = run.data["tools"]
    nvcc = tools["nvcc"]
    assert nvcc["found"] and nvcc["path"].startswith(env["PATH"].split(os.pathsep)[0])
    assert nvcc["cuda_release"] == "12.4"
    assert nvcc["cuda_build"] == "V12.4.131"
    assert nvcc["version"] == "12.4"
    assert nvcc["first_line"] == "nvcc: NVIDIA (R) Cuda compiler driver"
    gcc = tools["gcc"]
    assert gcc["found"] and gcc["timed_out"] is True
    assert gcc["version"] is None
    assert tools["ld"]["version"] == "2.42"
    assert set(tools) == set(toolchain.TOOLS)
    home = run.data["cuda_env"]["CUDA_HOME"]
    assert home["set"] and home["exists"] and home["is_dir"] and home["lib64"]
    assert home["nvcc"] == os.path.join(env["CUDA_HOME"], "bin", "nvcc")
    assert home["version_file"] == "12.6.3"
    assert home["nvcc_tool"]["cuda_release"] == "12.6"  # not the nvcc on PATH: run as well
    assert run.data["cuda_env"]["CUDA_PATH"] == {"set": False}
    step = run.step("versions")
    assert step is not None and "gcc" in step.data["timed_out"]
    assert any("no answer" in line.text for line in run.log)


def test_toolchain_fake_tools(tmp_path: Path, fake_tools: dict[str, str]) -> None:
    start = time.monotonic()
    run = run_probe_sync("toolchain", env=fake_tools, cwd=tmp_path, options={"timeout": 1.0})
    _check_toolchain(run, fake_tools, time.monotonic() - start)


def test_toolchain_under_python38(py38: str, tmp_path: Path, fake_tools: dict[str, str]) -> None:
    start = time.monotonic()
    run = run_probe_sync("toolchain", python=py38, env=fake_tools, cwd=tmp_path, options={"timeout": 1.0})
    _check_toolchain(run, fake_tools, time.monotonic() - start)


def test_toolchain_missing_tools(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = run_probe_sync("toolchain", env={"PATH": str(empty)}, cwd=tmp_path, options={"timeout": 1.0})
    assert run.status == RunStatus.OK, (run.error, run.fault)
    for name in toolchain.TOOLS:
        assert run.data["tools"][name]["found"] is False
    assert run.data["cuda_env"]["CUDA_HOME"] == {"set": False}
    if sys.platform != "win32":
        assert "exists" in run.data["usr_local_cuda"]


@pytest.mark.parametrize(
    ("line", "version"),
    [
        ("gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0", "11.4.0"),
        ("Ubuntu clang version 14.0.0-1ubuntu1.1", "14.0.0"),
        ("Apple clang version 15.0.0 (clang-1500.1.0.2.5)", "15.0.0"),
        ("GNU ld (GNU Binutils for Ubuntu) 2.38", "2.38"),
        ("ldd (Ubuntu GLIBC 2.35-0ubuntu3.8) 2.35", "2.35"),
        ("musl libc (x86_64)", None),
        ("", None),
    ],
)
def test_parse_version(line: str, version: str | None) -> None:
    assert toolchain.parse_version(line) == version


def test_parse_nvcc() -> None:
    assert toolchain.parse_nvcc(NVCC_OUTPUT) == ("12.4", "V12.4.131")
    assert toolchain.parse_nvcc("nothing") == (None, None)
