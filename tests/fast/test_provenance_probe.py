"""Provenance on the probe side: the files a failure names, traced to their owner and their path entry.

Real probes on synthetic installs: the live probe imports a fake torch that fails the way a
real one does (a loader error naming a file, a package of another Python on PYTHONPATH), and
the static probes read RECORD files written here with real sizes and hashes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path

from conftest import run_probe_sync
from fakes import FakeEnv, fake_env_vars

from tvwizard.model import RunStatus


def record_line(root: Path, rel: str) -> str:
    data = (root / rel).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def write_record(root: Path, meta: str, lines: list[str]) -> None:
    (root / meta / "RECORD").write_text("\n".join([*lines, f"{meta}/RECORD,,"]) + "\n")


def add_dist(root: Path, name: str, version: str, lines: list[str]) -> str:
    meta = f"{name.replace('-', '_')}-{version}.dist-info"
    (root / meta).mkdir()
    (root / meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    write_record(root, meta, lines)
    return meta


def live(site: Path, cwd: Path, **env: str):
    run = run_probe_sync("live", sys.executable, cwd=cwd, env={**fake_env_vars(site), **env})
    return {s.name: s for s in run.steps}


def test_damaged_library_of_a_package_is_traced_to_its_record(tmp_path: Path) -> None:
    """A library torch loads at import, no longer what its RECORD says (same size, other bytes)."""
    site = FakeEnv(
        torch_extra="import ctypes, os\nctypes.CDLL(os.path.join(os.path.dirname(__file__), 'lib', 'libc10.so'))"
    ).build(tmp_path / "site")
    lib = site / "torch" / "lib" / "libc10.so"
    lib.parent.mkdir()
    lib.write_bytes(b"\x7fELF" + b"\0" * 60)  # what the wheel held
    good = record_line(site, "torch/lib/libc10.so")
    lib.write_bytes(b"garbage!" * 8)  # bit rot: the same size, other bytes
    write_record(site, "torch-2.14.1.dist-info", [good, record_line(site, "torch/__init__.py")])
    steps = live(site, tmp_path)
    step = steps["import_torch"]
    assert step.status == "error" and "libc10.so" in step.data["error"]["message"]
    prov = {p["path"]: p for p in step.data["provenance"]}
    rec = prov[str(lib)]
    assert rec["owners"][0]["name"] == "torch" and rec["owners"][0]["version"] == "2.14.1"
    assert rec["record"] == "hash-differs" and rec["size"] == 64 and rec["matches"] is None
    assert rec["entry"]["origin"] == "pythonpath" and rec["entry"]["path"] == str(site)
    init = prov[str(site / "torch" / "__init__.py")]  # the frame that raised: intact
    assert init["record"] == "match" and init["matches"] == "torch"


def test_file_two_packages_claim_names_both_and_which_one_is_on_disk(tmp_path: Path) -> None:
    load = "import ctypes, os\nctypes.CDLL(os.path.join(os.path.dirname(__file__), '..', 'nv', 'libnccl.so.2'))"
    site = FakeEnv(torch_extra=load).build(tmp_path / "site")
    lib = site / "nv" / "libnccl.so.2"
    lib.parent.mkdir()
    lib.write_bytes(b"the cu13 library " * 10)
    original = record_line(site, "nv/libnccl.so.2")
    lib.unlink()
    lib.write_bytes(b"not a library: the other wheel's copy")
    write_record(site, "torch-2.14.1.dist-info", [])
    add_dist(site, "nccl-cu13", "2.30.7", [original])
    add_dist(site, "nccl-cu12", "2.18.1", [record_line(site, "nv/libnccl.so.2")])
    (site / "~ccl_cu13").mkdir()  # pip's stash of an interrupted uninstall
    step = live(site, tmp_path)["import_torch"]
    rec = next(p for p in step.data["provenance"] if p["path"] == os.path.normpath(str(lib)))
    assert sorted(o["name"] for o in rec["owners"]) == ["nccl-cu12", "nccl-cu13"]
    assert rec["matches"] == "nccl-cu12"  # the bytes on disk are the cu12 wheel's
    assert rec["leftovers"] == ["~ccl_cu13"]
    # The static side sees the same without importing anything: the claim and the size.
    dists = run_probe_sync("distributions", sys.executable, cwd=tmp_path, env=fake_env_vars(site)).data
    shared = [s for s in dists["shared_files"] if s["path"] == "nv/libnccl.so.2"]
    assert shared and sorted(o["key"] for o in shared[0]["owners"]) == ["nccl-cu12", "nccl-cu13"]


def test_changed_size_of_a_compiled_file_is_read_without_hashing(tmp_path: Path) -> None:
    site = FakeEnv().build(tmp_path / "site")
    lib = site / "torch" / "lib" / "libtorch_cpu.so"
    lib.parent.mkdir()
    lib.write_bytes(b"x" * 100)
    line = record_line(site, "torch/lib/libtorch_cpu.so")
    lib.write_bytes(b"x" * 40)  # cut short by a full disk
    write_record(site, "torch-2.14.1.dist-info", [line])
    run = run_probe_sync("distributions", sys.executable, cwd=tmp_path, env=fake_env_vars(site))
    assert run.status is RunStatus.OK
    record = run.data["focus"]["torch"][0]["record"]
    assert record["native_changed"] == [{"path": "torch/lib/libtorch_cpu.so", "size": 40, "record_size": 100}]
    assert run.data["shared_files"] == [] or all(
        s["path"] != "torch/lib/libtorch_cpu.so" for s in run.data["shared_files"]
    )


def test_package_of_another_python_on_pythonpath(tmp_path: Path) -> None:
    """PYTHONPATH left at Python 3.9's site-packages: its torch has only cpython-39 modules."""
    other = "3.9" if sys.version_info[:2] != (3, 9) else "3.8"
    tag = f"cpython-{other.replace('.', '')}-x86_64-linux-gnu"
    site = tmp_path / "old" / "lib" / f"python{other}" / "site-packages"
    FakeEnv(torch_extra="raise ImportError('Failed to load PyTorch C extensions')").build(site)
    (site / "torch" / f"_C.{tag}.so").write_bytes(b"\x7fELF")
    step = live(site, tmp_path)["import_torch"]
    rec = next(p for p in step.data["provenance"] if p["path"].endswith("torch/__init__.py"))
    assert rec["entry"]["origin"] == "pythonpath" and rec["entry"]["python"] == other
    assert rec["dir_abi_tags"] == [tag] and rec["dir_abi_ok"] is False
    interp = run_probe_sync("interpreter", sys.executable, cwd=tmp_path, env=fake_env_vars(site)).data
    entry = next(e for e in interp["sys_path"] if e.get("abs") == str(site))
    assert entry["origin"] == "pythonpath" and entry["python"] == other


def test_healthy_import_costs_no_provenance(tmp_path: Path) -> None:
    steps = live(FakeEnv().build(tmp_path / "site"), tmp_path)
    assert steps["import_torchvision"].status == "ok"
    assert all("provenance" not in s.data for s in steps.values())
