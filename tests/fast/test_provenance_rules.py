"""Root causes from provenance, end to end on synthetic installs: real probes, real `check --json`.

Each fake install fails the way a real one does (a loader error naming a file, a package of
another Python on PYTHONPATH, a file two packages claim), and the test asserts the root cause
tvwizard names first, what the symptoms fold under, and the first fix.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from fakes import FakeEnv, check_json_with, fake_env_vars, run_tvwizard
from test_provenance_probe import add_dist, record_line

from tvwizard.cli.fix import apply_candidates, first_unfixed_error
from tvwizard.model import Finding, Fix, Report, Severity, Target

LOAD = "import ctypes, os\nctypes.CDLL(os.path.join(os.path.dirname(__file__), '..', {rel!r}))"


def roots(data: dict) -> list[dict]:
    return [f for f in data["findings"] if f["caused_by"] is None]


def finding(data: dict, fid: str) -> dict:
    return next(f for f in data["findings"] if f["id"] == fid)


def test_library_two_packages_claim_is_overwritten_file_naming_both(tmp_path: Path) -> None:
    site = FakeEnv(torch_extra=LOAD.format(rel="nvidia/nccl/lib/libnccl.so.2")).build(tmp_path / "site")
    lib = site / "nvidia" / "nccl" / "lib" / "libnccl.so.2"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF the cu13 library" * 20)
    original = record_line(site, "nvidia/nccl/lib/libnccl.so.2")
    lib.unlink()
    lib.write_bytes(b"\x7fELF the cu12 one")
    add_dist(site, "nvidia-nccl-cu13", "2.30.7", [original])
    add_dist(site, "nccl-cu12-standin", "2.18.1", [record_line(site, "nvidia/nccl/lib/libnccl.so.2")])
    data = check_json_with(fake_env_vars(site), tmp_path)
    root = roots(data)[0]
    assert root["id"] == "overwritten-file", [(f["id"], f["title"]) for f in data["findings"]]
    assert "nccl-cu12-standin 2.18.1 overwrote nvidia/nccl/lib/libnccl.so.2" in root["title"]
    assert "nvidia-nccl-cu13 2.30.7" in root["title"]
    assert finding(data, "torch-import-failed")["caused_by"] == "overwritten-file"
    argv = root["fixes"][0]["argv"]
    assert argv[0][-3:] == ["uninstall", "-y", "nccl-cu12-standin"]
    assert argv[1][-4:] == ["install", "--force-reinstall", "--no-deps", "nvidia-nccl-cu13==2.30.7"]


def test_damaged_library_of_another_package_is_corrupt_file_with_its_owner_reinstalled(tmp_path: Path) -> None:
    site = FakeEnv(torch_extra=LOAD.format(rel="nvidia/cu13/lib/libcudart.so.13")).build(tmp_path / "site")
    lib = site / "nvidia" / "cu13" / "lib" / "libcudart.so.13"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\x7fELF" + b"\1" * 60)
    line = record_line(site, "nvidia/cu13/lib/libcudart.so.13")
    lib.write_bytes(os.urandom(64))  # same size, other bytes
    add_dist(site, "nvidia-cuda-runtime", "13.0.96", [line])
    data = check_json_with(fake_env_vars(site), tmp_path)
    root = roots(data)[0]
    assert root["id"] == "corrupt-file" and "nvidia-cuda-runtime" in root["title"]
    assert "hash-differs" in root["title"]
    assert root["fixes"][0]["argv"][0][-4:] == [
        "install",
        "--force-reinstall",
        "--no-deps",
        "nvidia-cuda-runtime==13.0.96",
    ]
    assert finding(data, "torch-import-failed")["caused_by"] == "corrupt-file"


def test_unloadable_library_first_on_ld_library_path_is_the_root_cause(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "libstdc++.so.6").write_bytes(b"x")
    site = FakeEnv(torch_extra="import ctypes\nctypes.CDLL('libstdc++.so.6')").build(tmp_path / "site")
    env = {**fake_env_vars(site), "LD_LIBRARY_PATH": f"{junk}:/nonexistent/cuda/lib64"}
    data = check_json_with(env, tmp_path)
    root = roots(data)[0]
    assert root["id"] == "library-path-override", [(f["id"], f["title"]) for f in data["findings"]]
    assert f"LD_LIBRARY_PATH entry {junk} holds {junk}/libstdc++.so.6" in root["title"]
    fix = root["fixes"][0]
    assert fix["kind"] == "env" and fix["env"] == {"LD_LIBRARY_PATH": "/nonexistent/cuda/lib64"}
    assert finding(data, "torch-import-failed")["caused_by"] == "library-path-override"


def test_another_pythons_site_packages_on_pythonpath(tmp_path: Path) -> None:
    other = "3.9" if sys.version_info[:2] != (3, 9) else "3.8"
    tag = f"cpython-{other.replace('.', '')}-x86_64-linux-gnu"
    old = tmp_path / "py" / "lib" / f"python{other}" / "site-packages"
    FakeEnv(torch_extra="raise ImportError('Failed to load PyTorch C extensions')").build(old)
    # A real compiled module of this Python's, under the other Python's tag, as a cp39 torch has one.
    import glob
    import sysconfig

    dynload = sorted(glob.glob(os.path.join(sysconfig.get_path("platstdlib"), "lib-dynload", "*.so")))
    target = old / "torch" / f"_C.{tag}.so"
    if dynload:
        shutil.copy(dynload[0], target)
    else:  # every module built in: a stub (the native probe then calls it damaged, ranked after this)
        target.write_bytes(b"\x7fELF")
    keep = tmp_path / "keep"
    keep.mkdir()
    env = {**fake_env_vars(old), "PYTHONPATH": f"{old}{os.pathsep}{keep}"}
    data = check_json_with(env, tmp_path)
    root = roots(data)[0]
    assert root["id"] == "foreign-site-packages" and root["severity"] == "error"
    assert f"Python {other}'s site-packages ({old})" in root["title"]
    assert any(tag in e["detail"] for e in root["evidence"])
    assert root["fixes"][0]["env"] == {"PYTHONPATH": str(keep)}
    assert finding(data, "torch-import-failed")["caused_by"] == "foreign-site-packages"


def test_checkout_on_pythonpath_is_fixed_by_taking_the_entry_off(tmp_path: Path) -> None:
    """A torchvision source checkout on PYTHONPATH: the entry, not the working folder, is the cause."""
    site = FakeEnv().build(tmp_path / "site")
    checkout = tmp_path / "vision"
    (checkout / "torchvision").mkdir(parents=True)
    (checkout / "setup.py").write_text("# torchvision\n")
    (checkout / "torchvision" / "__init__.py").write_text(
        "import torch\nraise RuntimeError('operator torchvision::nms does not exist')\n"
    )
    env = {**fake_env_vars(site), "PYTHONPATH": f"{checkout}{os.pathsep}{site}"}
    data = check_json_with(env, tmp_path)
    root = roots(data)[0]
    assert root["id"] == "shadowed-module" and "PYTHONPATH" in root["title"]
    assert root["fixes"][0]["id"] == "trim-pythonpath" and root["fixes"][0]["env"] == {"PYTHONPATH": str(site)}
    assert finding(data, "import-failed")["caused_by"] == "shadowed-module"
    # `fix --apply` proves the env fix by probing with it: torchvision works without the entry (no
    # terminal here to ask, so --yes, though an env fix changes nothing).
    proc = run_tvwizard("--python", sys.executable, "fix", "--apply", "--yes", "--shell", "bash", env=env, cwd=tmp_path)
    assert "shadowed-module is gone and torchvision works" in proc.stdout, proc.stdout + proc.stderr


def test_stale_user_site_copy_that_loses_is_a_warning(tmp_path: Path) -> None:
    """Two torchvision dists, the env's own first on sys.path and working: not an error."""
    site = FakeEnv().build(tmp_path / "site")
    later = tmp_path / "later"
    later.mkdir()
    add_dist(later, "torchvision", "0.28.0", [])
    env = {**fake_env_vars(site), "PYTHONPATH": f"{site}{os.pathsep}{later}"}
    data = check_json_with(env, tmp_path)
    dup = finding(data, "duplicate-install")
    assert dup["severity"] == "warning" and "the first (0.29.1) is the one Python imports" in dup["title"]
    assert data["exit_code"] == 0, json.dumps([(f["id"], f["severity"]) for f in data["findings"]])


def _report(*findings: Finding) -> Report:
    return Report(Target(python="/e/bin/python"), [], list(findings), [], "broken", 1)


def test_fix_apply_never_takes_an_info_suggestion_for_an_unexplained_error() -> None:
    cpu = Fix(id="switch-to-cpu-build", title="Switch to the CPU build", kind="command", argv=[["x"]])
    error = Finding("import-crash", Severity.ERROR, "The interpreter crashed")
    info = Finding("cuda-build-without-gpu", Severity.INFO, "CUDA build, no GPU", fixes=[cpu])
    report = _report(error, info)
    assert first_unfixed_error(report) is error
    from tvwizard.cli.fix import plan

    assert apply_candidates(report, plan(report)) == []  # the info item is never a candidate
    fixed = Finding("corrupt-file", Severity.ERROR, "damaged", fixes=[cpu])
    assert first_unfixed_error(_report(fixed, info)) is None
    assert [f.id for f, _ in apply_candidates(_report(fixed, info), plan(_report(fixed, info)))] == ["corrupt-file"]


def test_fix_apply_with_an_unfixable_error_applies_nothing_and_points_at_report(tmp_path: Path) -> None:
    """A crash at `import torch` has no known fix; the CPU-build suggestion (info) must not be run for it."""
    site = FakeEnv(torch_extra="import os\nos.abort()").build(tmp_path / "site")
    proc = run_tvwizard("--python", sys.executable, "fix", "--apply", "--yes", env=fake_env_vars(site), cwd=tmp_path)
    assert proc.returncode == 1
    assert "No fix is known for import-crash" in proc.stdout and "`tvwizard report`" in proc.stdout
    assert "About to run" not in proc.stdout and "nothing applied" in proc.stderr
    assert "cluster login node" in proc.stdout  # the CPU-build suggestion says when to keep CUDA


def test_a_folder_on_pythonpath_whose_torchvision_hangs_is_one_root_cause(tmp_path: Path) -> None:
    """An old torchvision folder on PYTHONPATH that hangs on import: the hang is that folder's
    doing, so "never finished" folds under the shadowing entry instead of standing beside it."""
    site = FakeEnv().build(tmp_path / "site")
    old = tmp_path / "old"
    (old / "torchvision").mkdir(parents=True)
    (old / "torchvision" / "__init__.py").write_text("import time\ntime.sleep(600)\n")
    env = {**fake_env_vars(site), "PYTHONPATH": f"{old}{os.pathsep}{site}"}
    data = check_json_with(env, tmp_path, "--timeout", "4")
    assert [f["id"] for f in roots(data) if f["severity"] == "error"] == ["shadowed-module"], [
        (f["id"], f["caused_by"]) for f in data["findings"]
    ]
    assert finding(data, "import-timeout")["caused_by"] == "shadowed-module"
    assert roots(data)[0]["fixes"][0]["id"] == "trim-pythonpath"
