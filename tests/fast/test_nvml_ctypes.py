"""tvwizard's ctypes NVML binding against a compiled stand-in for libnvidia-ml.so.1.

``tests/fakedriver/fake_nvml.c`` has nvml.h's C signatures and the real library's habits
(UNINITIALIZED before init, INSUFFICIENT_SIZE for short buffers, INVALID_ARGUMENT for a
handle it did not give out), so these tests prove what the fake *layer* tests cannot: that
the ctypes calls pass the right arguments, buffer sizes and 64-bit handles, read the
``nvmlMemory_t`` layout right, fall back to the old entry points, and shut NVML down.
The last tests run the real ``tvwizard`` with the library found two ways: through
``TVWIZARD_NVML`` and through the loader's own search (``LD_LIBRARY_PATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import FakeEnv, build_stand_in, check_json_with, fake_env_vars

from tvwizard import gpu as gpumod
from tvwizard.gpu import CtypesNVML, NVMLError, collect_gpus, visible_devices_text

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("gcc") is None,
    reason="the stand-in NVML is a Linux shared library built with gcc",
)

UUID_V100 = "GPU-5e2a1c3b-aaaa-bbbb-cccc-0123456789ab"
UUID_A100 = "GPU-0f9e8d7c-1111-2222-3333-ba9876543210"
V100 = f"gpu=Tesla V100-SXM2-16GB;{UUID_V100};7;0;{16 * 2**30};-1"
A100_MIG = f"gpu=NVIDIA A100-SXM4-80GB;{UUID_A100};8;0;{80 * 2**30};1"
NO_SMI = {"PATH": "/nonexistent"}


@dataclass
class Libs:
    new: Path  # a current driver's library
    old: Path  # a pre-R450 one: no _v2 entry points, no compute capability, no MIG
    folder: Path  # holds libnvidia-ml.so.1 (the current one), for LD_LIBRARY_PATH


@pytest.fixture(scope="session")
def libs(tmp_path_factory: pytest.TempPathFactory) -> Libs:
    out = tmp_path_factory.mktemp("fakenvml")
    folder = out / "lib"
    folder.mkdir()
    new = build_stand_in("fake_nvml.c", out / "libfake-nvml.so", "libnvidia-ml.so.1")
    old = build_stand_in("fake_nvml.c", out / "libfake-nvml-old.so", "libnvidia-ml.so.1", "-DOLD_NVML")
    shutil.copy(new, folder / "libnvidia-ml.so.1")
    return Libs(new, old, folder)


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *lines: str) -> Path:
    """Write the stand-in's config and point it (and its call log) at this test's files."""
    config = tmp_path / "nvml.conf"
    config.write_text("\n".join(lines) + "\n")
    log = tmp_path / "nvml.log"
    monkeypatch.setenv("FAKE_NVML_CONFIG", str(config))
    monkeypatch.setenv("FAKE_NVML_LOG", str(log))
    return log


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


# -- the binding, call by call ---------------------------------------------------------------


def test_every_call_reads_what_the_library_returns(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    configure(monkeypatch, tmp_path, "driver=535.104.05", "cuda=12020", V100, A100_MIG)
    layer = CtypesNVML(str(libs.new))
    layer.init()
    try:
        assert layer.driver_version() == "535.104.05"
        assert layer.cuda_driver_version() == 12020
        assert layer.device_count() == 2
        first, second = layer.device(0), layer.device(1)
        # the handles are the library's own 64-bit pointers, passed back intact
        assert first.value != second.value and first.value > 2**32
        assert layer.name(first) == "Tesla V100-SXM2-16GB"
        assert layer.uuid(second) == UUID_A100
        assert layer.compute_capability(first) == (7, 0)
        assert layer.memory_total(second) == 80 * 2**30  # total, not free or used
        assert layer.mig_mode(second) == (1, 1)
        with pytest.raises(NVMLError) as err:
            layer.mig_mode(first)
        assert err.value.code == gpumod.NVML_ERROR_NOT_SUPPORTED and err.value.message == "Not Supported"
        with pytest.raises(NVMLError) as err:
            layer.device(2)
        assert err.value.code == 2 and "Invalid Argument" in str(err.value)
    finally:
        layer.shutdown()


def test_calls_before_init_are_refused_like_the_real_library(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    configure(monkeypatch, tmp_path, V100)
    with pytest.raises(NVMLError) as err:
        CtypesNVML(str(libs.new)).device_count()
    assert err.value.code == gpumod.NVML_ERROR_UNINITIALIZED


def test_longest_names_fit_the_buffers(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    """nvml.h's v2 buffers are 96 bytes: a 95-character name must come back whole."""
    name = "NVIDIA " + "X" * 88
    assert len(name) == 95
    configure(monkeypatch, tmp_path, "driver=" + "9" * 79, f"gpu={name};{UUID_V100};9;0;1024;-1")
    got = collect_gpus(nvml=CtypesNVML(str(libs.new)), env=NO_SMI, smi_dirs=())
    assert got["state"] == "ok" and got["gpus"][0]["name"] == name and got["driver"] == "9" * 79


def test_collect_gpus_through_the_library(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    log = configure(monkeypatch, tmp_path, "driver=535.104.05", "cuda=12020", V100, A100_MIG)
    got = collect_gpus(nvml=CtypesNVML(str(libs.new)), env={**NO_SMI, "CUDA_VISIBLE_DEVICES": "1"}, smi_dirs=())
    assert (got["state"], got["source"], got["driver"], got["cuda_driver"]) == ("ok", "nvml", "535.104.05", "12.2")
    v100, a100 = got["gpus"]
    assert (v100["name"], v100["compute_capability"], v100["memory_total_mib"], v100["mig_mode"]) == (
        "Tesla V100-SXM2-16GB",
        "7.0",
        16384,
        None,
    )
    assert (a100["uuid"], a100["mig_mode"], a100["visible"], a100["cuda_index"]) == (UUID_A100, "enabled", True, 0)
    assert v100["visible"] is False and v100["errors"] == {} and a100["errors"] == {}
    seen = calls(log)
    assert seen[0] == "nvmlInit_v2" and seen[-1] == "nvmlShutdown"
    assert "nvmlDeviceGetCount_v2" in seen and "nvmlDeviceGetHandleByIndex_v2" in seen


MIG_A = "MIG-4b9e6a0c-1f7d-5a3e-8c2b-0d1e2f3a4b5c"
MIG_B = "MIG-9c8d7e6f-5a4b-5c3d-9e2f-1a0b9c8d7e6f"


def test_mig_instances_map_cuda_visible_devices_to_their_gpu(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    """CUDA_VISIBLE_DEVICES=MIG-<uuid> (what Slurm and Kubernetes set on MIG GPUs) names an
    instance NVML lists under its GPU; slots can be sparse (slot 0 empty here)."""
    config = (V100, A100_MIG, f"migdev=1;2;{MIG_A};10737418240", f"migdev=1;5;{MIG_B};21474836480")
    log = configure(monkeypatch, tmp_path, "driver=535.104.05", "cuda=12020", *config)
    got = collect_gpus(nvml=CtypesNVML(str(libs.new)), env={**NO_SMI, "CUDA_VISIBLE_DEVICES": MIG_B}, smi_dirs=())
    v100, a100 = got["gpus"]
    assert a100["mig_devices"] == [
        {"uuid": MIG_A, "memory_total_mib": 10240},
        {"uuid": MIG_B, "memory_total_mib": 20480},
    ]
    assert "mig_devices" not in v100 and a100["errors"] == {}
    assert (a100["visible"], a100["cuda_index"], v100["visible"]) == (True, 0, False)
    vis = got["visible_devices"]
    assert vis["mig"] == {MIG_B: 1} and vis["unresolved"] == []
    assert visible_devices_text(vis) == (
        f"CUDA_VISIBLE_DEVICES='{MIG_B}': 1 of 2 GPU(s) visible (a MIG instance of GPU 1 as cuda:0)"
    )
    assert calls(log).count("nvmlDeviceGetMigDeviceHandleByIndex") == 7  # every slot asked once


def test_old_driver_library_uses_the_old_entry_points(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    log = configure(monkeypatch, tmp_path, "driver=418.87.01", "cuda=10010", V100)
    got = collect_gpus(nvml=CtypesNVML(str(libs.old)), env=NO_SMI, smi_dirs=())
    assert (got["state"], got["driver"], got["cuda_driver"]) == ("ok", "418.87.01", "10.1")
    gpu = got["gpus"][0]
    assert gpu["name"] == "Tesla V100-SXM2-16GB" and gpu["memory_total_mib"] == 16384
    # a call this driver lacks costs that one field, not the GPU
    assert gpu["compute_capability"] is None
    assert "nvmlDeviceGetCudaComputeCapability not in this NVML" in gpu["errors"]["compute_capability"]
    assert "mig_mode" in gpu["errors"]
    seen = calls(log)
    assert seen[0] == "nvmlInit" and "nvmlDeviceGetCount" in seen and "nvmlSystemGetCudaDriverVersion" in seen
    assert not [c for c in seen if c.endswith("_v2")] and seen[-1] == "nvmlShutdown"


@pytest.mark.parametrize(
    ("code", "state", "words"),
    [
        (9, "no-driver", "Driver Not Loaded"),
        (18, "driver-error", "NVML/RM version mismatch"),
        (999, "driver-error", "Unknown Error"),
    ],
)
def test_init_failures(libs: Libs, monkeypatch, tmp_path: Path, code: int, state: str, words: str) -> None:
    log = configure(monkeypatch, tmp_path, f"init={code}", V100)
    got = collect_gpus(nvml=CtypesNVML(str(libs.new)), env=NO_SMI, smi_dirs=())
    assert got["state"] == state and got["source"] is None
    nvml = got["attempts"][0]
    assert nvml["code"] == code and words in nvml["error"]  # the library's own words, from nvmlErrorString
    assert words in got["reason"]
    assert "nvmlDeviceGetCount_v2" not in calls(log)


def test_field_failures_keep_the_rest(libs: Libs, monkeypatch, tmp_path: Path) -> None:
    configure(monkeypatch, tmp_path, V100, A100_MIG, "fail=0;memory;15", "fail=1;handle;15")
    got = collect_gpus(nvml=CtypesNVML(str(libs.new)), env=NO_SMI, smi_dirs=())
    v100, a100 = got["gpus"]
    assert v100["errors"] == {"memory_total_mib": "GPU is lost (NVML error 15)"}
    assert v100["compute_capability"] == "7.0" and v100["memory_total_mib"] is None
    assert a100["errors"] == {"handle": "GPU is lost (NVML error 15)"} and a100["name"] is None


# -- the real tvwizard, finding the library ---------------------------------------------------


def _hang_script(lib: Path) -> str:
    return textwrap.dedent(
        f"""
        import json, time
        from tvwizard.gpu import CtypesNVML, collect_gpus
        start = time.monotonic()
        got = collect_gpus(nvml=CtypesNVML({str(lib)!r}), env={{"PATH": "/nonexistent"}}, smi_dirs=(),
                           nvml_timeout=1.0)
        print(json.dumps({{"state": got["state"], "error": got["attempts"][0]["error"],
                          "took": time.monotonic() - start}}))
        """
    )


def test_a_hung_nvml_init_is_a_timeout(libs: Libs, tmp_path: Path) -> None:
    """nvmlInit blocking (a sick driver) is given up on; the process still exits at once."""
    config = tmp_path / "nvml.conf"
    config.write_text("hang=60\n" + V100 + "\n")
    env = {**os.environ, "FAKE_NVML_CONFIG": str(config)}
    proc = subprocess.run(
        [sys.executable, "-c", _hang_script(libs.new)], capture_output=True, text=True, env=env, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["state"] == "timeout" and got["error"] == "NVML gave no answer in 1 s"
    assert got["took"] < 10


def _cu130_torch_on_driver_470(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "nvml.conf"
    config.write_text(f"driver=470.82.01\ncuda=11040\n{V100}\n")
    site = FakeEnv(
        cuda_warning="CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). "
        "Please update your GPU driver by downloading and installing a new version from the URL: "
        "http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a "
        "PyTorch version that has been compiled with your version of the CUDA driver.",
    ).build(tmp_path / "site")
    env = fake_env_vars(site)
    env["FAKE_NVML_CONFIG"] = str(config)
    for name in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "FAKE_NVML_LOG"):
        env.pop(name, None)
    (tmp_path / "work").mkdir()
    return env


def _assert_driver_too_old(data: dict) -> None:
    gpu = data["system"]["gpu"]
    assert (gpu["source"], gpu["driver"], gpu["cuda_driver"]) == ("nvml", "470.82.01", "11.4")
    found = {f["id"]: f for f in data["findings"]}
    assert "driver-too-old" in found and "gpu-driver-missing" not in found
    assert "470.82.01" in found["driver-too-old"]["title"] or "470.82.01" in found["driver-too-old"]["explanation"]
    check = next(c for c in data["checks"] if c["id"] == "gpu")
    assert check["summary"] == "Tesla V100-SXM2-16GB (7.0), driver 470.82.01, CUDA 11.4"
    assert data["exit_code"] == 1


def test_cli_reads_the_driver_named_by_tvwizard_nvml(libs: Libs, tmp_path: Path) -> None:
    env = _cu130_torch_on_driver_470(tmp_path)
    env["TVWIZARD_NVML"] = str(libs.new)
    data = check_json_with(env, tmp_path / "work")
    _assert_driver_too_old(data)
    assert data["system"]["gpu"]["attempts"][0]["library"] == str(libs.new)


def test_cli_finds_libnvidia_ml_the_way_the_loader_does(libs: Libs, tmp_path: Path) -> None:
    """No override: ``libnvidia-ml.so.1`` comes from the loader's search path, as on a GPU box."""
    env = _cu130_torch_on_driver_470(tmp_path)
    env.pop("TVWIZARD_NVML", None)
    env["LD_LIBRARY_PATH"] = str(libs.folder)
    data = check_json_with(env, tmp_path / "work")
    _assert_driver_too_old(data)
    assert "library" not in data["system"]["gpu"]["attempts"][0]


def test_a_session_reads_the_gpus_visibility_from_its_own_environment(libs: Libs, monkeypatch, tmp_path: Path):
    """An env-var fix is proven by a session with the environment it describes: the GPU facts
    must read CUDA_VISIBLE_DEVICES from that environment, not from tvwizard's own."""
    import asyncio
    import os
    import sys

    from tvwizard.engine.session import SessionOptions, run_session
    from tvwizard.target import resolve_target

    configure(monkeypatch, tmp_path, "driver=580.95.05", "cuda=13000", V100, A100_MIG)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # ours hides every GPU ...
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}  # ... the session's does not
    env.update(TVWIZARD_NVML=str(libs.new), PATH="/nonexistent")
    opts = SessionOptions(probes=[], env=env, cwd=str(tmp_path))
    report = asyncio.run(run_session(resolve_target(sys.executable, cwd=str(tmp_path)), opts))
    assert "gpu" in report.system, report.system
    gpu = report.system["gpu"]
    assert gpu["source"] == "nvml" and len(gpu["gpus"]) == 2
    assert gpu["visible_devices"]["set"] is False and [g["visible"] for g in gpu["gpus"]] == [True, True]
