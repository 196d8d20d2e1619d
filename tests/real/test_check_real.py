"""`tvwizard check --json`, `fix` and `report` against real torch/torchvision envs.

The envs come from ``tests/realenvs.py`` (built once from real wheels into the cache).
These tests are the product's proof: real wheels, broken the ways people break them.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
import realenvs
from fakes import live_steps, run_tvwizard

pytestmark = pytest.mark.real


def env_python(name: str) -> str:
    try:
        return str(realenvs.build(name) / "bin" / "python")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env {name} unavailable here: {exc}")


tvwizard = functools.partial(run_tvwizard, timeout=600)


def check(python: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, dict]:
    proc = tvwizard("--python", python, "check", "--json", "--no-redact", cwd=cwd, env=env)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def private_env(tmp_path: Path, name: str = "healthy", *, uninstall: str | None = None) -> Path:
    """A hard-linked private copy of real env ``name`` (optionally without one package)."""
    try:
        env = realenvs.clone(name, tmp_path / "env")
    except realenvs.Unavailable as exc:
        pytest.skip(str(exc))
    if uninstall:
        subprocess.run(
            [str(env / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", uninstall],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
    return env


def finding(data: dict, fid: str) -> dict:
    for f in data["findings"]:
        if f["id"] == fid:
            return f
    raise AssertionError(f"no {fid} in {[f['id'] for f in data['findings']]}")


def test_healthy_env_works(tmp_path):
    code, data = check(env_python("healthy"), tmp_path)
    assert code == 0, [(f["id"], f["title"]) for f in data["findings"]]
    assert data["verdict"] == "works"
    assert not [f for f in data["findings"] if f["severity"] == "error"]
    steps = live_steps(data)
    assert steps["import_torch"]["data"]["version"] == "2.14.1+cu130"
    assert steps["import_torchvision"]["data"]["version"] == "0.29.1+cu130"
    assert steps["nms_cpu"]["data"]["correct"] is True
    assert all(f["loaded"] for f in steps["extensions"]["data"]["files"])
    # torchvision's own GPU code, read from its .nv_fatbin without a GPU or a CUDA toolkit
    native = next(p for p in data["probes"] if p["name"] == "native")
    tv_files = {f["path"].rsplit("/", 1)[-1]: f for f in native["data"]["packages"]["torchvision"]["files"]}
    assert tv_files["_C_stable.so"]["cuda_arch"] == {"sm": [75, 80, 86, 90, 100, 120], "ptx": [120]}
    assert "cuda_arch" not in tv_files["image_stable.so"]  # no GPU code in the image extension


def test_cpu_torch_with_cuda_torchvision(tmp_path):
    code, data = check(env_python("cpu-torch-cuda-tv"), tmp_path)
    assert code == 1
    ids = [f["id"] for f in data["findings"]]
    assert ids[0] == "build-variant-mismatch", ids
    # one fact, one root cause: the version gap is a symptom of the build mismatch
    assert finding(data, "version-mismatch")["caused_by"] == "build-variant-mismatch"
    assert [f["id"] for f in data["findings"] if not f["caused_by"] and f["severity"] == "error"] == ids[:1]
    variant = finding(data, "build-variant-mismatch")
    assert "0.29.1+cu130" in variant["title"] and "2.13.0+cpu" in variant["title"]
    missing = finding(data, "missing-shared-library")
    assert "libc10_cuda.so" in missing["title"]
    assert missing["caused_by"] == "build-variant-mismatch"
    imp = finding(data, "import-failed")
    assert "torchvision::nms does not exist" in imp["title"]
    assert imp["caused_by"] == "build-variant-mismatch"
    # The fix keeps the CPU torch and installs the CPU torchvision made for it, from the CPU index.
    fix = variant["fixes"][0]
    argv = fix["argv"][0]
    assert argv[:4] == [env_python("cpu-torch-cuda-tv"), "-m", "pip", "install"]
    assert "torchvision==0.28.0+cpu" in argv
    assert argv[argv.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"


def test_torchvision_made_for_older_torch(tmp_path):
    code, data = check(env_python("tv028-on-torch2141"), tmp_path)
    assert code == 1
    vm = finding(data, "version-mismatch")
    assert "0.28.0" in vm["title"] and "2.14.1" in vm["title"]
    assert any("undefined symbol" in e["detail"] for e in vm["evidence"])
    argv = vm["fixes"][0]["argv"][0]
    assert "torchvision==0.29.1" in argv and "--index-url" not in argv  # PyPI's build is cu130 too
    assert finding(data, "import-failed")["caused_by"] == "version-mismatch"


def test_torch_without_a_requirement(tmp_path):
    code, data = check(env_python("torch-missing-dep"), tmp_path)
    assert code == 1
    dep = finding(data, "missing-dependency")
    assert "typing-extensions" in dep["title"]
    assert finding(data, "torch-import-failed")["caused_by"] == "missing-dependency"


def test_torchvision_py_in_working_folder(tmp_path):
    (tmp_path / "torchvision.py").write_text("# my script, unluckily named\n")
    code, data = check(env_python("healthy"), tmp_path)
    assert code == 1
    shadow = finding(data, "shadowed-module")
    assert str(tmp_path / "torchvision.py") in shadow["title"]


def test_fix_apply_offline_then_finding_gone(tmp_path):
    """Apply the recommended fix to a private copy of a broken env (local wheels, no network)."""
    env = private_env(tmp_path, "tv028-on-torch2141")
    python = str(env / "bin" / "python")
    work = tmp_path / "work"
    work.mkdir()
    code, before = check(python, work)
    assert code == 1 and "version-mismatch" in [f["id"] for f in before["findings"]]
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", "--finding", "version-mismatch", cwd=work)
    assert "Successfully installed torchvision-0.29.1" in proc.stdout, proc.stdout + proc.stderr
    assert "version-mismatch is gone" in proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code, after = check(python, work)
    assert code == 0 and after["verdict"] == "works"


def test_fix_apply_needs_a_yes(tmp_path):
    code = tvwizard("--python", env_python("tv028-on-torch2141"), "fix", "--apply", cwd=tmp_path)
    assert code.returncode == 2
    assert "--yes" in code.stderr


def test_report_compare_healthy_vs_broken(tmp_path):
    a, b = tmp_path / "healthy.json", tmp_path / "broken.json"
    assert tvwizard("--python", env_python("healthy"), "report", "-o", str(a), cwd=tmp_path).returncode == 0
    assert tvwizard("--python", env_python("cpu-torch-cuda-tv"), "report", "-o", str(b), cwd=tmp_path).returncode == 1
    home = str(Path.home())
    for path in (a, b):
        text = path.read_text()
        assert json.loads(text)["schema"] == "tvwizard.report/1"
        assert home + "/" not in text  # redacted by default
    proc = tvwizard("compare", str(a), str(b), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "2.13.0+cpu" in text and "2.14.1+cu130" in text
    assert "build-variant-mismatch" in text
    md = tvwizard("--python", env_python("cpu-torch-cuda-tv"), "report", "-o", "-", cwd=tmp_path)
    assert md.stdout.startswith("# ") and "build-variant-mismatch" in md.stdout


def test_truncated_extension_crashes_the_import_and_a_reinstall_repairs_it(tmp_path):
    """A half-written _C_stable.so (an interrupted install): the loader maps it past its end."""
    env = private_env(tmp_path, "healthy")
    so = realenvs.site_packages(env) / "torchvision" / "_C_stable.so"
    head = so.read_bytes()[:4096]
    so.unlink()  # a hard link to the cached env: never write through it
    so.write_bytes(head)
    python = str(env / "bin" / "python")
    work = tmp_path / "work"
    work.mkdir()
    code, data = check(python, work)
    assert code == 1
    corrupt = finding(data, "corrupt-file")
    assert "torchvision/_C_stable.so (truncated)" in corrupt["title"]
    assert data["findings"][0]["id"] == "corrupt-file"
    crash = finding(data, "import-crash")  # SIGBUS (or SIGSEGV) while importing torchvision
    assert crash["caused_by"] == "corrupt-file" and "import torchvision" in crash["title"]
    assert "--force-reinstall" in corrupt["fixes"][0]["argv"][0]
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", "--finding", "corrupt-file", cwd=work)
    assert "corrupt-file is gone" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0


def test_stale_copy_on_pythonpath_is_the_root_cause_not_the_versions(tmp_path):
    """torchvision 0.28.0 left on PYTHONPATH hides the env's own, matching 0.29.1."""
    import os

    python = env_python("healthy")
    stale = tmp_path / "stale"
    pip = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--target", str(stale), "torchvision==0.28.0"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if pip.returncode != 0:
        pytest.skip(f"torchvision 0.28.0 wheel not available here: {pip.stderr[-300:]}")
    env = {**os.environ, "PYTHONPATH": str(stale)}
    code, data = check(python, tmp_path, env)
    assert code == 1
    root = data["findings"][0]
    assert root["id"] == "duplicate-install"
    assert f"torchvision 0.28.0 on PYTHONPATH ({stale})" in root["title"] and "0.29.1" in root["title"]
    assert finding(data, "version-mismatch")["caused_by"] == "duplicate-install"
    fix = root["fixes"][0]
    assert fix["kind"] == "env" and fix["env"] == {"PYTHONPATH": None}
    # `fix --apply` proves an env fix by probing with the environment it describes.
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", "--shell", "fish", cwd=tmp_path, env=env)
    assert "duplicate-install is gone and torchvision works" in proc.stdout, proc.stdout + proc.stderr
    assert "set -e PYTHONPATH" in proc.stdout and proc.returncode == 0
    # And with the fix made for real, it works.
    code, data = check(python, tmp_path, {k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert code == 0


def test_ld_preload_of_another_libc10_breaks_import_torch(tmp_path):
    """A library torch ships, preloaded from elsewhere: the real loader takes it, torch dies."""
    import os
    import shutil

    if shutil.which("gcc") is None:
        pytest.skip("no gcc here to build the impostor library")
    python = env_python("healthy")
    src = tmp_path / "x.c"
    src.write_text("int tvwizard_impostor(void) { return 0; }\n")
    lib = tmp_path / "libc10.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-Wl,-soname,libc10.so", "-o", str(lib), str(src)], check=True)
    env = {**os.environ, "LD_PRELOAD": str(lib)}
    code, data = check(python, tmp_path, env)
    assert code == 1
    root = data["findings"][0]
    assert root["id"] == "library-path-override"
    assert str(lib) in root["title"] and "torch/lib/libc10.so" in root["title"]
    assert finding(data, "torch-import-failed")["caused_by"] == "library-path-override"
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", cwd=tmp_path, env=env)
    assert "library-path-override is gone and torchvision works" in proc.stdout, proc.stdout + proc.stderr
    assert "unset LD_PRELOAD" in proc.stdout


def test_uninstalled_nvidia_wheel_is_the_root_of_the_missing_library(tmp_path):
    """torch 2.14.1 without nvidia-cudnn-cu13: `import torch` fails on libcudnn.so.9, even on CPU."""
    env = private_env(tmp_path, "healthy", uninstall="nvidia-cudnn-cu13")
    python = str(env / "bin" / "python")
    work = tmp_path / "work"
    work.mkdir()
    code, data = check(python, work)
    assert code == 1
    root = data["findings"][0]
    assert root["id"] == "missing-dependency" and "nvidia-cudnn-cu13==" in root["title"]
    lib = finding(data, "missing-shared-library")
    assert "libcudnn.so.9" in lib["title"] and lib["caused_by"] == "missing-dependency"
    assert finding(data, "torch-import-failed")["caused_by"] == "missing-dependency"
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", cwd=work)
    assert "missing-dependency is gone" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0


def test_missing_vendored_jpeg_library_only_breaks_image_decoding(tmp_path):
    """libjpeg deleted from torchvision.libs: ops work (exit 0), image decoding does not (a warning)."""
    env = private_env(tmp_path, "healthy")
    libs = realenvs.site_packages(env) / "torchvision.libs"
    jpeg = next(libs.glob("libjpeg*.so*"), None)
    if jpeg is None:
        pytest.skip("this torchvision wheel vendors no libjpeg")
    jpeg.unlink()
    code, data = check(str(env / "bin" / "python"), tmp_path)
    assert code == 0 and data["verdict"] == "works"
    root = data["findings"][0]
    assert root["id"] == "corrupt-file" and root["severity"] == "warning"
    assert f"torchvision.libs/{jpeg.name} (missing)" in root["title"]
    assert finding(data, "image-extension-failed")["caused_by"] == "corrupt-file"
    missing = finding(data, "missing-shared-library")
    assert missing["severity"] == "warning" and missing["caused_by"] == "corrupt-file"
    assert "--force-reinstall" in root["fixes"][0]["argv"][0]


def test_numpy_uninstalled_is_a_missing_dependency_not_an_abi_problem(tmp_path):
    env = private_env(tmp_path, "healthy", uninstall="numpy")
    python = str(env / "bin" / "python")
    code, data = check(python, tmp_path)
    ids = [f["id"] for f in data["findings"]]
    assert code == 1 and ids[0] == "missing-dependency" and "numpy-abi" not in ids
    assert "needs numpy" in data["findings"][0]["title"]
    assert finding(data, "import-failed")["caused_by"] == "missing-dependency"


def test_torch_uninstalled_under_a_cuda_torchvision(tmp_path):
    env = private_env(tmp_path, "healthy", uninstall="torch")
    python = str(env / "bin" / "python")
    code, data = check(python, tmp_path)
    assert code == 1 and data["findings"][0]["id"] == "torch-missing"
    assert finding(data, "import-failed")["caused_by"] == "torch-missing"
    assert finding(data, "missing-shared-library")["caused_by"] == "torch-missing"  # libc10.so: torch's own


def test_torchvision_uninstalled_gets_the_paired_one_back(tmp_path):
    env = private_env(tmp_path, "healthy", uninstall="torchvision")
    python = str(env / "bin" / "python")
    code, data = check(python, tmp_path)
    root = data["findings"][0]
    assert code == 1 and root["id"] == "torchvision-missing"
    assert "torchvision==0.29.1" in root["fixes"][0]["argv"][0]  # PyPI's cu130 build, like the torch
    proc = tvwizard("--python", python, "fix", "--apply", "--yes", cwd=tmp_path)
    assert "torchvision-missing is gone" in proc.stdout and proc.returncode == 0, proc.stdout + proc.stderr
