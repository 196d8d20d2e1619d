"""Which Python to diagnose, and whether it can be diagnosed at all.

By default the target is the interpreter a user means by "my Python": the active
virtualenv, else the active conda env, else ``python3`` on PATH.  tvwizard's own
interpreter is never assumed to be the target: people install tvwizard with pipx, into an
env of its own.  ``--python PATH`` picks another.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tvwizard.bounded import run_bounded
from tvwizard.model import Target

MIN_PROBE_PYTHON = (3, 8)

QUERY_TIMEOUT = 30.0  # seconds for the interpreter's first answer, unless --timeout says less
QUERY_OUTPUT_BYTES = 256 * 1024  # what is kept of the query's stdout, of its stderr and of its answer

# Must run on any Python, 2.7 included, so that an old one gets a clear message.  The answer
# goes to a private pipe (its fd is the last argument): whatever the target prints, from a
# sitecustomize, a thread or an atexit handler, cannot be taken for it or drown it.
_QUERY = (
    "import sys, os, json\n"
    "os.write(int(sys.argv[-1]), (json.dumps({'version': list(sys.version_info[:3]),"
    " 'executable': sys.executable,"
    " 'prefix': sys.prefix, 'base_prefix': getattr(sys, 'base_prefix', sys.prefix),"
    " 'implementation': getattr(getattr(sys, 'implementation', None), 'name', 'cpython'),"
    " 'conda': os.path.isdir(os.path.join(sys.prefix, 'conda-meta'))}) + '\\n').encode('ascii'))\n"
)


def query_timeout(timeout: float | None) -> float:
    """The limit on the interpreter query for ``--timeout`` (None: the default).

    A short ``--timeout`` shortens it (a hanging target is given up on that soon); a long
    one lengthens it in proportion, as it does every static probe's (180 s is the default).
    """
    if timeout is None:
        return QUERY_TIMEOUT
    return min(timeout, QUERY_TIMEOUT * max(1.0, timeout / 180))


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


def _answer(channel: bytes) -> dict:
    """The query's answer (json.dumps is ASCII: each byte of a path that is not UTF-8 comes
    back as the same lone surrogate ``os.fsdecode`` gives)."""
    info = json.loads(channel.decode("ascii"))
    if not isinstance(info, dict):
        raise ValueError("not an answer")
    return info


def _missing(path: Path) -> str:
    """Why ``path`` cannot be opened: a symlink loop, a dangling link, or no such file."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symlink loop"
        if os.path.islink(path):
            return "a symlink to nothing (" + os.fsdecode(os.readlink(path)) + ")"
    return "no such file"


def resolve_target(
    python: str | None,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
) -> Target:
    """Find and check the target interpreter; raise :class:`TargetError` if unusable.

    ``timeout``: the CLI's ``--timeout`` (see :func:`query_timeout`).
    """
    if python is not None and not python.strip():
        raise TargetError("--python is empty: give an interpreter's path or name, or leave --python out")
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
        raise TargetError(f"{cand.python}: {_missing(path)}")
    if path.is_dir():
        inner = _env_python(str(path))
        if inner is None:
            raise TargetError(f"{cand.python}: is a directory, not a Python interpreter")
        path = Path(inner)
    if not os.access(path, os.X_OK):
        raise TargetError(f"{path}: not executable")
    limit = query_timeout(timeout)
    try:
        # The process's exit is the answer: a daemon it leaves holding stdout is not waited for.
        proc = run_bounded(
            [str(path), "-c", _QUERY],
            timeout=limit,
            max_bytes=QUERY_OUTPUT_BYTES,
            env=env,
            cwd=cwd or "/",  # no shadowing of json/os from the user's folder here
            with_channel=True,
        )
    except OSError as exc:
        raise TargetError(f"{path}: cannot run it: {exc.strerror or exc}") from None
    if proc.timed_out:
        raise TargetError(f"{path}: did not answer within {limit:g} s (is it a Python interpreter?)")
    try:
        info = _answer(proc.channel)
        version = tuple(int(v) for v in info["version"])
    except (ValueError, IndexError, KeyError, TypeError):
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = f" ({err[-1][:200]})" if err else ""
        if not err and proc.returncode is not None:
            hint = f" (it exited with code {proc.returncode} without answering)"
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
