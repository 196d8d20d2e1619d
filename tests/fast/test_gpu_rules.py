"""GPU findings on synthetic evidence, and once end to end through the CLI.

The failures: docs/knowledge.md, "Failure facts: Driver too old, no kernel image …".

The host GPU facts (``Evidence.system["gpu"]``) are built with the real
:func:`tvwizard.gpu.collect_gpus` from fake drivers (a fake NVML layer or a fake
``nvidia-smi`` script), so the shapes are the ones the rules really get.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEnv, check_json_with, fake_driver_root, fake_env_vars, live_steps, smi_box_env
from test_system_gpu import A100, HEADER, K80, NO_DRIVER, RTX4090, FakeNVML, fake_smi

from tvwizard.diagnosis.checks import build_checks
from tvwizard.diagnosis.engine import diagnose
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.gpu import arch_covers
from tvwizard.gpu import collect_gpus
from tvwizard.model import Finding, ProbeRun, RunStatus, Severity, StepResult, Target

PY = "/envs/ml/bin/python"
NO_SMI: dict[str, str] = {"PATH": "/nonexistent"}

H200 = {"name": "NVIDIA H200", "uuid": "GPU-cccccccc-0000-0000-0000-000000000000", "cc": (9, 0), "mem": 143771 << 20}
RTX3090 = {
    "name": "NVIDIA GeForce RTX 3090",
    "uuid": "GPU-dddddddd-0000-0000-0000-0000",
    "cc": (8, 6),
    "mem": 24576 << 20,
}


# -- building evidence ---------------------------------------------------------------------


_HEALTHY_ROOT: list[Path] = []


def healthy_root() -> Path:
    if not _HEALTHY_ROOT:
        _HEALTHY_ROOT.append(fake_driver_root(Path(tempfile.mkdtemp(prefix="tvw-root-"))))
    return _HEALTHY_ROOT[0]


def gpu_facts(nvml: Any = False, env: dict[str, str] | None = None, root: Path | None = None) -> dict[str, Any]:
    """Real collect_gpus output from a fake driver (nvidia-smi never found unless env says).

    The kernel side is a fake root too (default: module 580.95.05 loaded, every node there),
    so the host's own /dev never decides a test.
    """
    return collect_gpus(
        nvml=nvml, env=env if env is not None else NO_SMI, smi_dirs=(), root=str(root or healthy_root())
    )


def no_driver_facts(tmp_path: Path | None = None) -> dict[str, Any]:
    """No driver: NVML missing, no kernel module or device nodes and, with tmp_path, an
    nvidia-smi that cannot reach the driver."""
    bare = Path("/nonexistent/tvwizard-root")
    if tmp_path is None:
        return gpu_facts(FakeNVML(init_error=12), root=bare)
    fake_smi(tmp_path / "bin", fail=NO_DRIVER, rc=9)
    return gpu_facts(FakeNVML(init_error=12), env={"PATH": str(tmp_path / "bin")}, root=bare)


def dists(torch: str = "2.14.1", tv: str = "0.29.1", cuda: str | None = "13.0", tag: str = "+cu130") -> dict:
    return {
        "locations": ["/envs/ml/lib/python3.11/site-packages"],
        "dists": [
            {"name": "torch", "version": torch, "loc": 0, "requires": [], "installer": "pip"},
            {"name": "torchvision", "version": tv, "loc": 0, "requires": [], "installer": "pip"},
            {"name": "nvidia-cublas", "version": "13.0.0.19", "loc": 0, "requires": [], "installer": "pip"},
        ],
        "duplicates": {},
        "version_py": {
            "torch": {"values": {"__version__": torch + tag, "cuda": cuda}},
            "torchvision": {"values": {"__version__": tv + tag}},
        },
    }


def cuda_step(
    available: bool,
    devices: list[tuple[str, str]] = (),
    arch: list[str] | None = None,
    warning: str = "",
    built_with: str = "13.0",
) -> tuple[str, str, dict]:
    data: dict[str, Any] = {
        "built_with": built_with,
        "hip": None,
        "available": available,
        "warnings": [{"category": "UserWarning", "message": warning}] if warning else [],
        "arch_list": arch
        if arch is not None
        else (["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"] if available else []),
        "count": len(devices),
        "devices": [{"index": i, "name": n, "capability": cc} for i, (n, cc) in enumerate(devices)],
    }
    return ("cuda", "ok", data)


def live(
    *steps: tuple[str, str, dict], version: str = "2.14.1+cu130", cuda: str | None = "13.0", tv: str = "0.29.1+cu130"
) -> ProbeRun:
    first = [
        ("import_torch", "ok", {"ok": True, "version": version, "cuda": cuda, "hip": None}),
        ("import_torchvision", "ok", {"ok": True, "version": tv, "cuda": cuda}),
    ]
    return ProbeRun(
        "live",
        "live",
        RunStatus.OK,
        data={"cwd": "/work"},
        steps=[StepResult(n, s, 0.1, d) for n, s, d in [*first, *steps]],
    )


def make_ev(
    *,
    gpu: dict[str, Any] | None = None,
    live_run: ProbeRun | None = None,
    dist: dict | None = None,
    toolchain: dict | None = None,
    env: dict[str, str] | None = None,
    system: dict[str, Any] | None = None,
) -> Evidence:
    target = Target(python=PY, version="3.11.7", prefix="/envs/ml", env_kind="venv", cwd="/work")
    probes = {"distributions": ProbeRun("distributions", "distributions", RunStatus.OK, data=dist or dists())}
    if live_run is not None:
        probes["live"] = live_run
    if toolchain is not None:
        probes["toolchain"] = ProbeRun("toolchain", "toolchain", RunStatus.OK, data=toolchain)
    sysfacts = dict(system or {})
    if gpu is not None:
        sysfacts["gpu"] = gpu
    return Evidence(target=target, probes=probes, system=sysfacts, env=dict(env or {}))


def by_id(found: list[Finding], fid: str) -> Finding:
    hits = [f for f in found if f.id == fid]
    assert hits, f"no {fid} in {[f.id for f in found]}"
    return hits[0]


def ids(found: list[Finding]) -> list[str]:
    return [f.id for f in found]


GPU_IDS = {"gpu-driver-missing", "driver-too-old", "gpu-arch-unsupported", "cuda-unavailable", "cuda-build-without-gpu"}


def gpu_ids(found: list[Finding]) -> set[str]:
    return set(ids(found)) & GPU_IDS


# -- arch-list arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cc", "arch", "covered"),
    [
        ((8, 6), ["sm_80"], "sm_80"),  # same major, newer minor: the sm_80 cubin runs
        ((8, 0), ["sm_86"], None),  # ... but not the other way round
        ((9, 0), ["sm_80", "sm_86"], None),  # another major needs PTX
        ((9, 0), ["sm_80", "compute_80"], "compute_80"),  # PTX is JIT-compiled forward
        ((12, 0), ["sm_90", "compute_90"], "compute_90"),
        ((7, 5), ["compute_80"], None),  # PTX never runs backwards
        ((9, 0), ["sm_90a"], "sm_90a"),
        ((10, 0), ["sm_90a"], None),  # arch-specific cubins run only on exactly that arch
        ((3, 7), ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80"], None),
        ((10, 0), ["sm_100"], "sm_100"),
        ((12, 1), ["sm_120"], "sm_120"),
    ],
)
def test_arch_covers(cc: tuple[int, int], arch: list[str], covered: str | None) -> None:
    assert arch_covers(cc, arch) == covered


# -- gpu-driver-missing / cuda-build-without-gpu --------------------------------------------


def test_no_driver_with_nvidia_smi_installed_is_an_error(tmp_path: Path) -> None:
    e = make_ev(gpu=no_driver_facts(tmp_path), live_run=live(cuda_step(False)))
    found = diagnose(e)
    f = by_id(found, "gpu-driver-missing")
    assert f.severity is Severity.ERROR
    assert "No NVIDIA driver" in f.title and "2.14.1+cu130" in f.title
    assert "580.65.06" in f.explanation  # the driver this cu130 build needs
    assert any("nvidia-smi is installed" in e.detail for e in f.evidence)
    assert "(nvidia-smi is installed (" in f.explanation and "couldn't communicate" not in f.explanation
    assert (
        f.fixes[0].id == "upgrade-driver"
        and f.fixes[0].title == "Install or load the NVIDIA driver (580.65.06 or newer)"
    )
    assert any(fx.id == "install-cpu-pair" for fx in f.fixes)
    assert "cuda-build-without-gpu" not in ids(found) and "cuda-unavailable" not in ids(found)


def test_no_driver_with_cuda_visible_devices_set_is_an_error() -> None:
    e = make_ev(gpu=no_driver_facts(), env={"CUDA_VISIBLE_DEVICES": "0"})
    f = by_id(diagnose(e), "gpu-driver-missing")
    assert any("CUDA_VISIBLE_DEVICES=0" in e.detail for e in f.evidence)


def test_no_driver_in_a_container_suggests_gpus_all() -> None:
    e = make_ev(
        gpu=no_driver_facts(),
        env={"NVIDIA_VISIBLE_DEVICES": "all"},
        system={"container": {"detected": True, "kind": "docker", "hints": []}},
    )
    f = by_id(diagnose(e), "gpu-driver-missing")
    assert f.fixes[0].id == "container-gpu-access"  # one id for the one fix (it had two)


def test_no_gpu_at_all_with_a_cuda_build_is_info_with_the_cpu_pair() -> None:
    e = make_ev(gpu=no_driver_facts(), live_run=live(cuda_step(False)), env={"CUDA_VISIBLE_DEVICES": ""})
    found = diagnose(e)
    assert gpu_ids(found) == {"cuda-build-without-gpu"}
    f = by_id(found, "cuda-build-without-gpu")
    assert f.severity is Severity.INFO
    fix = f.fixes[0]
    assert fix.id == "install-cpu-pair" and fix.download == "about 200 MB"
    assert fix.commands[0] == (
        f"{PY} -m pip install torch==2.14.1+cpu torchvision==0.29.1+cpu --index-url https://download.pytorch.org/whl/cpu"
    )
    assert fix.commands[1] == f"{PY} -m pip uninstall -y nvidia-cublas"


def test_conda_owned_torch_gets_a_cpu_pair_that_keeps_the_variant_and_is_not_run_by_apply() -> None:
    """conda owns torch: the fix is a conda command that keeps +cpu, shown but never run by --apply."""
    data = dists()
    for d in data["dists"][:2]:
        d["installer"] = "conda"
    data["conda"] = {"records": [{"name": "pytorch", "version": "2.14.1", "channel": "conda-forge"}]}
    e = make_ev(gpu=no_driver_facts(), live_run=live(cuda_step(False)), dist=data, env={"CUDA_VISIBLE_DEVICES": ""})
    fix = by_id(diagnose(e), "cuda-build-without-gpu").fixes[0]
    assert fix.id == "install-cpu-pair"
    assert fix.applicable is False and "conda owns torch" in fix.why
    assert fix.argv[0][:5] == ["conda", "install", "--prefix", "/envs/ml", "--channel"]
    assert "pytorch=2.14.1=*cpu*" in fix.argv[0] and "torchvision=0.29.1=*cpu*" in fix.argv[0]


def test_driver_without_gpus_is_info() -> None:
    facts = gpu_facts(FakeNVML(driver="550.54.15", cuda=12040, devices=[]))
    assert facts["state"] == "no-gpu"
    found = diagnose(make_ev(gpu=facts))
    assert gpu_ids(found) == {"cuda-build-without-gpu"}
    assert "550.54.15" in by_id(found, "cuda-build-without-gpu").explanation


def test_cpu_build_without_gpu_says_nothing() -> None:
    e = make_ev(gpu=no_driver_facts(), dist=dists(cuda=None, tag="+cpu"))
    assert gpu_ids(diagnose(e)) == set()


# -- driver-too-old ---------------------------------------------------------------------------

TOO_OLD = (
    "CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please update "
    "your GPU driver by downloading and installing a new version from the URL: "
    "http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch "
    "version that has been compiled with your version of the CUDA driver. (Triggered internally at "
    "/__w/pytorch/pytorch/c10/cuda/CUDAFunctions.cpp:119.)"
)  # real torch 2.14.1+cu130's words against a driver that reports CUDA 11.4


def test_torchs_warning_reads_as_the_sentence_a_person_needs() -> None:
    from tvwizard.facts.evidence import brief, clean_torch_warning

    clean = clean_torch_warning(TOO_OLD)
    assert clean.startswith("The NVIDIA driver on your system is too old (found version 11040).")
    assert clean.endswith("compiled with your version of the CUDA driver.")
    # cut short where it was bounded (400 characters), the source-file suffix still goes
    assert clean_torch_warning(TOO_OLD[:420]) == clean
    assert brief(clean, 120) == "The NVIDIA driver on your system is too old (found version 11040)."
    assert brief("no sentence end here at all", 12) == "no sentence…"
    assert brief("short", 12) == "short"


def test_driver_470_with_cu130_torch() -> None:
    facts = gpu_facts(FakeNVML(driver="470.82.01", cuda=11040, devices=[RTX3090]))
    e = make_ev(gpu=facts, live_run=live(cuda_step(False, warning=TOO_OLD)))
    found = diagnose(e)
    f = by_id(found, "driver-too-old")
    assert f.severity is Severity.ERROR
    assert f.title == "Driver 470.82.01 supports CUDA 11.4; torch 2.14.1+cu130 needs CUDA 13.0 (driver ≥ 580.65.06)"
    pair = f.fixes[0]
    assert pair.id == "install-pair-for-driver"
    assert "torch==2.7.1+cu118" in pair.commands[0] and "torchvision==0.22.1+cu118" in pair.commands[0]
    assert pair.commands[0].endswith("--index-url https://download.pytorch.org/whl/cu118")
    assert "minor-version compatibility" in pair.why and "450.80.02" in pair.why
    assert f.fixes[1].id == "upgrade-driver" and "580.65.06" in f.fixes[1].title
    # is_available() is False because of the driver: a symptom of it, not another root
    unavailable = by_id(found, "cuda-unavailable")
    assert unavailable.caused_by == "driver-too-old"
    assert found.index(unavailable) == found.index(f) + 1
    live_ev = [x.detail for x in f.evidence + unavailable.evidence if x.probe == "live" and x.fact == "cuda"]
    assert live_ev and all(d.startswith("The NVIDIA driver") and "Triggered" not in d for d in live_ev)
    cuda_check = next(c for c in build_checks(e, found) if c.id == "cuda")
    assert cuda_check.summary == (
        "built for CUDA 13.0, not available: The NVIDIA driver on your system is too old (found version 11040)."
    )


def test_driver_too_old_from_torch_alone() -> None:
    """No host facts (NVML and nvidia-smi both missing here): torch's warning is enough."""
    e = make_ev(live_run=live(cuda_step(False, warning=TOO_OLD)))
    f = by_id(diagnose(e), "driver-too-old")
    assert "supports CUDA 11.4" in f.title and f.severity is Severity.ERROR


def test_same_major_newer_minor_is_a_warning() -> None:
    facts = gpu_facts(FakeNVML(driver="535.104.05", cuda=12020, devices=[A100]))
    e = make_ev(
        gpu=facts,
        dist=dists("2.14.1", "0.29.1", "12.6", "+cu126"),
        live_run=live(
            cuda_step(True, [("NVIDIA A100-SXM4-80GB", "8.0")], built_with="12.6"),
            version="2.14.1+cu126",
            cuda="12.6",
            tv="0.29.1+cu126",
        ),
    )
    found = diagnose(e)
    f = by_id(found, "driver-too-old")
    assert f.severity is Severity.WARNING
    assert f.title.endswith("is built for CUDA 12.6 (fully supported from driver 560.28.03)")
    assert "minor-version compatibility" in f.explanation
    assert f.fixes[0].id == "upgrade-driver"
    # the other fix stays within what the driver fully supports, and is not the installed build
    assert all("+cu126" not in c and "+cu128" not in c for fx in f.fixes for c in fx.commands)
    assert "cuda-unavailable" not in ids(found) and "gpu-arch-unsupported" not in ids(found)


def test_new_enough_driver_says_nothing() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[H200, H200]))
    e = make_ev(gpu=facts, live_run=live(cuda_step(True, [("NVIDIA H200", "9.0")] * 2)))
    found = diagnose(e)
    assert gpu_ids(found) == set()
    gpu_line = next(c for c in build_checks(e, found) if c.id == "gpu")
    assert gpu_line.summary == "2 × NVIDIA H200 (9.0), driver 580.95.05, CUDA 13.0"


# -- gpu-arch-unsupported ---------------------------------------------------------------------


def test_kepler_37_missing_from_the_arch_list() -> None:
    """A K80 on its last driver (R470, CUDA 11.4): the cu118 wheels still carry sm_37."""
    facts = gpu_facts(FakeNVML(driver="470.82.01", cuda=11040, devices=[K80]))
    e = make_ev(gpu=facts, live_run=live(cuda_step(True, [("Tesla K80", "3.7")])))
    f = by_id(diagnose(e), "gpu-arch-unsupported")
    assert f.severity is Severity.ERROR
    assert "Tesla K80" in f.title and "3.7" in f.title and "too old" in f.title
    assert "cuda:0 (Tesla K80) with compute capability 3.7 is not among them" in f.explanation
    assert "get_arch_list" in f.evidence[0].detail
    fix = f.fixes[0]
    assert fix.id == "install-pair-for-gpu" and fix.title == "Install torch 2.7.1+cu118 + torchvision 0.22.1+cu118"
    assert "whl/cu118" in fix.commands[0]
    assert any(fx.id == "install-cpu-pair" for fx in f.fixes)


def test_a_gpu_no_official_wheel_carries() -> None:
    """Compute capability 3.0 (GTX 680): no wheel in the data has kernels for it."""
    gtx680 = {
        "name": "NVIDIA GeForce GTX 680",
        "uuid": "GPU-ffffffff-0000-0000-0000-0000",
        "cc": (3, 0),
        "mem": 2 << 30,
    }
    facts = gpu_facts(FakeNVML(driver="470.82.01", cuda=11040, devices=[gtx680]))
    e = make_ev(gpu=facts, live_run=live(cuda_step(True, [("NVIDIA GeForce GTX 680", "3.0")])))
    f = by_id(diagnose(e), "gpu-arch-unsupported")
    assert f.fixes[0].id == "no-build-for-gpu"
    assert any(fx.id == "install-cpu-pair" for fx in f.fixes)


def test_86_is_covered_by_sm_80() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[RTX3090]))
    e = make_ev(
        gpu=facts, live_run=live(cuda_step(True, [("NVIDIA GeForce RTX 3090", "8.6")], arch=["sm_80", "sm_90"]))
    )
    assert "gpu-arch-unsupported" not in ids(diagnose(e))


def test_pascal_with_cu130_predicted_without_torch_and_cu126_suggested() -> None:
    """torch did not import: the build's CUDA 13.0 cannot target 6.1 at all."""
    gtx = {"name": "NVIDIA GeForce GTX 1080", "uuid": "GPU-eeeeeeee-0000-0000-0000-0000", "cc": (6, 1), "mem": 8 << 30}
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[gtx]))
    f = by_id(diagnose(make_ev(gpu=facts)), "gpu-arch-unsupported")
    assert f.severity is Severity.ERROR
    assert "CUDA 13.0 cannot build code for compute capability below 7.5" in f.evidence[0].detail
    fix = f.fixes[0]
    assert fix.id == "install-pair-for-gpu" and "+cu126" in fix.commands[0] and "whl/cu126" in fix.commands[0]


def test_hidden_unsupported_gpu_is_not_a_finding() -> None:
    """Two GPUs, CUDA_VISIBLE_DEVICES=1: the K80 (index 0) is hidden, only the A100 is used."""
    facts = gpu_facts(
        FakeNVML(driver="580.95.05", cuda=13000, devices=[K80, A100]), env={**NO_SMI, "CUDA_VISIBLE_DEVICES": "1"}
    )
    assert facts["gpus"][0]["visible"] is False and facts["gpus"][1]["cuda_index"] == 0
    # without torch (prediction from host facts) ...
    assert "gpu-arch-unsupported" not in ids(diagnose(make_ev(gpu=facts)))
    # ... and with torch, which only sees the A100 as cuda:0
    e = make_ev(gpu=facts, live_run=live(cuda_step(True, [("NVIDIA A100-SXM4-80GB", "8.0")])))
    assert gpu_ids(diagnose(e)) == set()
    # the same two GPUs, both visible: the K80 is named
    both = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[K80, A100]))
    assert "Tesla K80" in by_id(diagnose(make_ev(gpu=both)), "gpu-arch-unsupported").title


def test_newer_gpu_than_the_toolkit_is_only_a_warning_when_predicted() -> None:
    b200 = {"name": "NVIDIA RTX PRO 6000", "uuid": "GPU-ffffffff-0000-0000-0000-0000", "cc": (12, 0), "mem": 96 << 30}
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[b200]))
    f = by_id(diagnose(make_ev(gpu=facts, dist=dists("2.14.1", "0.29.1", "12.6", "+cu126"))), "gpu-arch-unsupported")
    assert f.severity is Severity.WARNING and "too new" in f.title
    assert "+cu130" in f.fixes[0].commands[0]


def test_no_kernel_image_at_nms_names_the_cause() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[K80]))
    err = {
        "type": "RuntimeError",
        "message": "CUDA error: no kernel image is available for execution on the device",
        "traceback": "",
    }
    run = live(
        cuda_step(True, [("Tesla K80", "3.7")]),
        ("nms_cpu", "ok", {"device": "cpu", "keep": [0, 2, 3, 5], "expected": [0, 2, 3, 5], "correct": True}),
        ("nms_cuda:0", "error", {"device": "cuda:0", "error": err}),
    )
    found = diagnose(make_ev(gpu=facts, live_run=run))
    root = by_id(found, "gpu-arch-unsupported")
    op = by_id(found, "op-failed")
    assert op.caused_by == "gpu-arch-unsupported" and found.index(op) > found.index(root)
    assert any(e.fact == "nms_cuda:0" for e in root.evidence)


def test_no_kernel_image_only_in_torchvision_blames_torchvision() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[H200]))
    err = {"type": "RuntimeError", "message": "CUDA error: no kernel image is available for execution on the device"}
    run = live(cuda_step(True, [("NVIDIA H200", "9.0")]), ("nms_cuda:0", "error", {"device": "cuda:0", "error": err}))
    f = by_id(diagnose(make_ev(gpu=facts, live_run=run)), "gpu-arch-unsupported")
    assert f.title.startswith("torchvision 0.29.1+cu130 has no GPU kernels")
    assert f.fixes[0].id == "install-paired-torchvision"


# -- cuda-unavailable --------------------------------------------------------------------------


def test_gpu_present_but_unavailable_gives_the_reason() -> None:
    warning = (
        "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before "
        "calling NumCudaDevices() that might have already set an error? Error 804: forward compatibility was "
        "attempted on non supported HW"
    )
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[RTX4090]))
    f = by_id(diagnose(make_ev(gpu=facts, live_run=live(cuda_step(False, warning=warning)))), "cuda-unavailable")
    assert f.severity is Severity.ERROR and f.caused_by is None
    assert "forward-compatibility" in f.title
    assert f.fixes[0].id == "remove-cuda-compat"
    assert any("Error 804" in e.detail for e in f.evidence)


def test_a_libcuda_without_the_runtimes_functions_is_named_with_where_it_loads_from() -> None:
    """Error 500 (named symbol not found): torch 2.14.1's words against a libcuda that lacks an entry
    point (the stand-in libcuda gives it for real); the finding says which libcuda.so.1 loaded."""
    warning = (
        "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before "
        "calling NumCudaDevices() that might have already set an error? Error 500: named symbol not found "
        "(Triggered internally at /__w/pytorch/pytorch/c10/cuda/CUDAFunctions.cpp:119.)"
    )
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[A100]))
    ev = make_ev(gpu=facts, live_run=live(cuda_step(False, warning=warning)))
    needed = [
        {"name": "libc10.so", "found": True, "path": "/envs/ml/torch/lib/libc10.so", "via": "rpath"},
        {"name": "libcuda.so.1", "found": True, "path": "/opt/old-driver/libcuda.so.1", "via": "ld_library_path"},
    ]
    native = {"packages": {"torch": {"files": [{"file": "torch/lib/libtorch_cuda.so", "needed": needed}]}}}
    ev.probes["native"] = ProbeRun("native", "native", RunStatus.OK, data=native)
    f = by_id(diagnose(ev), "cuda-unavailable")
    assert "lacks a function torch's CUDA runtime needs" in f.title
    assert f.fixes[0].id == "use-drivers-libcuda"
    loader = [e.detail for e in f.evidence if (e.probe, e.fact) == ("native", "loader")]
    assert loader == ["libcuda.so.1 loads from /opt/old-driver/libcuda.so.1 (found through LD_LIBRARY_PATH)"]


# torch 2.14.1+cu130's own words, recorded with the stand-in libcuda (tests/fakedriver/fake_cuda.c)
UNKNOWN_ERROR = (
    "CUDA initialization: CUDA unknown error - this may be due to an incorrectly set up environment, e.g. "
    "changing env variable CUDA_VISIBLE_DEVICES after program start. Setting the available devices to be zero. "
    "(Triggered internally at /__w/pytorch/pytorch/c10/cuda/CUDAFunctions.cpp:119.)"
)
INIT_FAILED = (
    "CUDA initialization: CUDA driver initialization failed, you might not have a CUDA gpu. "
    "(Triggered internally at /__w/pytorch/pytorch/c10/cuda/CUDAFunctions.cpp:119.)"
)


def _unavailable(tmp_path: Path | None, warning: str, env: dict[str, str] | None = None, **root: Any) -> Finding:
    where = fake_driver_root(tmp_path, **root) if tmp_path is not None else None
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[H200]), root=where)
    e = make_ev(gpu=facts, live_run=live(cuda_step(False, warning=warning)), env=env)
    return by_id(diagnose(e), "cuda-unavailable")


def test_unknown_error_with_nvidia_uvm_missing(tmp_path: Path) -> None:
    f = _unavailable(tmp_path, UNKNOWN_ERROR, nodes=("nvidiactl", "nvidia0"))
    assert "/dev/nvidia-uvm is missing" in f.title and f.fixes[0].id == "load-nvidia-uvm"
    assert "Triggered internally" not in f.title


def test_unknown_error_with_every_node_there() -> None:
    f = _unavailable(None, UNKNOWN_ERROR)
    assert f.title.startswith("The GPU is there but torch cannot use it: CUDA failed to start with an unknown error")
    assert f.fixes[0].id == "reload-nvidia-uvm"


def test_init_failed_in_a_container_without_the_device_nodes(tmp_path: Path) -> None:
    f = _unavailable(tmp_path, INIT_FAILED, module=None, nodes=())
    assert "not in this process's view" in f.title and f.fixes[0].id == "container-gpu-access"


def test_init_failed_with_nothing_else_known() -> None:
    f = _unavailable(None, INIT_FAILED)
    assert f.fixes[0].id == "check-driver-in-this-process" and "could not initialise" in f.title


def test_kernel_module_older_than_the_driver_library(tmp_path: Path) -> None:
    f = _unavailable(tmp_path, INIT_FAILED, module="570.124.06")
    assert "kernel module is 570.124.06 but the driver library is 580.95.05" in f.title
    assert f.fixes[0].id == "reboot-after-driver-update"


def test_device_node_without_access() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[H200]))
    facts["linux"]["nodes"]["/dev/nvidia0"] = "no access"  # as root, a real chmod cannot show it
    f = by_id(diagnose(make_ev(gpu=facts, live_run=live(cuda_step(False, warning=INIT_FAILED)))), "cuda-unavailable")
    assert f.title.endswith("this user cannot open /dev/nvidia0") and f.fixes[0].id == "check-device-permissions"


def test_silent_in_a_slurm_job_without_a_gpu() -> None:
    f = _unavailable(None, "", env={"SLURM_JOB_ID": "4242"})
    assert "Slurm job 4242, which has no GPU allocated" in f.title and f.fixes[0].id == "slurm-request-gpu"
    # with a GPU allocated, Slurm is not the suspect
    f = _unavailable(None, "", env={"SLURM_JOB_ID": "4242", "SLURM_JOB_GPUS": "0"})
    assert f.fixes[0].id == "check-gpu-allocation" and "driver lists 1" in f.title


def test_linux_driver_state(tmp_path: Path) -> None:
    from tvwizard.gpu import linux_driver_state

    root = fake_driver_root(tmp_path, module="535.104.05", nodes=("nvidiactl", "nvidia0", "nvidia10", "nvidia2"))
    (root / "proc/driver/nvidia/version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    )
    state = linux_driver_state(str(root))
    assert state["kernel_module"] == "535.104.05"
    assert list(state["nodes"]) == [
        "/dev/nvidiactl",
        "/dev/nvidia-uvm",
        "/dev/nvidia0",
        "/dev/nvidia2",
        "/dev/nvidia10",
    ]
    assert state["nodes"]["/dev/nvidia-uvm"] == "missing" and state["nodes"]["/dev/nvidia10"] == "ok"
    empty = linux_driver_state(str(tmp_path / "nothing"))
    assert empty["kernel_module"] is None and set(empty["nodes"].values()) == {"missing"}


def test_cuda_visible_devices_hiding_every_gpu() -> None:
    facts = gpu_facts(
        FakeNVML(driver="580.95.05", cuda=13000, devices=[A100]), env={**NO_SMI, "CUDA_VISIBLE_DEVICES": ""}
    )
    found = diagnose(make_ev(gpu=facts, live_run=live(cuda_step(False))))
    f = by_id(found, "cuda-unavailable")
    assert "hides every GPU" in f.title
    assert f.fixes[0].kind == "env" and f.fixes[0].env == {"CUDA_VISIBLE_DEVICES": None}
    # torch said nothing here: the explanation must not credit its warning with the reason
    assert f.explanation.endswith("The reason: CUDA_VISIBLE_DEVICES='' hides every GPU (empty: no GPU visible).")


def test_cpu_torch_on_a_gpu_machine_is_not_cuda_unavailable() -> None:
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[A100]))
    run = live(cuda_step(False, built_with=None), version="2.14.1+cpu", cuda=None, tv="0.29.1+cpu")
    assert gpu_ids(diagnose(make_ev(gpu=facts, live_run=run, dist=dists(cuda=None, tag="+cpu")))) == set()


# -- cuda-home-invalid ---------------------------------------------------------------------------


def toolchain(**cuda_env: dict) -> dict:
    return {
        "tools": {},
        "cuda_env": {"CUDA_HOME": {"set": False}, "CUDA_PATH": {"set": False}, **cuda_env},
        "usr_local_cuda": {"exists": True, "nvcc": "/usr/local/cuda/bin/nvcc", "lib64": True},
    }


def test_cuda_home_pointing_nowhere() -> None:
    tc = toolchain(
        CUDA_HOME={
            "set": True,
            "value": "/opt/cuda-11.0",
            "exists": False,
            "is_dir": False,
            "nvcc": None,
            "lib64": False,
        }
    )
    found = diagnose(make_ev(toolchain=tc))
    f = by_id(found, "cuda-home-invalid")
    assert f.severity is Severity.WARNING
    assert f.title == "CUDA_HOME=/opt/cuda-11.0 does not exist"
    assert "from source" in f.explanation and "never read it" in f.explanation
    assert f.fixes[0].env == {"CUDA_HOME": "/usr/local/cuda"}


def test_cuda_path_without_nvcc_and_a_good_cuda_home() -> None:
    tc = toolchain(
        CUDA_HOME={
            "set": True,
            "value": "/opt/cuda",
            "exists": True,
            "is_dir": True,
            "nvcc": "/opt/cuda/bin/nvcc",
            "lib64": True,
        },
        CUDA_PATH={"set": True, "value": "/opt/empty", "exists": True, "is_dir": True, "nvcc": None, "lib64": False},
    )
    found = [f for f in diagnose(make_ev(toolchain=tc)) if f.id == "cuda-home-invalid"]
    assert len(found) == 1
    assert found[0].title == "CUDA_PATH=/opt/empty has no bin/nvcc and has no lib64"
    assert found[0].fixes[0].env == {"CUDA_PATH": "/opt/cuda"}


def test_valid_cuda_home_says_nothing() -> None:
    tc = toolchain(
        CUDA_HOME={
            "set": True,
            "value": "/opt/cuda",
            "exists": True,
            "is_dir": True,
            "nvcc": "/opt/cuda/bin/nvcc",
            "lib64": True,
        }
    )
    assert "cuda-home-invalid" not in ids(diagnose(make_ev(toolchain=tc)))


# -- torchvision's compiled CUDA vs torch's ----------------------------------------------------


def test_extension_cuda_major_differs_from_torch() -> None:
    """version.py says cu130 like torch, but the compiled ops report CUDA 12.8."""
    run = live(("extensions", "ok", {"files": [], "ops": {"_cuda_version": True}, "cuda_version": 12080}))
    found = diagnose(make_ev(live_run=run))
    matches = [f for f in found if f.id == "build-variant-mismatch"]
    assert len(matches) == 1
    assert "CUDA 12.8" in matches[0].title and "12080" in matches[0].evidence[0].detail


def test_extension_cuda_joins_the_existing_variant_finding() -> None:
    """When the labels already differ, the packages rule speaks; the binary's CUDA is added as evidence."""
    d = dists()
    d["version_py"]["torchvision"] = {"values": {"__version__": "0.29.1+cu126"}}
    run = live(
        ("extensions", "ok", {"files": [], "ops": {"_cuda_version": True}, "cuda_version": 12060}), tv="0.29.1+cu126"
    )
    found = [f for f in diagnose(make_ev(live_run=run, dist=d)) if f.id == "build-variant-mismatch"]
    assert len(found) == 1
    assert found[0].title.startswith("torchvision 0.29.1+cu126 is a CUDA 12.6 build")
    assert any("_cuda_version() = 12060" in e.detail for e in found[0].evidence)


def test_the_variant_finding_wins_the_merge_whatever_order_the_rules_run_in(monkeypatch) -> None:
    """extension_cuda_mismatch declares supplements=True: the packages rule's finding is kept even
    when the GPU rule runs first (it used to depend on which module happened to be imported first)."""
    from tvwizard.diagnosis import rules

    d = dists()
    d["version_py"]["torchvision"] = {"values": {"__version__": "0.29.1+cu126"}}
    run = live(
        ("extensions", "ok", {"files": [], "ops": {"_cuda_version": True}, "cuda_version": 12060}), tv="0.29.1+cu126"
    )
    monkeypatch.setattr(rules, "RULES", list(reversed(rules.RULES)))
    found = [f for f in diagnose(make_ev(live_run=run, dist=d)) if f.id == "build-variant-mismatch"]
    assert len(found) == 1
    assert found[0].title.startswith("torchvision 0.29.1+cu126 is a CUDA 12.6 build")
    assert any("_cuda_version() = 12060" in e.detail for e in found[0].evidence)


# -- the GPU checklist line ------------------------------------------------------------------------


def test_gpu_check_lines(tmp_path: Path) -> None:
    def line(facts: dict) -> str:
        e = make_ev(gpu=facts)
        return next(c for c in build_checks(e, diagnose(e)) if c.id == "gpu").summary

    assert line(no_driver_facts()) == "no NVIDIA GPU"
    assert line(no_driver_facts(tmp_path)) == "driver not loaded"
    assert line(gpu_facts(FakeNVML(devices=[]))) == "no NVIDIA GPU (driver 550.54.15 loaded)"
    mixed = gpu_facts(FakeNVML(devices=[A100, RTX4090]), env={**NO_SMI, "CUDA_VISIBLE_DEVICES": "1"})
    assert line(mixed) == (
        "NVIDIA A100-SXM4-80GB (8.0), NVIDIA GeForce RTX 4090 (8.9), driver 550.54.15, CUDA 12.4, "
        "CUDA_VISIBLE_DEVICES=1: 1 visible"
    )
    # a finding about the GPU colours the line
    e = make_ev(gpu=no_driver_facts(tmp_path))
    check = next(c for c in build_checks(e, diagnose(e)) if c.id == "gpu")
    assert check.status.value == "error"


def test_gpus_only_torch_sees_and_a_working_cuda_line() -> None:
    """A Jetson: no NVML, no nvidia-smi, yet CUDA works. No "driver missing", no "no GPU"."""
    run = live(cuda_step(True, [("Orin", "8.7")], arch=["sm_87"], built_with="12.6"), cuda="12.6")
    e = make_ev(gpu=no_driver_facts(), live_run=run)
    found = diagnose(e)
    assert not [f for f in found if f.severity is not Severity.INFO]
    checks = {c.id: c for c in build_checks(e, found)}
    assert checks["gpu"].summary == "Orin (8.7), seen by torch; NVML and nvidia-smi did not answer here"
    assert checks["cuda"].status.value == "ok"  # ✓ when CUDA works, not the neutral •


# -- end to end: the real CLI, a fake torch with a GPU, a fake nvidia-smi ---------------------------


def work(tmp_path: Path) -> Path:
    """A working folder that does not contain the fake site (else it counts as shadowing)."""
    d = tmp_path / "work"
    d.mkdir(exist_ok=True)
    return d


@pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")
def test_cli_k80_with_cu130_torch_and_fake_nvidia_smi(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    rows = (
        "0, Tesla K80, GPU-0c5b7b8e-9d41-0d3c-2a4c-6f0e2b3f9a11, 580.95.05, 11441, 3.7, [N/A]\n"
        "1, NVIDIA H200, GPU-cccccccc-0000-0000-0000-000000000000, 580.95.05, 143771, 9.0, Disabled\n"
    )
    smi = fake_smi(bindir, rows=rows, header=HEADER.format(driver="580.95.05", cuda="13.0"))
    site = FakeEnv(
        cuda_available=True,
        cuda_devices=[("Tesla K80", 3, 7, 11441 << 20), ("NVIDIA H200", 9, 0, 143771 << 20)],
        cuda_arch_list=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"],
        cuda_sync_error="CUDA error: no kernel image is available for execution on the device\n"
        "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below "
        "might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1",
    ).build(tmp_path / "site")
    env = fake_env_vars(site)
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TVWIZARD_NVIDIA_SMI")  # found on PATH, as users have it (NVML stays hidden: conftest)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("NVIDIA_VISIBLE_DEVICES", None)
    data = check_json_with(env, work(tmp_path))
    gpu = data["system"]["gpu"]
    # the facts came from the fake nvidia-smi, not from a real driver
    assert gpu["source"] == "nvidia-smi"
    assert next(a for a in gpu["attempts"] if a["source"] == "nvidia-smi")["path"] == str(smi)
    assert [g["compute_capability"] for g in gpu["gpus"]] == ["3.7", "9.0"]
    found = [f["id"] for f in data["findings"]]
    assert "gpu-arch-unsupported" in found
    assert not {"gpu-driver-missing", "driver-too-old", "cuda-unavailable", "cuda-build-without-gpu"} & set(found)
    arch = next(f for f in data["findings"] if f["id"] == "gpu-arch-unsupported")
    assert "Tesla K80" in arch["title"] and "H200" not in arch["title"]
    # the fake's kernels fail on every device (its synchronize raises): the op failures hang under the cause
    ops = [f for f in data["findings"] if f["id"] == "op-failed"]
    assert ops and all(f["caused_by"] == "gpu-arch-unsupported" for f in ops)
    assert data["verdict"] == "broken" and data["exit_code"] == 1
    check = next(c for c in data["checks"] if c["id"] == "gpu")
    assert check["summary"] == "Tesla K80 (3.7), NVIDIA H200 (9.0), driver 580.95.05, CUDA 13.0"
    assert check["status"] == "error"


@pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")
def test_cli_no_driver_with_nvidia_smi_present(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    fake_smi(bindir, fail=NO_DRIVER, rc=9)
    site = FakeEnv().build(tmp_path / "site")  # cu130 torch, is_available() False
    env = fake_env_vars(site)
    env["TVWIZARD_NVIDIA_SMI"] = str(bindir / "nvidia-smi")  # named, not found on PATH
    data = check_json_with(env, work(tmp_path))
    assert data["system"]["gpu"]["attempts"][1]["path"] == str(bindir / "nvidia-smi")
    found = [f["id"] for f in data["findings"]]
    assert "gpu-driver-missing" in found and "cuda-build-without-gpu" not in found
    assert data["exit_code"] == 1
    assert next(c for c in data["checks"] if c["id"] == "gpu")["summary"] == "driver not loaded"


def test_arch_list_read_from_the_compiled_flags_names_its_source() -> None:
    """torch < 2.6 with CUDA unavailable: the probe reads torch._C._cuda_getArchFlags()."""
    facts = gpu_facts(FakeNVML(driver="470.82.01", cuda=11040, devices=[K80]))
    step = cuda_step(False, arch=["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"], built_with="12.1")
    step[2]["arch_list_source"] = "torch._C._cuda_getArchFlags()"
    e = make_ev(gpu=facts, dist=dists("2.5.1", "0.20.1", "12.1", "+cu121"), live_run=live(step, version="2.5.1+cu121"))
    f = by_id(diagnose(e), "gpu-arch-unsupported")
    assert "is not in torch._C._cuda_getArchFlags() = ['sm_50'" in f.evidence[0].detail


@pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")
def test_cli_old_torch_arch_list_without_cuda(tmp_path: Path) -> None:
    """torch 2.5 on a driver too old for it: get_arch_list() is [] but the compiled flags tell."""
    bindir = tmp_path / "bin"
    smi = fake_smi(
        bindir,
        rows="0, Tesla K80, GPU-0c5b7b8e-9d41-0d3c-2a4c-6f0e2b3f9a11, 470.82.01, 11441, 3.7, [N/A]\n",
        header=HEADER.format(driver="470.82.01", cuda="11.4"),
    )
    site = FakeEnv(
        torch="2.5.1",
        torch_local="+cu121",
        torch_cuda="12.1",
        torchvision="0.20.1",
        tv_local="+cu121",
        tv_cuda_code=12010,
        tv_requires=["torch==2.5.1"],
        cuda_arch_list=[],
        arch_flags="sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90",
        cudnn=90100,
        cuda_warning="CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).",
    ).build(tmp_path / "site")
    data = check_json_with(smi_box_env(site, smi), work(tmp_path))
    cuda = live_steps(data)["cuda"]["data"]
    assert cuda["arch_list"] == ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    assert cuda["arch_list_source"] == "torch._C._cuda_getArchFlags()"
    assert cuda["available"] is False and cuda["cudnn"] == 90100
    found = {f["id"]: f for f in data["findings"]}
    assert "driver-too-old" in found and "gpu-arch-unsupported" in found
    arch = found["gpu-arch-unsupported"]
    assert "torch._C._cuda_getArchFlags() = ['sm_50'" in arch["evidence"][0]["detail"]
    # the one build that fits both the K80 and its R470 driver: cu118
    assert arch["fixes"][0]["title"] == "Install torch 2.7.1+cu118 + torchvision 0.22.1+cu118"


def _with_torchvision_arches(e: Evidence, sm: list[int], ptx: list[int]) -> Evidence:
    native = {
        "packages": {
            "torchvision": {
                "found": True,
                "files": [
                    {
                        "path": "/envs/ml/site-packages/torchvision/_C.so",
                        "valid": True,
                        "cuda_arch": {"sm": sm, "ptx": ptx},
                    },
                    {"path": "/envs/ml/site-packages/torchvision/image.so", "valid": True},
                ],
            }
        }
    }
    e.probes["native"] = ProbeRun("native", "native", RunStatus.OK, data=native)
    return e


def test_torchvision_built_for_other_gpus_is_predicted_before_any_op() -> None:
    """A source-built torchvision (TORCH_CUDA_ARCH_LIST=7.5) on an RTX 4090 that torch supports."""
    facts = gpu_facts(FakeNVML(driver="580.95.05", cuda=13000, devices=[RTX4090]))
    run = live(cuda_step(True, [("NVIDIA GeForce RTX 4090", "8.9")], arch=["sm_80", "sm_86", "sm_90"]))
    e = _with_torchvision_arches(make_ev(gpu=facts, live_run=run), sm=[75], ptx=[])
    f = by_id(diagnose(e), "gpu-arch-unsupported")
    assert f.title == "torchvision 0.29.1+cu130 has no GPU kernels for this GPU, although torch does"
    assert "will fail" in f.explanation
    assert any("not among the GPU architectures compiled into _C.so (sm_75)" in x.detail for x in f.evidence)
    # kernels for 8.6 run on 8.9; PTX for 8.0 is compiled by the driver: either is enough
    for sm, ptx in (([86], []), ([75], [80])):
        e = _with_torchvision_arches(make_ev(gpu=facts, live_run=run), sm=sm, ptx=ptx)
        assert "gpu-arch-unsupported" not in ids(diagnose(e))


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        ("Error 46: CUDA-capable device(s) is/are busy or unavailable", "free-busy-gpu"),
        ("Error 2: out of memory", "free-gpu-memory"),
        ("Error 999: unknown error", "reload-nvidia-uvm"),  # older torch: the number, not the sentence
        ("Error 802: system not yet initialized", "start-fabricmanager"),
        ("Error 803: system has unsupported display driver / cuda driver combination", "reboot-after-driver-update"),
    ],
)
def test_cuda_start_errors_in_torchs_words(error: str, fix: str) -> None:
    """torch 2.14.1's warning for these driver answers (recorded with the stand-in libcuda)."""
    warning = (
        "CUDA initialization: Unexpected error from cudaGetDeviceCount(). Did you run some cuda functions before "
        f"calling NumCudaDevices() that might have already set an error? {error} (Triggered internally at "
        "/__w/pytorch/pytorch/c10/cuda/CUDAFunctions.cpp:119.)"
    )
    f = _unavailable(None, warning)
    assert f.fixes[0].id == fix and "Triggered" not in f.title


def test_kernel_module_loaded_but_driver_libraries_missing(tmp_path: Path) -> None:
    root = fake_driver_root(tmp_path, module="580.95.05")
    facts = gpu_facts(FakeNVML(init_error=12), root=root)  # NVML: "library not found"
    f = by_id(diagnose(make_ev(gpu=facts, live_run=live(cuda_step(False)))), "gpu-driver-missing")
    assert f.severity is Severity.ERROR
    assert f.title.startswith("The NVIDIA kernel driver 580.95.05 is loaded, but its libraries")
    assert f.fixes[0].id == "install-driver-libraries" and "libnvidia-compute-580" in f.fixes[0].title
    assert any("kernel module 580.95.05 is loaded" in e.detail for e in f.evidence)
    assert any("NVIDIA device nodes exist: /dev/nvidiactl" in e.detail for e in f.evidence)
    # nothing of the kind on the machine: not a GPU machine, only an info about the big CUDA build
    bare = gpu_facts(FakeNVML(init_error=12), root=tmp_path / "bare")
    found = diagnose(make_ev(gpu=bare, live_run=live(cuda_step(False))))
    assert "gpu-driver-missing" not in ids(found) and "cuda-build-without-gpu" in ids(found)


@pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")
def test_check_verbose_lists_what_it_read_of_each_gpu(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    smi = fake_smi(
        bindir,
        rows="0, NVIDIA A100-SXM4-80GB, GPU-aaaaaaaa-1111-2222-3333-444444444444, 550.54.15, 81920, 8.0, Enabled\n"
        "1, NVIDIA GeForce RTX 4090, GPU-bbbbbbbb-5555-6666-7777-888888888888, 550.54.15, 24564, 8.9, [N/A]\n",
        header=HEADER.format(driver="550.54.15", cuda="12.4"),
    )
    env = smi_box_env(FakeEnv().build(tmp_path / "site"), smi, CUDA_VISIBLE_DEVICES="1")
    proc = subprocess.run(
        [sys.executable, "-m", "tvwizard", "--python", sys.executable, "check", "-v", "--ascii"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=work(tmp_path),
        timeout=120,
    )
    out = proc.stdout[proc.stdout.index("\nGPU (read by tvwizard itself") :]
    assert "state ok (from nvidia-smi), driver 550.54.15, supports CUDA up to 12.4" in out
    assert "GPU 0: NVIDIA A100-SXM4-80GB, compute capability 8.0, 80.0 GiB, MIG enabled, hidden by CUDA_VISIBLE" in out
    assert "GPU 1: NVIDIA GeForce RTX 4090, compute capability 8.9, 24.0 GiB, cuda:0" in out
    assert "tried nvidia-smi: ok in" in out and str(smi) in out
    assert "kernel module not loaded (or not visible here); /dev/nvidiactl missing" in out


@pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")
def test_nms_on_a_working_gpu_is_checked_against_the_cpu_and_timed_twice(tmp_path: Path) -> None:
    smi = fake_smi(
        tmp_path / "bin",
        rows="0, NVIDIA H200, GPU-cccccccc-0000-0000-0000-000000000000, 580.95.05, 143771, 9.0, Disabled\n",
        header=HEADER.format(driver="580.95.05", cuda="13.0"),
    )
    site = FakeEnv(
        cuda_available=True,
        cuda_devices=[("NVIDIA H200", 9, 0, 143771 << 20)],
        cuda_arch_list=["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    ).build(tmp_path / "site")
    data = check_json_with(smi_box_env(site, smi), work(tmp_path))
    steps = live_steps(data)
    gpu = steps["nms_cuda:0"]["data"]
    assert gpu["correct"] is True and gpu["expected"] == steps["nms_cpu"]["data"]["keep"] == [0, 2, 3, 5]
    assert gpu["seconds"] >= 0 and gpu["seconds_again"] >= 0
    check = next(c for c in data["checks"] if c["id"] == "nms_cuda:0")
    assert check["status"] == "ok"
    assert re.fullmatch(r"correct in \S+ \S+ \(first call\), \S+ \S+ after", check["summary"]), check["summary"]
    assert data["exit_code"] == 0 and not [f for f in data["findings"] if f["severity"] != "info"]
