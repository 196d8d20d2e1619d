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

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


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
        _run([python, "-m", "venv", str(dest)], log)
        if base is not None:
            src, dst = site_packages(base), site_packages(dest)
            shutil.rmtree(dst)
            # Hard links: a clone of a 5 GB env costs seconds and no disk.  pip replaces
            # files rather than editing them in place, so the base is never touched.
            _run(["cp", "-al", str(src), str(dst)], log)
        for step in spec.steps:
            _run([str(env_python(dest)), "-m", "pip", "--disable-pip-version-check", *step], log)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    (dest / STAMP).write_text(json.dumps({"name": name, "digest": spec.digest(), "spec": asdict(spec)}))
    return dest


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
