"""Provenance on real environments: each broken one is diagnosed, then repaired by following tvwizard.

Every scenario reproduces a public bug report (cited in ``tests/realenvs.py`` or below) with real
wheels and real installer actions.  For a broken one the test takes tvwizard's first fix of its
first root cause and does what it says (commands as argv, environment changes, renames) on a
private copy, at most three times, then asserts that ``import torch, torchvision`` and
``torchvision.ops.nms`` work in that environment.  The healthy-but-unusual ones must exit 0 with
no error finding.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import realenvs

pytestmark = pytest.mark.real

NMS = (
    "import torch, torchvision\n"
    "boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.]])\n"
    "keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), 0.5)\n"
    "assert keep.tolist() == [0, 2], keep\n"
    "print('nms ok')\n"
)


def cached(name: str) -> Path:
    try:
        return realenvs.build(name)
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env {name} unavailable here: {exc}")


def private(name: str, dest: Path) -> Path:
    try:
        return realenvs.clone(name, dest)
    except realenvs.Unavailable as exc:
        pytest.skip(str(exc))


def check(python: Path, env: dict[str, str], cwd: Path) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "tvwizard", "--python", str(python), "check", "--json", "--no-redact"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
        timeout=600,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout)


def first_error_root(data: dict) -> dict | None:
    return next((f for f in data["findings"] if f["caused_by"] is None and f["severity"] == "error"), None)


def follow_fix(fix: dict, env: dict[str, str]) -> None:
    """Do what the fix says, the way a person following it would."""
    if fix["kind"] == "command":
        for argv in fix["argv"]:
            proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
            out = proc.stdout + proc.stderr
            offline = "Failed to establish a new connection" in out and "ResolutionImpossible" in out
            if proc.returncode != 0 and ("No matching distribution" in out or offline):
                pytest.skip(f"the fix needs a wheel this machine does not have: {shlex.join(argv)}")
            assert proc.returncode == 0, f"{shlex.join(argv)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    elif fix["kind"] == "env":
        for name, value in fix["env"].items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
    elif fix["kind"] == "rename":
        for line in fix["commands"]:
            words = shlex.split(line)
            assert words[0] == "mv" and len(words) == 3, line
            os.rename(words[1], words[2])
    else:
        raise AssertionError(f"a fix to do by hand is not one this test can follow: {fix}")


def nms_works(python: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", NMS], capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env, cwd=cwd
    )


def repair(python: Path, env: dict[str, str], cwd: Path, *, rounds: int = 3) -> list[tuple[str, str]]:
    """Follow tvwizard's first fix of its first root cause until it says torchvision works."""
    followed: list[tuple[str, str]] = []
    for _ in range(rounds):
        code, data = check(python, env, cwd)
        if code == 0:
            break
        root = first_error_root(data)
        assert root is not None, [(f["id"], f["severity"]) for f in data["findings"]]
        assert root["fixes"], f"{root['id']} has no fix: {root['title']}"
        followed.append((root["id"], root["fixes"][0]["id"]))
        follow_fix(root["fixes"][0], env)
    proc = nms_works(python, env, cwd)
    assert proc.returncode == 0 and "nms ok" in proc.stdout, (followed, proc.stderr[-3000:])
    return followed


def base_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "LD_LIBRARY_PATH", "LD_PRELOAD", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


@dataclass
class Scenario:
    python: Path
    env: dict[str, str]
    cwd: Path


def _work(tmp: Path) -> Path:
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    return work


# -- broken scenarios: (set-up, expected first root cause, words its title must hold) --------------


def ld_junk_libstdcxx(tmp: Path) -> Scenario:
    """A junk libstdc++.so.6 first on LD_LIBRARY_PATH: ld.so stops there ("file too short").
    https://github.com/pytorch/pytorch/issues/85211, https://github.com/lix19937/tensorrt-insight/issues/38,
    https://github.com/pytorch/pytorch/issues/8318 (LD_LIBRARY_PATH set for libstdc++)."""
    junk = tmp / "junk-lib"
    junk.mkdir()
    (junk / "libstdc++.so.6").write_bytes(b"\0" * 12)  # a failed copy: 12 bytes
    env = {**base_env(), "LD_LIBRARY_PATH": f"{junk}:/nonexistent/cuda/lib64"}
    return Scenario(cached("healthy") / "bin" / "python", env, _work(tmp))


def checkout_on_pythonpath(tmp: Path) -> Scenario:
    """A torchvision source checkout (never built) on PYTHONPATH hides the installed torchvision.
    https://github.com/pytorch/pytorch/issues/26526, https://github.com/pytorch/pytorch/issues/4622."""
    base = cached("healthy")
    checkout = tmp / "vision"
    shutil.copytree(
        realenvs.site_packages(base) / "torchvision",
        checkout / "torchvision",
        ignore=lambda _d, names: [n for n in names if n.endswith(".so") or n == "__pycache__"],
    )
    (checkout / "setup.py").write_text("# torchvision source checkout\n")
    return Scenario(base / "bin" / "python", {**base_env(), "PYTHONPATH": str(checkout)}, _work(tmp))


def user_site_copy_wins(tmp: Path) -> Scenario:
    """A system Python whose user site holds torchvision 0.28.0: it wins over the installed 0.29.1."""
    env_dir = cached("system-usersite-tv028")
    env = {**base_env(), "PYTHONUSERBASE": str(env_dir / "userbase")}
    return Scenario(env_dir / "bin" / "python", env, _work(tmp))


def nccl_overwritten(tmp: Path) -> Scenario:
    """A second NCCL wheel wrote nvidia/nccl/lib/libnccl.so.2: `import torch` fails, undefined symbol."""
    env_dir = private("nccl-clobbered", tmp / "env")
    return Scenario(env_dir / "bin" / "python", base_env(), _work(tmp))


def cudart_bit_rot(tmp: Path) -> Scenario:
    """libcudart.so.13 of nvidia-cuda-runtime with other bytes of the same size: "invalid ELF header".
    https://github.com/Unstructured-IO/unstructured-api/issues/157 (nvidia/curand: invalid ELF header),
    https://github.com/niuchuangnn/SPICE/issues/4."""
    env_dir = private("healthy", tmp / "env")
    lib = realenvs.site_packages(env_dir) / "nvidia" / "cu13" / "lib" / "libcudart.so.13"
    size = lib.stat().st_size
    lib.unlink()  # a hard link to the cache: never write through it
    lib.write_bytes(os.urandom(size))
    return Scenario(env_dir / "bin" / "python", base_env(), _work(tmp))


def interrupted_upgrade(tmp: Path) -> Scenario:
    """pip stopped mid-upgrade: torchvision stashed as ~orchvision, a half-written torchvision beside it.
    https://github.com/pypa/pip/issues/9906 ("Ignoring invalid distribution ~…")."""
    env_dir = private("healthy", tmp / "env")
    sp = realenvs.site_packages(env_dir)
    (sp / "torchvision").rename(sp / "~orchvision")
    (sp / "torchvision").mkdir()
    for name in ("__init__.py", "_meta_registrations.py", "extension.py"):
        shutil.copy2(sp / "~orchvision" / name, sp / "torchvision" / name)
    return Scenario(env_dir / "bin" / "python", base_env(), _work(tmp))


BROKEN: dict[str, tuple[Callable[[Path], Scenario], str, tuple[str, ...]]] = {
    "ld-junk-libstdcxx": (ld_junk_libstdcxx, "library-path-override", ("LD_LIBRARY_PATH entry", "libstdc++.so.6")),
    "checkout-on-pythonpath": (checkout_on_pythonpath, "shadowed-module", ("source checkout", "PYTHONPATH")),
    "user-site-copy-wins": (user_site_copy_wins, "duplicate-install", ("0.28.0 in the user site-packages", "0.29.1")),
    "nccl-overwritten": (nccl_overwritten, "overwritten-file", ("nccl-cu12-standin", "nvidia-nccl-cu13 2.30.7")),
    "cudart-bit-rot": (cudart_bit_rot, "corrupt-file", ("nvidia-cuda-runtime", "libcudart.so.13")),
    "interrupted-upgrade": (interrupted_upgrade, "corrupt-file", ("torchvision",)),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_env_is_traced_to_its_cause_and_the_first_fix_repairs_it(name: str, tmp_path: Path) -> None:
    setup, expected, words = BROKEN[name]
    scenario = setup(tmp_path)
    code, data = check(scenario.python, scenario.env, scenario.cwd)
    assert code == 1
    root = first_error_root(data)
    assert root is not None and root["id"] == expected, [(f["id"], f["title"]) for f in data["findings"]]
    for word in words:
        assert word in root["title"], root["title"]
    symptoms = [f for f in data["findings"] if f["id"] in ("torch-import-failed", "import-failed")]
    assert symptoms and all(f["caused_by"] == expected for f in symptoms), [(f["id"], f["caused_by"]) for f in symptoms]
    followed = repair(scenario.python, dict(scenario.env), scenario.cwd)
    assert followed and followed[0][0] == expected, followed


def foreign_site_packages(tmp: Path) -> Scenario:
    """PYTHONPATH still at Python 3.11's site-packages under Python 3.12: torch's C extensions are cp311.
    https://github.com/pytorch/pytorch/issues/574."""
    sp = realenvs.site_packages(cached("healthy"))
    return Scenario(cached("py312-bare") / "bin" / "python", {**base_env(), "PYTHONPATH": str(sp)}, _work(tmp))


def test_another_pythons_site_packages_is_the_root_cause(tmp_path: Path) -> None:
    scenario = foreign_site_packages(tmp_path)
    code, data = check(scenario.python, scenario.env, scenario.cwd)
    assert code == 1
    root = first_error_root(data)
    assert root is not None and root["id"] == "foreign-site-packages", [(f["id"], f["title"]) for f in data["findings"]]
    assert "Python 3.11's site-packages" in root["title"] and "Python 3.12" in root["title"]
    assert any("cpython-311-x86_64-linux-gnu" in e["detail"] for e in root["evidence"])
    assert root["fixes"][0]["env"] == {"PYTHONPATH": None}
    assert all(
        f["caused_by"] == "foreign-site-packages"
        for f in data["findings"]
        if f["id"] in ("torch-import-failed", "import-failed")
    )
    # Following it: the entry goes, then torch is missing for 3.12 and its install is the next fix.
    # This machine has torch wheels for cp311 only, so the install step skips here (it needs PyPI).
    repair(scenario.python, dict(scenario.env), scenario.cwd)


def another_pythons_pillow(tmp: Path) -> Scenario:
    """A working Python 3.11 env with PYTHONPATH left at a Python 3.12 venv's site-packages.

    That venv holds Pillow built for 3.12; ``import torchvision`` imports PIL (torchvision.datasets),
    PYTHONPATH puts the 3.12 copy first, and its ``_imaging.cpython-312-x86_64-linux-gnu.so`` does not
    load under 3.11: "cannot import name '_imaging' from 'PIL'".
    https://github.com/pytorch/vision/issues/7468 (import torchvision dies in PIL's _imaging),
    https://github.com/numpy/numpy/issues/14661 (Python 3.8 loading Python 3.7's site-packages),
    https://github.com/python-pillow/Pillow/issues/4130 (another site-packages on the path: no _imaging).
    """
    foreign = realenvs.site_packages(cached("py312-pillow"))
    env_dir = private("healthy", tmp / "env")
    return Scenario(env_dir / "bin" / "python", {**base_env(), "PYTHONPATH": str(foreign)}, _work(tmp))


def test_another_pythons_site_packages_under_a_working_env_is_repaired_by_the_first_fix(tmp_path: Path) -> None:
    scenario = another_pythons_pillow(tmp_path)
    broken = nms_works(scenario.python, scenario.env, scenario.cwd)
    assert broken.returncode != 0 and "cannot import name '_imaging' from 'PIL'" in broken.stderr, broken.stderr[-2000:]
    code, data = check(scenario.python, scenario.env, scenario.cwd)
    assert code == 1
    root = first_error_root(data)
    assert root is not None and root["id"] == "foreign-site-packages", [(f["id"], f["title"]) for f in data["findings"]]
    assert "Python 3.12's site-packages" in root["title"] and "Python 3.11's sys.path" in root["title"], root["title"]
    assert any("cpython-312-x86_64-linux-gnu" in e["detail"] for e in root["evidence"]), root["evidence"]
    assert root["fixes"][0]["env"] == {"PYTHONPATH": None}
    symptoms = [f for f in data["findings"] if f["id"] in ("torch-import-failed", "import-failed")]
    assert symptoms and all(f["caused_by"] == "foreign-site-packages" for f in symptoms), [
        (f["id"], f["caused_by"]) for f in symptoms
    ]
    followed = repair(scenario.python, dict(scenario.env), scenario.cwd)
    assert followed == [("foreign-site-packages", "trim-pythonpath")], followed


# -- healthy but unusual: must exit 0 with no error finding -----------------------------------------


def healthy_cases(tmp: Path) -> dict[str, Scenario]:
    healthy = cached("healthy")
    sp = realenvs.site_packages(healthy)
    other_torch_lib = realenvs.site_packages(cached("cpu-torch-cuda-tv")) / "torch" / "lib"
    return {
        # https://github.com/rlworkgroup/garage/pull/1361: a pin one patch off that pip complains about
        "tv0290-on-torch2141": Scenario(cached("tv0290-on-torch2141") / "bin" / "python", base_env(), tmp),
        # https://github.com/pypa/pip/issues/9906: a .pth of a deleted editable install, an unrelated tools dir
        "stray-pth": Scenario(cached("stray-pth") / "bin" / "python", base_env(), tmp),
        # a user site with an unrelated package (https://github.com/Djdefrag/QualityScaler/issues/103)
        "usersite-unrelated": Scenario(
            cached("usersite-unrelated") / "bin" / "python",
            {**base_env(), "PYTHONUSERBASE": str(cached("usersite-unrelated") / "userbase")},
            tmp,
        ),
        # a stale torchvision 0.28.0 in the user site of a venv: the venv's own comes first
        "usersite-tv028-loses": Scenario(
            cached("usersite-tv028") / "bin" / "python",
            {**base_env(), "PYTHONUSERBASE": str(cached("usersite-tv028") / "userbase")},
            tmp,
        ),
        # LD_LIBRARY_PATH with a CUDA folder that is not there and the env's own nvidia libraries
        # (a common workaround, https://github.com/pytorch/pytorch/issues/8318)
        "harmless-ld-library-path": Scenario(
            healthy / "bin" / "python",
            {**base_env(), "LD_LIBRARY_PATH": f"/nonexistent/cuda/lib64:{sp / 'nvidia' / 'cu13' / 'lib'}"},
            tmp,
        ),
        # another torch's lib folder on LD_LIBRARY_PATH: torch's RPATH wins, nothing breaks
        # (https://github.com/pytorch/pytorch/issues/10234 blames such an entry; here it is harmless)
        "other-torch-lib-on-ld-library-path": Scenario(
            healthy / "bin" / "python", {**base_env(), "LD_LIBRARY_PATH": str(other_torch_lib)}, tmp
        ),
    }


HEALTHY = [
    "tv0290-on-torch2141",
    "stray-pth",
    "usersite-unrelated",
    "usersite-tv028-loses",
    "harmless-ld-library-path",
    "other-torch-lib-on-ld-library-path",
]


@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_but_unusual_env_is_not_broken(name: str, tmp_path: Path) -> None:
    scenario = healthy_cases(tmp_path)[name]
    code, data = check(scenario.python, scenario.env, scenario.cwd)
    errors = [(f["id"], f["title"]) for f in data["findings"] if f["severity"] == "error"]
    assert code == 0 and data["verdict"] == "works" and not errors, errors
    proc = nms_works(scenario.python, scenario.env, scenario.cwd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if name == "tv0290-on-torch2141":
        vm = next(f for f in data["findings"] if f["id"] == "version-mismatch")
        assert vm["severity"] == "warning" and "0.29.0" in vm["title"]
    if name == "usersite-tv028-loses":
        dup = next(f for f in data["findings"] if f["id"] == "duplicate-install")
        assert dup["severity"] == "warning" and "the first (0.29.1) is the one Python imports" in dup["title"]
