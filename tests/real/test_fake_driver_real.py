"""A real CUDA torch (2.14.1+cu130) against a stand-in NVIDIA driver: what a GPU box says.

``tests/fakedriver/fake_cuda.c`` is a libcuda.so.1 that the real CUDA runtime in torch's
wheels loads in place of the driver (found first on ``LD_LIBRARY_PATH``), and
``fake_nvml.c`` a libnvidia-ml.so.1 that tvwizard reads the machine's GPUs from
(``TVWIZARD_NVML``).  Together they make real torch fail the ways it fails on GPU servers —
a driver too old for the build, an unknown CUDA error, a driver that cannot initialise, no
device — and print *its own* warnings, which tvwizard must turn into the right root cause.
The kernel half of the driver (``/proc/driver/nvidia``, ``/dev/nvidia*``) is a folder of the
test's too (``TVWIZARD_DRIVER_ROOT``).  No GPU is needed; on a GPU machine the stand-ins
still win, so the results do not change.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from fakes import build_stand_in, fake_driver_root, live_probe, live_steps
from test_check_real import check, env_python, finding, tvwizard

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(
        not sys.platform.startswith("linux") or shutil.which("gcc") is None,
        reason="the stand-in driver is a Linux shared library built with gcc",
    ),
]

V100 = "gpu=Tesla V100-SXM2-16GB;GPU-5e2a1c3b-aaaa-bbbb-cccc-0123456789ab;7;0;17179869184;-1"
H100 = "gpu=NVIDIA H100 80GB HBM3;GPU-11111111-2222-3333-4444-555555555555;9;0;85899345920;0"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the stand-in libcuda.so.1 and libnvidia-ml.so.1."""
    out = tmp_path_factory.mktemp("fakedriver")
    for source, soname in (("fake_cuda.c", "libcuda.so.1"), ("fake_nvml.c", "libnvidia-ml.so.1")):
        build_stand_in(source, out / soname, soname)
    return out


def machine(
    driver: Path, tmp_path: Path, *, nvml: str, cuda_version: int = 13000, cuda_init: int = 0, hang: int = 0
) -> dict:
    """tvwizard's environment on a machine with this driver (NVML facts, libcuda behaviour)."""
    config = tmp_path / "nvml.conf"
    config.write_text(nvml + "\n")
    # the kernel half of the same driver: its module loaded, its device nodes there
    version = next(line.split("=", 1)[1] for line in nvml.splitlines() if line.startswith("driver="))
    root = fake_driver_root(tmp_path / "root", module=version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CUDA_", "NVIDIA_", "SLURM_"))}
    env.update(
        TVWIZARD_DRIVER_ROOT=str(root),
        LD_LIBRARY_PATH=str(driver),
        TVWIZARD_NVML=str(driver / "libnvidia-ml.so.1"),
        TVWIZARD_NVIDIA_SMI=str(tmp_path / "no-nvidia-smi"),
        FAKE_NVML_CONFIG=str(config),
        FAKE_CUDA_VERSION=str(cuda_version),
        FAKE_CUDA_INIT=str(cuda_init),
        FAKE_CUDA_HANG=str(hang),
        FAKE_CUDA_LOG=str(tmp_path / "cuda.log"),
    )
    return env


def cuda_step(data: dict) -> dict:
    return live_steps(data)["cuda"]["data"]


def test_driver_470_under_a_cuda_13_torch(driver: Path, tmp_path: Path) -> None:
    env = machine(driver, tmp_path, nvml=f"driver=470.82.01\ncuda=11040\n{V100}", cuda_version=11040)
    code, data = check(env_python("healthy"), tmp_path, env=env)
    # the stand-in really was the driver torch talked to
    assert "cuDriverGetVersion" in (tmp_path / "cuda.log").read_text()
    cuda = cuda_step(data)
    assert cuda["available"] is False
    warning = " ".join(w["message"] for w in cuda["warnings"])
    assert "The NVIDIA driver on your system is too old (found version 11040)" in warning  # torch's own words
    assert cuda["arch_list"] == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert cuda["cudnn"] and cuda["cudnn"] >= 90000  # read without a GPU
    gpu = data["system"]["gpu"]
    assert (gpu["source"], gpu["driver"], gpu["cuda_driver"]) == ("nvml", "470.82.01", "11.4")
    old = finding(data, "driver-too-old")
    assert old["severity"] == "error" and old["caused_by"] is None
    assert "Driver 470.82.01 supports CUDA 11.4" in old["title"] and "580.65.06" in old["title"]
    assert finding(data, "cuda-unavailable")["caused_by"] == "driver-too-old"
    # the V100 (7.0) has no kernels in cu130 (7.5+): predicted from the wheel's own list
    arch = finding(data, "gpu-arch-unsupported")
    assert "Tesla V100-SXM2-16GB" in arch["title"] and "too old" in arch["title"]
    # one build fits both the GPU and the driver, and both findings offer it first
    first = "Install torch 2.7.1+cu118 + torchvision 0.22.1+cu118"
    assert arch["fixes"][0]["title"] == first
    assert old["fixes"][0]["title"] == "Keep the driver; install torch 2.7.1+cu118 + torchvision 0.22.1+cu118"
    assert "--index-url https://download.pytorch.org/whl/cu118" in old["fixes"][0]["commands"][0]
    assert code == 1 and data["verdict"] == "broken"
    gpu_check = next(c for c in data["checks"] if c["id"] == "gpu")
    assert gpu_check["status"] == "error" and "driver 470.82.01, CUDA 11.4" in gpu_check["summary"]


@pytest.mark.parametrize(
    ("init", "torch_says", "fix"),
    [
        (999, "CUDA unknown error", "reload-nvidia-uvm"),
        (3, "CUDA driver initialization failed", "check-driver-in-this-process"),
        (304, "Error 304: OS call failed", "check-device-permissions"),
        (804, "Error 804: forward compatibility was attempted on non supported HW", "remove-cuda-compat"),
        (34, "Error 34: CUDA driver is a stub library", "remove-cuda-stubs"),
        (46, "Error 46: CUDA-capable device(s) is/are busy or unavailable", "free-busy-gpu"),
        (500, "Error 500: named symbol not found", "use-drivers-libcuda"),
    ],
)
def test_cuda_fails_to_start_on_a_gpu_machine(driver: Path, tmp_path: Path, init: int, torch_says: str, fix: str):
    env = machine(driver, tmp_path, nvml=f"driver=580.95.05\ncuda=13000\n{H100}", cuda_init=init)
    code, data = check(env_python("healthy"), tmp_path, env=env)
    warning = " ".join(w["message"] for w in cuda_step(data)["warnings"])
    assert torch_says in warning
    f = finding(data, "cuda-unavailable")
    assert f["severity"] == "error" and f["caused_by"] is None
    assert "Triggered internally" not in f["title"]
    summary = next(c for c in data["checks"] if c["id"] == "cuda")["summary"]
    assert summary.startswith("built for CUDA 13.0, not available: ") and "Triggered internally" not in summary
    assert any(e["detail"].startswith("kernel module ") for e in f["evidence"]) or init not in (999, 3)
    assert f["fixes"][0]["id"] == fix, f["title"]
    if init in (500, 34, 804):  # a wrong libcuda: the finding says which one loaded (the stand-in's)
        loader = [e["detail"] for e in f["evidence"] if e["fact"] == "loader"]
        assert loader and loader[0].startswith("libcuda.so.1 loads from ") and "LD_LIBRARY_PATH" in loader[0]
    assert not {"driver-too-old", "gpu-driver-missing", "gpu-arch-unsupported"} & {x["id"] for x in data["findings"]}
    assert code == 1


def test_no_device_for_this_process(driver: Path, tmp_path: Path) -> None:
    """cuInit says "no device" while NVML lists one: torch says nothing, tvwizard must not."""
    env = machine(driver, tmp_path, nvml=f"driver=580.95.05\ncuda=13000\n{H100}", cuda_init=100)
    env["SLURM_JOB_ID"] = "4242"
    code, data = check(env_python("healthy"), tmp_path, env=env)
    cuda = cuda_step(data)
    assert cuda["available"] is False and not cuda["warnings"]
    f = finding(data, "cuda-unavailable")
    assert f["fixes"][0]["id"] == "slurm-request-gpu" and "Slurm job 4242" in f["title"]
    assert code == 1


def test_a_hung_cuda_init_is_a_timeout_and_the_cpu_op_still_runs(driver: Path, tmp_path: Path) -> None:
    """cuInit never returns (a wedged driver): the cuda step ends at its limit, the rest goes on."""

    env = machine(driver, tmp_path, nvml=f"driver=580.95.05\ncuda=13000\n{H100}", hang=600)
    proc = tvwizard("--python", env_python("healthy"), "--timeout", "20", "check", "--json", cwd=tmp_path, env=env)
    data = json.loads(proc.stdout)
    live = live_probe(data)
    steps = live_steps(data)
    assert steps["cuda"]["status"] == "timeout" and steps["cuda"]["data"]["limit"] == 20
    assert steps["nms_cpu"]["status"] == "ok" and steps["nms_cpu"]["data"]["correct"] is True
    assert "is_available" in live["fault"]  # the dump shows torch waiting in the driver
    hang = finding(data, "op-timeout")
    assert hang["title"] == "Initialising CUDA never finished (killed after 20 s)"
    assert hang["fixes"][0]["id"] == "check-gpu-health"
    assert "cuda-unavailable" not in {f["id"] for f in data["findings"]}  # nothing invented from the interruption
    assert proc.returncode == 1 and live["duration"] < 60


def test_an_env_fix_that_removes_its_reason_while_another_remains(driver: Path, tmp_path: Path) -> None:
    """CUDA_VISIBLE_DEVICES='' hides the GPU *and* CUDA finds no device without it: `fix --apply`
    proves the unset with real torch, and says the fix did its part (not "would not help")."""
    env = machine(driver, tmp_path, nvml=f"driver=580.95.05\ncuda=13000\n{H100}", cuda_init=100)
    env["CUDA_VISIBLE_DEVICES"] = ""
    python = env_python("healthy")
    proc = tvwizard(
        "--python", python, "fix", "--apply", "--yes", "--finding", "cuda-unavailable", cwd=tmp_path, env=env
    )
    out = proc.stdout
    assert "Unset CUDA_VISIBLE_DEVICES" in out, out
    assert "what this fix is for is gone, but cuda-unavailable remains for another reason:" in out, out
    assert "would not help" not in out
    assert "unset CUDA_VISIBLE_DEVICES" in out  # the lines to keep
    assert proc.returncode == 1
