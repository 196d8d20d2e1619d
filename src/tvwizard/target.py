"""Which Python to diagnose, and whether it can be diagnosed at all.

By default the target is the interpreter a user means by "my Python": the active
virtualenv, else the active conda env, else ``python3`` on PATH.  tvwizard's own
interpreter is never assumed to be the target: people install tvwizard with pipx, into an
env of its own.  ``--python PATH`` picks another.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tvwizard.model import Target

MIN_PROBE_PYTHON = (3, 8)

# Must run on any Python, 2.7 included, so that an old one gets a clear message.
_QUERY = (
    "import sys, os, json\n"
    "print(json.dumps({'version': list(sys.version_info[:3]), 'executable': sys.executable,"
    " 'prefix': sys.prefix, 'base_prefix': getattr(sys, 'base_prefix', sys.prefix),"
    " 'implementation': getattr(getattr(sys, 'implementation', None), 'name', 'cpython'),"
    " 'conda': os.path.isdir(os.path.join(sys.prefix, 'conda-meta'))}))\n"
)


class TargetError(Exception):
    """The target cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Candidate:
    python: str
    how: str


def _env_python(prefix: str) -> str | None:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe"):
        p = Path(prefix) / rel
        if p.exists():
            return str(p)
    return None


def default_candidate(env: dict[str, str] | None = None) -> Candidate | None:
    """The interpreter the user most likely means, and how it was chosen."""
    env = dict(os.environ) if env is None else env
    if env.get("VIRTUAL_ENV"):
        py = _env_python(env["VIRTUAL_ENV"])
        if py:
            return Candidate(py, "active virtualenv (VIRTUAL_ENV)")
    if env.get("CONDA_PREFIX"):
        py = _env_python(env["CONDA_PREFIX"])
        if py:
            return Candidate(py, "active conda env (CONDA_PREFIX)")
    for name in ("python3", "python"):
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return Candidate(found, f"{name} on PATH")
    return None


def resolve_target(python: str | None, *, env: dict[str, str] | None = None, cwd: str | None = None) -> Target:
    """Find and check the target interpreter; raise :class:`TargetError` if unusable."""
    if python:
        # A bare name (``python3``, ``python3.12``) means the one on PATH, as in a shell.
        if os.sep not in python and not (os.altsep and os.altsep in python) and not Path(python).exists():
            found_on_path = shutil.which(python, path=(env or os.environ).get("PATH"))
            if found_on_path is None:
                raise TargetError(f"{python}: not found on PATH")
            python = found_on_path
        cand = Candidate(python, "--python")
    else:
        found = default_candidate(env)
        if found is None:
            raise TargetError(
                "no Python found: no active virtualenv or conda env, and no python3 on PATH; pass --python PATH"
            )
        cand = found
    path = Path(cand.python).expanduser()
    if not path.exists():
        raise TargetError(f"{cand.python}: no such file")
    if path.is_dir():
        inner = _env_python(str(path))
        if inner is None:
            raise TargetError(f"{cand.python}: is a directory, not a Python interpreter")
        path = Path(inner)
    if not os.access(path, os.X_OK):
        raise TargetError(f"{path}: not executable")
    try:
        proc = subprocess.run(
            [str(path), "-c", _QUERY],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
            env=env,
            cwd=cwd or "/",  # no shadowing of json/os from the user's folder here
        )
    except subprocess.TimeoutExpired:
        raise TargetError(f"{path}: did not answer within 30 s (is it a Python interpreter?)") from None
    except OSError as exc:
        raise TargetError(f"{path}: cannot run it: {exc.strerror or exc}") from None
    try:
        info = json.loads(proc.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        version = tuple(int(v) for v in info["version"])
    except (ValueError, IndexError, KeyError, TypeError):
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f" ({err[-1][:200]})" if err else ""
        raise TargetError(f"{path}: not a working Python interpreter{hint}") from None
    vtext = ".".join(str(v) for v in version)
    if version < MIN_PROBE_PYTHON:
        raise TargetError(
            f"{path} is Python {vtext}: tvwizard's probes need Python 3.8 or newer "
            f"(and current torchvision needs 3.10+); pick another interpreter with --python"
        )
    return Target(
        python=str(path),
        executable=info.get("executable") or str(path),
        version=vtext,
        implementation=info.get("implementation", ""),
        prefix=info.get("prefix", ""),
        base_prefix=info.get("base_prefix", ""),
        env_kind="conda"
        if info.get("conda")
        else ("venv" if info.get("prefix") != info.get("base_prefix") else "system"),
        how_chosen=cand.how,
        cwd=cwd or os.getcwd(),
    )
