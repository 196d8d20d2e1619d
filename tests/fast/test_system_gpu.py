"""tvwizard-side machine facts: collect_system, and collect_gpus with fake drivers.

The GPU tests never need a GPU: ``nvidia-smi`` is a shell script written to a tmp dir put
first on ``PATH``, and NVML is a fake layer object with the methods of ``CtypesNVML``.
"""

from __future__ import annotations

import json
import os
import platform
import stat
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tvwizard import gpu as gpumod
from tvwizard.gpu import CommandResult, CtypesNVML, NVMLError, collect_gpus, resolve_visible
from tvwizard.system import collect_system, detect_container, detect_wsl

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fake nvidia-smi is a POSIX shell script")

UUID_A = "GPU-aaaaaaaa-1111-2222-3333-444444444444"
UUID_B = "GPU-bbbbbbbb-5555-6666-7777-888888888888"
UUID_K80 = "GPU-0c5b7b8e-9d41-0d3c-2a4c-6f0e2b3f9a11"

HEADER = """Tue Oct 17 10:00:00 2025
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI {driver}              Driver Version: {driver}      CUDA Version: {cuda}     |
|-----------------------------------------+------------------------+----------------------+
"""
NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)


# -- fake nvidia-smi -------------------------------------------------------------------------


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_smi(
    bindir: Path,
    *,
    rows: str = "",
    header: str = "",
    fail: str | None = None,
    rc: int = 9,
    old: bool = False,
    hang: bool = False,
) -> Path:
    """An nvidia-smi: ``rows`` for --query-gpu, ``header`` for the plain call.

    ``old``: a pre-R510 driver that rejects the compute_cap field, like the real one.
    """
    bindir.mkdir(exist_ok=True)
    lines = []
    if hang:
        lines.append("sleep 30")
    if fail is not None:
        lines.append(f"cat <<'EOF'\n{fail}EOF\nexit {rc}")
    else:
        if old:
            lines.append(
                'case "$*" in *compute_cap*) echo \'Field "compute_cap" is not a valid field to query.\'; '
                "echo; echo \"Run 'nvidia-smi --help-query-gpu' for more information\"; exit 2;; esac"
            )
        lines.append(f"case \"$1\" in --query-gpu=*) cat <<'EOF'\n{rows}EOF\nexit 0;; esac")
        lines.append(f"cat <<'EOF'\n{header}EOF\nexit 0")
    return _script(bindir / "nvidia-smi", "\n".join(lines) + "\n")


def _env(bindir: Path, **extra: str) -> dict[str, str]:
    return {"PATH": f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin", **extra}


TWO_GPUS = (
    f"0, NVIDIA A100-SXM4-80GB, {UUID_A}, 550.54.15, 81920, 8.0, Disabled\n"
    f"1, NVIDIA GeForce RTX 4090, {UUID_B}, 550.54.15, 24564, 8.9, [N/A]\n"
)


# -- fake NVML -------------------------------------------------------------------------------


class FakeNVML:
    """A fake NVML layer; each device is a dict (name, uuid, cc, mem, mig or None)."""

    def __init__(
        self,
        driver: str = "550.54.15",
        cuda: int = 12040,
        devices: list[dict[str, Any]] | None = None,
        init_error: int | None = None,
        hang: float = 0.0,
        fail: dict[tuple[int, str], int] | None = None,
    ) -> None:
        self.driver, self.cuda, self.devices = driver, cuda, devices or []
        self.init_error, self.hang, self.fail = init_error, hang, fail or {}
        self.calls: list[str] = []

    def _maybe_fail(self, index: int, field: str) -> None:
        if (index, field) in self.fail:
            raise NVMLError(self.fail[(index, field)])

    def init(self) -> None:
        self.calls.append("init")
        if self.hang:
            time.sleep(self.hang)
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def shutdown(self) -> None:
        self.calls.append("shutdown")

    def driver_version(self) -> str:
        return self.driver

    def cuda_driver_version(self) -> int:
        return self.cuda

    def device_count(self) -> int:
        return len(self.devices)

    def device(self, index: int) -> int:
        return index

    def name(self, h: int) -> str:
        self._maybe_fail(h, "name")
        return self.devices[h]["name"]

    def uuid(self, h: int) -> str:
        return self.devices[h]["uuid"]

    def compute_capability(self, h: int) -> tuple[int, int]:
        return self.devices[h]["cc"]

    def memory_total(self, h: int) -> int:
        self._maybe_fail(h, "memory")
        return self.devices[h]["mem"]

    def mig_mode(self, h: int) -> tuple[int, int]:
        mig = self.devices[h].get("mig")
        if mig is None:
            raise NVMLError(gpumod.NVML_ERROR_NOT_SUPPORTED)
        return mig


A100 = {"name": "NVIDIA A100-SXM4-80GB", "uuid": UUID_A, "cc": (8, 0), "mem": 81920 * 2**20, "mig": (0, 0)}
RTX4090 = {"name": "NVIDIA GeForce RTX 4090", "uuid": UUID_B, "cc": (8, 9), "mem": 24564 * 2**20}
K80 = {"name": "Tesla K80", "uuid": UUID_K80, "cc": (3, 7), "mem": 11441 * 2**20}

NO_NVML = FakeNVML(init_error=gpumod.NVML_ERROR_LIBRARY_NOT_FOUND)


def _json_ok(result: dict[str, Any]) -> None:
    assert json.loads(json.dumps(result)) == result


# -- no driver -------------------------------------------------------------------------------


def test_no_driver_no_smi(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = collect_gpus(nvml=NO_NVML, env={"PATH": str(empty)}, smi_dirs=())
    assert r["state"] == "no-driver"
    assert r["driver"] is None and r["gpus"] == []
    assert "nvidia-smi not found" in r["reason"]
    assert [a["source"] for a in r["attempts"]] == ["nvml", "nvidia-smi"]
    _json_ok(r)


def test_no_driver_smi_cannot_talk_to_driver(tmp_path: Path) -> None:
    fake_smi(tmp_path / "bin", fail=NO_DRIVER, rc=9)
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin"), smi_dirs=())
    assert r["state"] == "no-driver"
    assert r["driver"] is None
    assert "couldn't communicate with the NVIDIA driver" in r["reason"]
    assert r["attempts"][0]["returncode"] == 9
    _json_ok(r)


def test_no_driver_nvml(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    r = collect_gpus(nvml=FakeNVML(init_error=9), env={"PATH": str(empty)}, smi_dirs=())
    assert r["state"] == "no-driver"
    assert "Driver Not Loaded" in r["reason"]
    assert r["attempts"][0]["code"] == 9


def test_ctypes_nvml_missing_library() -> None:
    layer = CtypesNVML("/nonexistent/libnvidia-ml.so.1")
    with pytest.raises(NVMLError) as info:
        layer.init()
    assert info.value.code == gpumod.NVML_ERROR_LIBRARY_NOT_FOUND
    r = collect_gpus(nvml=layer, env={"PATH": "/nonexistent"}, smi_dirs=())
    assert r["state"] == "no-driver"


def test_driver_library_mismatch_is_not_no_driver(tmp_path: Path) -> None:
    fake_smi(
        tmp_path / "bin",
        fail="Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 535.183\n",
        rc=18,
    )
    r = collect_gpus(
        nvml=FakeNVML(init_error=gpumod.NVML_ERROR_LIB_RM_VERSION_MISMATCH),
        env=_env(tmp_path / "bin"),
        smi_dirs=(),
    )
    assert r["state"] == "driver-error"
    assert "version mismatch" in r["reason"]


def test_no_devices(tmp_path: Path) -> None:
    fake_smi(tmp_path / "bin", fail="No devices were found\n", rc=6)
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin"), smi_dirs=())
    assert r["state"] == "no-gpu"
    assert r["source"] == "nvidia-smi"
    r = collect_gpus(nvml=FakeNVML(devices=[]), env={"PATH": "/nonexistent"}, smi_dirs=())
    assert r["state"] == "no-gpu" and r["driver"] == "550.54.15" and r["cuda_driver"] == "12.4"


# -- old driver, CC 3.7 ------------------------------------------------------------------------


def test_old_driver_smi_k80(tmp_path: Path) -> None:
    rows = f"0, Tesla K80, {UUID_K80}, 470.82.01, 11441, [N/A]\n"
    fake_smi(tmp_path / "bin", rows=rows, header=HEADER.format(driver="470.82.01", cuda="11.4"), old=True)
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin"), smi_dirs=())
    assert r["state"] == "ok" and r["source"] == "nvidia-smi"
    assert r["driver"] == "470.82.01"
    assert r["cuda_driver"] == "11.4" and r["cuda_driver_int"] == 11040
    (k80,) = r["gpus"]
    assert k80["name"] == "Tesla K80" and k80["uuid"] == UUID_K80
    assert k80["compute_capability"] is None  # this driver cannot say; NVML can
    assert k80["memory_total_mib"] == 11441
    assert k80["mig_mode"] is None
    assert k80["visible"] is True and k80["cuda_index"] == 0
    _json_ok(r)


def test_old_driver_nvml_k80() -> None:
    r = collect_gpus(nvml=FakeNVML("470.82.01", 11040, [K80]), env={}, smi_dirs=())
    assert r["state"] == "ok" and r["source"] == "nvml"
    assert r["driver"] == "470.82.01" and r["cuda_driver"] == "11.4" and r["cuda_driver_int"] == 11040
    (k80,) = r["gpus"]
    assert k80["compute_capability"] == "3.7" and (k80["cc_major"], k80["cc_minor"]) == (3, 7)
    assert k80["memory_total_mib"] == 11441
    assert k80["mig_mode"] is None and k80["errors"] == {}
    assert len(r["attempts"]) == 1  # no nvidia-smi needed
    _json_ok(r)


def test_new_driver_smi_cc37_with_compute_cap(tmp_path: Path) -> None:
    rows = f"0, Tesla K80, {UUID_K80}, 470.256.02, 11441, 3.7, [N/A]\n"
    fake_smi(tmp_path / "bin", rows=rows, header=HEADER.format(driver="470.256.02", cuda="11.4"))
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin"), smi_dirs=())
    assert r["gpus"][0]["compute_capability"] == "3.7"


# -- two GPUs, CUDA_VISIBLE_DEVICES ----------------------------------------------------------------


def _check_two(r: dict[str, Any]) -> None:
    assert r["state"] == "ok"
    assert [g["name"] for g in r["gpus"]] == ["NVIDIA A100-SXM4-80GB", "NVIDIA GeForce RTX 4090"]
    a100, rtx = r["gpus"]
    assert (a100["compute_capability"], rtx["compute_capability"]) == ("8.0", "8.9")
    assert (a100["memory_total_mib"], rtx["memory_total_mib"]) == (81920, 24564)
    assert (a100["mig_mode"], rtx["mig_mode"]) == ("disabled", None)
    assert (a100["visible"], rtx["visible"]) == (False, True)
    assert rtx["cuda_index"] == 0 and a100["cuda_index"] is None
    vis = r["visible_devices"]
    assert vis["env"] == "1" and vis["visible"] == [1] and vis["hidden"] == [0]
    _json_ok(r)


def test_two_gpus_visible_1_smi(tmp_path: Path) -> None:
    fake_smi(tmp_path / "bin", rows=TWO_GPUS, header=HEADER.format(driver="550.54.15", cuda="12.4"))
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin", CUDA_VISIBLE_DEVICES="1"), smi_dirs=())
    assert r["source"] == "nvidia-smi" and r["driver"] == "550.54.15" and r["cuda_driver"] == "12.4"
    _check_two(r)


def test_two_gpus_visible_1_nvml() -> None:
    r = collect_gpus(nvml=FakeNVML(devices=[A100, RTX4090]), env={"CUDA_VISIBLE_DEVICES": "1"}, smi_dirs=())
    assert r["source"] == "nvml" and r["cuda_driver"] == "12.4"
    _check_two(r)


def test_two_gpus_visible_by_uuid_prefix() -> None:
    r = collect_gpus(nvml=FakeNVML(devices=[A100, RTX4090]), env={"CUDA_VISIBLE_DEVICES": "GPU-bbbb"})
    _check_two({**r, "visible_devices": {**r["visible_devices"], "env": "1"}})


def test_nvml_field_error_keeps_the_rest() -> None:
    layer = FakeNVML(devices=[A100, RTX4090], fail={(1, "memory"): gpumod.NVML_ERROR_NO_PERMISSION})
    r = collect_gpus(nvml=layer, env={})
    assert r["state"] == "ok"
    assert r["gpus"][1]["memory_total_mib"] is None
    assert "Insufficient Permissions" in r["gpus"][1]["errors"]["memory_total_mib"]
    assert r["gpus"][1]["name"] == "NVIDIA GeForce RTX 4090"
    assert layer.calls == ["init", "shutdown"]


def test_mig_enabled_nvml() -> None:
    mig_a100 = {**A100, "mig": (1, 1)}
    r = collect_gpus(nvml=FakeNVML(devices=[mig_a100]), env={})
    assert r["gpus"][0]["mig_mode"] == "enabled"


# -- hangs -----------------------------------------------------------------------------------


def test_hung_smi_is_killed(tmp_path: Path) -> None:
    fake_smi(tmp_path / "bin", rows=TWO_GPUS, hang=True)
    start = time.monotonic()
    r = collect_gpus(nvml=False, env=_env(tmp_path / "bin"), smi_dirs=(), smi_timeout=1.0)
    assert time.monotonic() - start < 8
    assert r["state"] == "timeout"
    assert "no answer" in r["reason"]


def test_hung_nvml_falls_back_to_smi(tmp_path: Path) -> None:
    fake_smi(tmp_path / "bin", rows=TWO_GPUS, header=HEADER.format(driver="550.54.15", cuda="12.4"))
    start = time.monotonic()
    r = collect_gpus(nvml=FakeNVML(devices=[A100], hang=20), env=_env(tmp_path / "bin"), smi_dirs=(), nvml_timeout=0.5)
    assert time.monotonic() - start < 8
    assert r["state"] == "ok" and r["source"] == "nvidia-smi"
    assert r["attempts"][0]["state"] == "timeout"


def test_injected_run() -> None:
    seen: list[list[str]] = []

    def run(argv: list[str], timeout: float) -> CommandResult:
        seen.append(list(argv))
        assert timeout <= 10.0
        if len(argv) > 1:
            return CommandResult(0, TWO_GPUS)
        return CommandResult(0, HEADER.format(driver="550.54.15", cuda="12.4"))

    r = collect_gpus(nvml=False, run=run, env={}, which=lambda name, path=None: "/x/nvidia-smi")
    assert r["state"] == "ok" and len(r["gpus"]) == 2
    assert seen[0] == [
        "/x/nvidia-smi",
        "--query-gpu=index,name,uuid,driver_version,memory.total,compute_cap,mig.mode.current",
        "--format=csv,noheader,nounits",
    ]
    assert seen[1] == ["/x/nvidia-smi"]


def test_default_collect_never_raises() -> None:
    r = collect_gpus(nvml_timeout=5, smi_timeout=5)  # the real machine, GPU or not
    assert r["state"] in ("ok", "no-gpu", "no-driver", "driver-error", "timeout")
    _json_ok(r)


# -- CUDA_VISIBLE_DEVICES --------------------------------------------------------------------


GPUS = [{"index": 0, "uuid": UUID_A}, {"index": 1, "uuid": UUID_B}]


@pytest.mark.parametrize(
    ("value", "visible", "hidden"),
    [
        (None, [0, 1], []),
        ("", [], [0, 1]),
        ("  ", [], [0, 1]),
        ("-1", [], [0, 1]),
        ("1", [1], [0]),
        ("1,0", [1, 0], []),
        ("0,-1,1", [0], [1]),
        ("0,5,1", [0], [1]),
        ("0,0", [], [0, 1]),
        ("1gpu", [1], [0]),
        (" 1 , 0 ", [1, 0], []),
        ("GPU-bbbbbbbb", [1], [0]),
        ("gpu-aaaaaaaa-1111-2222-3333-444444444444", [0], [1]),
        ("GPU-", [], [0, 1]),  # ambiguous prefix: CUDA stops
        ("GPU-cccc,0", [], [0, 1]),
        ("bbbbbbbb-5555-6666-7777-888888888888", [1], [0]),
        (f"MIG-{UUID_A}/1/0", [0], [1]),
    ],
)
def test_resolve_visible(value: str | None, visible: list[int], hidden: list[int]) -> None:
    vis = resolve_visible(value, GPUS)
    assert (vis["visible"], vis["hidden"]) == (visible, hidden), vis


def test_resolve_visible_details() -> None:
    vis = resolve_visible("0,-1,1", GPUS, "PCI_BUS_ID")
    assert vis["stopped_at"] == "-1" and vis["ignored"] == ["1"] and vis["device_order"] == "PCI_BUS_ID"
    vis = resolve_visible("MIG-7f0a7d2e-26b4-5b2e-9d8c-0e1b2c3d4e5f", GPUS)
    assert vis["visible"] is None and vis["unresolved"] == ["MIG-7f0a7d2e-26b4-5b2e-9d8c-0e1b2c3d4e5f"]
    vis = resolve_visible("1", [])  # no driver: indices cannot be checked
    assert vis["visible"] is None and vis["set"] is True
    assert resolve_visible("0,0", GPUS)["note"].startswith("duplicate")


MIG_1 = "MIG-11111111-aaaa-5bbb-8ccc-000000000001"
MIG_2 = "MIG-22222222-aaaa-5bbb-8ccc-000000000002"
MIG_GPUS = [
    {"index": 0, "uuid": UUID_A},
    {"index": 1, "uuid": UUID_B, "mig_devices": [{"uuid": MIG_1}, {"uuid": MIG_2}]},
]


@pytest.mark.parametrize(
    ("value", "visible", "mig", "unresolved"),
    [
        (MIG_1, [1], {MIG_1: 1}, []),
        (MIG_1.lower(), [1], {MIG_1.lower(): 1}, []),
        (f"{MIG_1},{MIG_2}", [1], {MIG_1: 1, MIG_2: 1}, []),  # two instances of one GPU: not a duplicate
        (f"0,{MIG_2}", [0, 1], {MIG_2: 1}, []),
        ("MIG-33333333-aaaa-5bbb-8ccc-000000000003", None, {}, ["MIG-33333333-aaaa-5bbb-8ccc-000000000003"]),
        (
            f"MIG-33333333-aaaa-5bbb-8ccc-000000000003,{MIG_1}",
            [1],
            {MIG_1: 1},
            ["MIG-33333333-aaaa-5bbb-8ccc-000000000003"],
        ),
    ],
)
def test_resolve_visible_mig_instances(value: str, visible: list[int] | None, mig: dict, unresolved: list) -> None:
    vis = resolve_visible(value, MIG_GPUS)
    assert (vis["visible"], vis["mig"], vis["unresolved"]) == (visible, mig, unresolved), vis


@pytest.mark.parametrize(
    ("value", "gpus", "text"),
    [
        (None, GPUS, None),
        ("1", GPUS, "CUDA_VISIBLE_DEVICES='1': 1 of 2 GPU(s) visible (GPU 1 as cuda:0)"),
        ("", GPUS, "CUDA_VISIBLE_DEVICES='': 0 of 2 GPU(s) visible (empty: no GPU visible)"),
        (
            "1,7,0",
            GPUS,
            "CUDA_VISIBLE_DEVICES='1,7,0': 1 of 2 GPU(s) visible (GPU 1 as cuda:0); CUDA stops reading at '7' "
            "and ignores '0': index 7 is out of range (2 GPU(s))",
        ),
        (
            "MIG-7f0a7d2e-26b4-5b2e-9d8c-0e1b2c3d4e5f",
            GPUS,
            "CUDA_VISIBLE_DEVICES='MIG-7f0a7d2e-26b4-5b2e-9d8c-0e1b2c3d4e5f' names MIG instance(s); tvwizard does "
            "not map those to their GPU, so which GPUs CUDA sees is not checked",
        ),
        ("0", [], "CUDA_VISIBLE_DEVICES='0': not checked (no list of GPUs to check it against)"),
        (
            f"0,{MIG_2},MIG-33333333-aaaa-5bbb-8ccc-000000000003",
            MIG_GPUS,
            f"CUDA_VISIBLE_DEVICES='0,{MIG_2},MIG-33333333-aaaa-5bbb-8ccc-000000000003': 2 of 2 GPU(s) visible "
            "(GPU 0 as cuda:0, a MIG instance of GPU 1 as cuda:1); 'MIG-33333333-aaaa-5bbb-8ccc-000000000003' "
            "not matched to a GPU",
        ),
    ],
)
def test_visible_devices_text(value: str | None, gpus: list, text: str | None) -> None:
    """The sentence `check -v` and the report print: what CUDA_VISIBLE_DEVICES does."""
    from tvwizard.gpu import visible_devices_text

    assert visible_devices_text(resolve_visible(value, gpus)) == text


MIXED = [
    {"index": 0, "uuid": UUID_A, "name": "NVIDIA GeForce RTX 3060", "compute_capability": "8.6"},
    {"index": 1, "uuid": UUID_B, "name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"},
]


@pytest.mark.parametrize(
    ("value", "gpus", "order", "caveat"),
    [
        (None, MIXED, None, True),  # every GPU visible: CUDA puts the 4090 first, NVML the 3060
        ("1", MIXED, None, True),  # "1" is CUDA's second-fastest, not NVML's GPU 1
        ("1", MIXED, "FASTEST_FIRST", True),
        ("1", MIXED, "PCI_BUS_ID", False),
        ("1", MIXED, " pci_bus_id ", False),
        ("GPU-bbbbbbbb", MIXED, None, False),  # one GPU by UUID: it is cuda:0 whatever the order
        ("GPU-bbbbbbbb,GPU-aaaaaaaa", MIXED, None, True),  # two: their cuda:N follow CUDA's order
        (None, GPUS, None, False),  # the same model: ties keep PCI order
        ("1,0", [{**g, "name": "NVIDIA H100"} for g in GPUS], None, False),
        ("1,1", MIXED, None, False),  # a repeated entry: CUDA sees no GPU, so nothing to number
    ],
)
def test_device_order_caveat(value: str | None, gpus: list, order: str | None, caveat: bool) -> None:
    """NVML numbers GPUs by PCI bus, CUDA fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID."""
    from tvwizard.gpu import visible_devices_text

    vis = resolve_visible(value, gpus, order)
    assert vis["order_caveat"] is caveat
    text = visible_devices_text(vis) or ""
    assert ("CUDA numbers them fastest first" in text) is caveat


# -- collect_system --------------------------------------------------------------------------


def test_collect_system_here() -> None:
    s = collect_system(sys.prefix)
    _json_ok(s)
    assert s["errors"] == {}
    assert s["os"]["system"] == platform.system()
    assert s["os"]["platform"]
    assert s["kernel"]["release"] == platform.release()
    assert s["cpu"]["logical"] >= 1
    assert s["cpu"]["physical"] is None or 1 <= s["cpu"]["physical"] <= s["cpu"]["logical"]
    if sys.platform.startswith("linux"):
        assert s["cpu"]["model"]
        assert s["os"]["pretty_name"]
    mem = s["memory"]
    assert 0 < mem["available"] <= mem["total"]
    assert mem["total"] == psutil.virtual_memory().total
    disk = s["disk"]
    assert disk["path"] == sys.prefix and 0 < disk["free"] <= disk["total"]
    assert s["disk_tmp"]["free"] > 0
    assert isinstance(s["container"]["detected"], bool)
    assert isinstance(s["wsl"]["detected"], bool)


def test_collect_system_prefix_not_created_yet(tmp_path: Path) -> None:
    s = collect_system(str(tmp_path / "envs" / "new-env"))
    assert s["disk"]["checked"] == str(tmp_path)
    assert collect_system(None)["disk"] is None


def test_collect_system_guards_each_field(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> None:
        raise RuntimeError("no /proc/meminfo")

    monkeypatch.setattr(psutil, "virtual_memory", boom)
    s = collect_system(sys.prefix)
    assert s["memory"] is None
    assert s["errors"]["memory"] == "RuntimeError: no /proc/meminfo"
    assert s["cpu"]["logical"] >= 1  # the rest is still there


def test_fake_root_container_and_wsl(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "os-release").write_text(
        'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\n'
    )
    (tmp_path / "proc" / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "kernel" / "osrelease").write_text("5.15.153.1-microsoft-standard-WSL2\n")
    (tmp_path / "proc" / "1").mkdir()
    (tmp_path / "proc" / "1" / "cgroup").write_text("0::/kubepods/besteffort/pod1234/abcd\n")
    (tmp_path / ".dockerenv").write_text("")
    (tmp_path / "usr" / "lib" / "wsl" / "lib").mkdir(parents=True)
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "WSL_DISTRO_NAME": "Ubuntu"}
    s = collect_system(None, root=str(tmp_path), env=env)
    assert s["os"]["pretty_name"] == "Ubuntu 22.04.4 LTS"
    assert s["os"]["id"] == "ubuntu" and s["os"]["version_id"] == "22.04"
    c = s["container"]
    assert c["detected"] and c["kind"] == "kubernetes"
    assert "/.dockerenv exists" in c["hints"] and any("kubepods" in h for h in c["hints"])
    w = s["wsl"]
    assert w["detected"] and w["version"] == 2 and w["gpu_lib_dir"]


def test_fake_root_bare(tmp_path: Path) -> None:
    assert detect_container(str(tmp_path), {}) == {"detected": False, "kind": None, "hints": []}
    assert detect_wsl(str(tmp_path), {}) == {
        "detected": False,
        "version": None,
        "hints": [],
        "gpu_lib_dir": False,
    }
    (tmp_path / "proc" / "sys" / "kernel").mkdir(parents=True)
    (tmp_path / "proc" / "sys" / "kernel" / "osrelease").write_text("4.4.0-19041-Microsoft\n")
    assert detect_wsl(str(tmp_path), {})["version"] == 1
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".containerenv").write_text("")
    assert detect_container(str(tmp_path), {})["kind"] == "podman"


def test_nvml_without_cuda_version_asks_smi_header(tmp_path: Path) -> None:
    class OldNVML(FakeNVML):
        def cuda_driver_version(self) -> int:
            raise NVMLError(gpumod.NVML_ERROR_FUNCTION_NOT_FOUND)

    layer = OldNVML("418.40.04", devices=[K80])
    fake_smi(tmp_path / "bin", rows="", header=HEADER.format(driver="418.40.04", cuda="10.1"))
    r = collect_gpus(nvml=layer, env=_env(tmp_path / "bin"), smi_dirs=())
    assert r["source"] == "nvml" and r["driver"] == "418.40.04"
    assert r["cuda_driver"] == "10.1" and r["cuda_driver_int"] == 10010
    assert r["attempts"][-1]["only"] == "cuda_driver"


def test_overrides_name_the_only_driver_files_tried(tmp_path: Path) -> None:
    """TVWIZARD_NVML / TVWIZARD_NVIDIA_SMI: only the named files, so a wrong path is "no driver"."""
    bindir = tmp_path / "bin"
    fake_smi(bindir, rows=TWO_GPUS, header=HEADER.format(driver="550.54.15", cuda="12.4"))
    env = _env(bindir, TVWIZARD_NVML="/nonexistent/libnvidia-ml.so.1", TVWIZARD_NVIDIA_SMI="/nonexistent/nvidia-smi")
    r = collect_gpus(env=env, smi_dirs=())
    assert r["state"] == "no-driver" and r["gpus"] == []  # the nvidia-smi on PATH was not asked
    nvml, smi = r["attempts"]
    assert "/nonexistent/libnvidia-ml.so.1" in nvml["error"] and "[TVWIZARD_NVML=" in nvml["error"]
    assert smi["error"] == "/nonexistent/nvidia-smi (TVWIZARD_NVIDIA_SMI) is not an executable file"
    # named and there: used, wherever it lives
    env["TVWIZARD_NVIDIA_SMI"] = str(bindir / "nvidia-smi")
    env["PATH"] = "/nonexistent"
    r = collect_gpus(env=env, smi_dirs=())
    assert (r["state"], r["source"], r["cuda_driver"]) == ("ok", "nvidia-smi", "12.4")
    assert [g["name"] for g in r["gpus"]] == ["NVIDIA A100-SXM4-80GB", "NVIDIA GeForce RTX 4090"]
