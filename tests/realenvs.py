"""Real test environments built from real wheels, cached outside the repository.

The real tier proves tvwizard against the genuine article: venvs with real torch and
torchvision wheels, broken in the ways users break them.  Building them costs minutes
and gigabytes, so each is built once into ``$TVWIZARD_ENV_CACHE`` (default
``~/.cache/tvwizard/test-envs``) and reused by later runs, CI included.

An env is described by a :class:`Spec`: the Python it needs, an optional env whose
site-packages it starts from (hard-linked, so a clone costs seconds and no disk), and pip
steps.  A finished env carries a stamp with its spec; a changed spec rebuilds it.

Run ``python tests/realenvs.py build [NAME ...]`` to build ahead of a test run, or
``python tests/realenvs.py list`` to see what is cached.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("TVWIZARD_ENV_CACHE", Path.home() / ".cache" / "tvwizard" / "test-envs"))
STAMP = ".tvwizard-env.json"


@dataclass(frozen=True)
class Spec:
    """How to build one env. ``steps`` are argument lists for ``python -m pip``."""

    python: str
    steps: tuple[tuple[str, ...], ...] = ()
    clone: str | None = None
    doc: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # Added later; left out of the digest at their defaults so older envs keep their stamps.
    system_site_packages: bool = False  # the venv sees the base Python's site-packages and the user site
    base_copy: bool = False  # not a venv: a hard-linked copy of the Python install itself (its user site counts)
    files: tuple[tuple[str, str], ...] = ()  # (path under the env, text) written after the steps
    wheels: tuple[str, ...] = ()  # stand-in wheels built here (see WHEELS) before the steps
    cite: tuple[str, ...] = ()  # the public bug reports the env reproduces

    def digest(self) -> str:
        d = asdict(self)
        for key, default in (
            ("system_site_packages", False),
            ("base_copy", False),
            ("files", ()),
            ("wheels", ()),
            ("cite", ()),
        ):
            if d[key] in (default, list(default) if isinstance(default, tuple) else default):
                d.pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


SPECS: dict[str, Spec] = {
    "healthy": Spec(
        python="3.11",
        steps=(("install", "torch==2.14.1", "torchvision==0.29.1", "numpy==2.4.6"),),
        doc="torch 2.14.1 (CUDA 13 build) + torchvision 0.29.1: a released pair; works on CPU.",
    ),
    "cpu-torch-cuda-tv": Spec(
        python="3.11",
        steps=(
            ("install", "torch==2.13.0", "numpy==2.4.6", "pillow==12.3.0"),
            ("install", "--no-deps", "torchvision==0.29.1"),
        ),
        doc="torch 2.13.0+cpu with the CUDA torchvision 0.29.1 made for torch 2.14.",
    ),
    "tv028-on-torch2141": Spec(
        python="3.11",
        clone="healthy",
        steps=(("install", "--no-deps", "torchvision==0.28.0"),),
        doc="torch 2.14.1 with torchvision 0.28.0 (made for torch 2.13): undefined symbol.",
    ),
    "torch-missing-dep": Spec(
        python="3.11",
        clone="healthy",
        steps=(("uninstall", "-y", "typing_extensions"),),
        doc="torch 2.14.1 + torchvision 0.29.1 with torch's requirement typing-extensions removed.",
    ),
    # -- provenance scenarios (issue 15): each reproduces a public bug report ----------------
    "tv0290-on-torch2141": Spec(
        python="3.11",
        clone="healthy",
        steps=(("install", "--no-deps", "torchvision==0.29.0"),),
        doc="Healthy: torch 2.14.1 with torchvision 0.29.0, whose metadata pins torch==2.14.0 (a patch off).",
        cite=(
            "https://github.com/rlworkgroup/garage/pull/1361",  # a pip resolver complaint that is harmless
        ),
    ),
    "usersite-tv028": Spec(
        python="3.11",
        clone="healthy",
        system_site_packages=True,
        steps=(
            (
                "install",
                "--no-deps",
                "--target",
                "{env}/userbase/lib/python3.11/site-packages",
                "torchvision==0.28.0",
            ),
        ),
        doc="Healthy: a venv that sees the user site (PYTHONUSERBASE={env}/userbase), where an old "
        "torchvision 0.28.0 lies; the venv's own site-packages comes first, so it never loads.",
        cite=("https://github.com/pytorch/pytorch/issues/119072",),  # torch imported from ~/.local
    ),
    "system-usersite-tv028": Spec(
        python="3.11",
        clone="healthy",
        base_copy=True,
        steps=(
            (
                "install",
                "--no-deps",
                "--target",
                "{env}/userbase/lib/python3.11/site-packages",
                "torchvision==0.28.0",
            ),
        ),
        doc="A system Python (no venv) with torch 2.14.1 + torchvision 0.29.1; its user site "
        "(PYTHONUSERBASE={env}/userbase) holds torchvision 0.28.0, which wins.",
        cite=(
            "https://github.com/pytorch/pytorch/issues/119072",  # torch imported from ~/.local
            "https://github.com/pytorch/vision/issues/4240",
        ),
    ),
    "usersite-unrelated": Spec(
        python="3.11",
        clone="healthy",
        system_site_packages=True,
        steps=(("install", "--no-deps", "--target", "{env}/userbase/lib/python3.11/site-packages", "six==1.17.0"),),
        doc="Healthy: the user site (PYTHONUSERBASE={env}/userbase) is on sys.path with an unrelated package.",
        cite=("https://github.com/Djdefrag/QualityScaler/issues/103",),  # a user site that looks suspicious
    ),
    "stray-pth": Spec(
        python="3.11",
        clone="healthy",
        files=(
            ("lib/python3.11/site-packages/__editable__.old_project-0.1.pth", "/nonexistent/old-project/src\n"),
            ("lib/python3.11/site-packages/zz_tools.pth", "{env}/tools\n"),
            ("tools/mytools.py", "ANSWER = 42\n"),
        ),
        doc="Healthy: a .pth file of a deleted editable install, and one adding an unrelated tools folder.",
        cite=("https://github.com/pypa/pip/issues/9906",),
    ),
    "nccl-clobbered": Spec(
        python="3.11",
        clone="healthy",
        wheels=("nccl_cu12_standin",),
        steps=(("install", "--no-deps", "{wheels}/nccl_cu12_standin-2.18.1-py3-none-linux_x86_64.whl"),),
        doc="A second NCCL wheel for another CUDA major wrote nvidia/nccl/lib/libnccl.so.2 over nvidia-nccl-cu13's.",
        cite=(
            "https://github.com/pytorch/pytorch/issues/119932",
            "https://github.com/pytorch/pytorch/issues/119072",
            "https://github.com/vllm-project/vllm/issues/4195",
        ),
    ),
    "py312-bare": Spec(
        python="3.12",
        doc="A bare Python 3.12 venv: the target when PYTHONPATH still holds Python 3.11's site-packages.",
        cite=("https://github.com/pytorch/pytorch/issues/574",),
    ),
    "py312-pillow": Spec(
        python="3.12",
        steps=(("install", "--only-binary=:all:", "pillow==13.0.0"),),
        doc="A Python 3.12 venv with Pillow (cp312): its site-packages left on PYTHONPATH under a working 3.11 env.",
        cite=(
            # import torchvision fails in PIL's compiled core, which torchvision.datasets imports at import time
            "https://github.com/pytorch/vision/issues/7468",
            # another Python's site-packages on the path: its compiled modules do not load
            "https://github.com/numpy/numpy/issues/14661",
            "https://github.com/python-pillow/Pillow/issues/4130",
        ),
    ),
}

# Wheels no index here has, built from a few lines of C: a stand-in for a real wheel with the
# same layout (the cu12 NCCL wheel writes nvidia/nccl/lib/libnccl.so.2, as nvidia-nccl-cu13 does).
WHEELS: dict[str, dict[str, str]] = {
    "nccl_cu12_standin": {
        "name": "nccl-cu12-standin",
        "version": "2.18.1",
        "file": "nvidia/nccl/lib/libnccl.so.2",
        "soname": "libnccl.so.2",
        "source": "int ncclGetVersion(int *v) { *v = 21801; return 0; }\n",
    },
}


class Unavailable(RuntimeError):
    """The env cannot be built on this machine (no such Python, no such wheel)."""


def find_python(version: str) -> str:
    """A CPython ``major.minor`` from pyenv, else from PATH."""
    roots = [os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))]
    for root in roots:
        for exe in sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"), reverse=True):
            return exe
    exe = shutil.which(f"python{version}")
    if exe:
        return exe
    raise Unavailable(f"no Python {version} on this machine (pyenv or PATH)")


def env_python(path: Path) -> Path:
    return path / "bin" / "python"


def site_packages(path: Path) -> Path:
    found = sorted(path.glob("lib/python3*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages under {path}")
    return found[0]


def is_ready(name: str) -> bool:
    stamp = CACHE / name / STAMP
    try:
        return json.loads(stamp.read_text())["digest"] == SPECS[name].digest()
    except (OSError, ValueError, KeyError):
        return False


def _run(argv: list[str], log: Path) -> None:
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        if "No matching distribution" in tail or "Could not find a version" in tail:
            raise Unavailable(f"wheels not available here for {argv[4:]}: see {log}")
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}); log: {log}\n{tail}")


def build(name: str, *, force: bool = False) -> Path:
    """Build env ``name`` (and what it clones) unless a matching one is cached."""
    spec = SPECS[name]
    dest = CACHE / name
    if not force and is_ready(name):
        return dest
    python = find_python(spec.python)
    base = build(spec.clone) if spec.clone else None
    CACHE.mkdir(parents=True, exist_ok=True)
    # Built in place under its final name: a venv's path is baked into its scripts.  The
    # stamp, written last, is what marks it complete; a half-built env is rebuilt.
    shutil.rmtree(dest, ignore_errors=True)
    log = CACHE / f"{name}.log"
    log.write_text("")
    try:
        if spec.base_copy:
            # A "system" Python: the install itself, hard-linked; the clone's packages are linked in
            # beside the ones it already has (those are kept).
            _run(["cp", "-al", str(Path(python).resolve().parent.parent), str(dest)], log)
            if base is not None:
                src, dst = site_packages(base), site_packages(dest)
                for item in sorted(src.iterdir()):
                    if not (dst / item.name).exists():
                        _run(["cp", "-al", str(item), str(dst / item.name)], log)
        else:
            venv_args = ["--system-site-packages"] if spec.system_site_packages else []
            _run([python, "-m", "venv", *venv_args, str(dest)], log)
        if base is not None and not spec.base_copy:
            src, dst = site_packages(base), site_packages(dest)
            shutil.rmtree(dst)
            # Hard links: a clone of a 5 GB env costs seconds and no disk.  pip replaces
            # files rather than editing them in place, so the base is never touched.
            _run(["cp", "-al", str(src), str(dst)], log)
        wheels = build_wheels(spec.wheels)
        for step in spec.steps:
            args = [a.format(env=dest, wheels=wheels) for a in step]
            _run([str(env_python(dest)), "-m", "pip", "--disable-pip-version-check", *args], log)
        for rel, text in spec.files:
            path = dest / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.format(env=dest))
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    (dest / STAMP).write_text(json.dumps({"name": name, "digest": spec.digest(), "spec": asdict(spec)}))
    return dest


def build_wheels(names: tuple[str, ...]) -> Path:
    """Build the stand-in wheels ``names`` (see WHEELS) into the cache; returns their folder."""
    import base64
    import zipfile

    out = CACHE / "wheels"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        w = WHEELS[name]
        dist = w["name"].replace("-", "_")
        wheel = out / f"{dist}-{w['version']}-py3-none-linux_x86_64.whl"
        if wheel.exists():
            continue
        if shutil.which("gcc") is None:
            raise Unavailable("no gcc here to build a stand-in wheel")
        work = out / f"{name}.build"
        work.mkdir(exist_ok=True)
        (work / "lib.c").write_text(w["source"])
        lib = work / "lib.so"
        subprocess.run(
            ["gcc", "-shared", "-fPIC", f"-Wl,-soname,{w['soname']}", "-o", str(lib), str(work / "lib.c")], check=True
        )
        info = f"{dist}-{w['version']}.dist-info"
        files = {
            w["file"]: lib.read_bytes(),
            f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {w['name']}\nVersion: {w['version']}\n".encode(),
            f"{info}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: tvwizard-tests\nRoot-Is-Purelib: false\nTag: py3-none-linux_x86_64\n"
            ),
        }
        record = []
        for path, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
        tmp = wheel.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w") as zf:
            for path, data in files.items():
                zf.writestr(path, data)
        tmp.rename(wheel)
        shutil.rmtree(work, ignore_errors=True)
    return out


def clone(name: str, dest: Path) -> Path:
    """A private copy of env ``name`` at ``dest`` that a test may change (hard links; seconds).

    The cached env itself must never be modified: other tests and later runs rely on it.
    """
    base = build(name)
    python = find_python(SPECS[name].python)
    subprocess.run([python, "-m", "venv", str(dest)], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    src, dst = site_packages(base), site_packages(dest)
    shutil.rmtree(dst)
    subprocess.run(["cp", "-al", str(src), str(dst)], check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build envs (all when none named)")
    b.add_argument("names", nargs="*", help=f"any of: {', '.join(SPECS)}")
    b.add_argument("--force", action="store_true")
    sub.add_parser("list", help="show the envs and whether each is cached")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for name, spec in SPECS.items():
            print(f"{'ready ' if is_ready(name) else 'absent'}  {name:22} {spec.doc}")
        return 0
    status = 0
    for name in args.names or list(SPECS):
        try:
            path = build(name, force=args.force)
            print(f"ready   {name}: {path}")
        except Unavailable as exc:
            print(f"skipped {name}: {exc}")
        except RuntimeError as exc:
            print(f"FAILED  {name}: {exc}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
