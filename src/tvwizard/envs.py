"""The Python environments on this machine a user may mean: the wizard's list of targets.

Found by looking at the file system only (no subprocess per env, so the list is instant
even with dozens of envs): virtualenvs under the working folder and in the usual homes,
conda envs, pyenv versions, and Jupyter kernels with the interpreter each one runs
("works in the terminal, fails in the notebook" is a classic: the kernel runs another
Python).  Deduplicated by the real path of the env; a kernel that runs an env already
listed is attached to that entry.

``root`` joins every absolute system path (``/opt/conda``, ``/usr/share/jupyter``…), so
tests build a fake machine in a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

#: Folders under $HOME that hold one virtualenv per child.
VENV_HOMES = (
    ".venvs",
    "venvs",
    ".virtualenvs",
    "envs",
    ".local/share/virtualenvs",  # pipenv
    ".cache/pypoetry/virtualenvs",  # poetry
)
#: Conda installations, under $HOME and under ``root``.
CONDA_ROOT_NAMES = (
    "miniconda3",
    "miniconda",
    "anaconda3",
    "anaconda",
    "miniforge3",
    "miniforge",
    "mambaforge",
    "micromamba",
)
SYSTEM_CONDA_ROOTS = ("/opt/conda", "/opt/miniconda3", "/opt/anaconda3", "/opt/miniforge3", "/opt/mambaforge")
SYSTEM_KERNEL_DIRS = ("/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")
SKIP_DIRS = frozenset({".git", "node_modules", "__pycache__", ".tox", ".mypy_cache", ".pytest_cache", "site-packages"})
MAX_SCAN_DIRS = 3000  # bound on folders looked at under the working folder


@dataclass(frozen=True)
class EnvCandidate:
    """One interpreter the wizard offers as a target."""

    python: str  # the interpreter path to diagnose
    prefix: str  # the env folder ("" when unknown)
    kind: str  # venv | conda | pyenv | system | jupyter
    name: str  # short name: the env folder's name, or the kernel's display name
    source: str  # where it was found, in words
    version: str = ""  # from pyvenv.cfg / conda-meta / the pyenv folder name; "" if unknown
    kernels: tuple[str, ...] = field(default_factory=tuple)  # Jupyter kernels that run it

    @property
    def key(self) -> str:
        return _dedup_key(self.python, self.prefix)

    def describe(self) -> str:
        """One line for lists: ``ml  venv 3.11.7  ~/venvs/ml  · kernel "Python (ml)"``."""
        bits = [self.kind + (f" {self.version}" if self.version else "")]
        if self.kernels:
            bits.append("kernel " + ", ".join(f'"{k}"' for k in self.kernels))
        return f"{self.name}  ({'; '.join(bits)})"


def _dedup_key(python: str, prefix: str) -> str:
    # Not realpath(python): a venv's python is a symlink to its base interpreter, and every
    # venv would collapse into it.  The env folder's real path is what tells envs apart.
    if prefix:
        return os.path.realpath(prefix)
    return os.path.join(os.path.realpath(os.path.dirname(python) or "."), os.path.basename(python))


def _under(root: str, path: str) -> Path:
    return Path(root) / path.lstrip("/") if root not in ("", "/") else Path(path)


def env_python(prefix: Path) -> Path | None:
    """The interpreter of an env folder, or None if it has none."""
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe"):
        p = prefix / rel
        if p.is_file() or (p.is_symlink() and p.exists()):
            return p
    return None


def _is_venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def _is_conda(path: Path) -> bool:
    return (path / "conda-meta").is_dir()


def _venv_version(prefix: Path) -> str:
    try:
        text = (prefix / "pyvenv.cfg").read_text(errors="replace")
    except OSError:
        return ""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values.get("version_info") or values.get("version") or ""


_CONDA_PY = re.compile(r"^python-(\d+\.\d+(?:\.\d+)?)-")


def _conda_version(prefix: Path) -> str:
    try:
        names = os.listdir(prefix / "conda-meta")
    except OSError:
        return ""
    for name in sorted(names):
        m = _CONDA_PY.match(name)
        if m:
            return m.group(1)
    return ""


def _display(path: Path | str, home: str) -> str:
    text = str(path)
    h = home.rstrip("/")
    if h and (text == h or text.startswith(h + "/")):
        return "~" + text[len(h) :]
    return text


class _Collector:
    def __init__(self, home: str) -> None:
        self.home = home
        self.items: dict[str, EnvCandidate] = {}

    def add(self, cand: EnvCandidate) -> EnvCandidate:
        key = cand.key
        old = self.items.get(key)
        if old is None:
            self.items[key] = cand
            return cand
        if cand.kernels:
            merged = tuple(dict.fromkeys((*old.kernels, *cand.kernels)))
            self.items[key] = replace(old, kernels=merged)
        return self.items[key]

    def add_env(self, prefix: Path, source: str, kind: str | None = None) -> EnvCandidate | None:
        py = env_python(prefix)
        if py is None:
            return None
        if kind is None:
            kind = "conda" if _is_conda(prefix) else "venv" if _is_venv(prefix) else "system"
        version = _conda_version(prefix) if kind == "conda" else _venv_version(prefix) if kind == "venv" else ""
        return self.add(
            EnvCandidate(
                python=str(py), prefix=str(prefix), kind=kind, name=prefix.name, source=source, version=version
            )
        )


def _natural(name: str) -> list[object]:
    """``3.9.18`` before ``3.10.13``: digits compare as numbers."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _children(path: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(path), key=lambda e: _natural(e.name))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir():
                yield Path(entry.path)
        except OSError:
            continue


def _scan_working_folder(cwd: Path, col: _Collector, depth: int = 2) -> None:
    budget = MAX_SCAN_DIRS
    level = [cwd]
    for d in range(depth + 1):
        nxt: list[Path] = []
        for folder in level:
            budget -= 1
            if budget < 0:
                return
            if _is_venv(folder) or _is_conda(folder):
                col.add_env(folder, "working folder")
                continue  # never look inside an env
            if d < depth:
                nxt.extend(c for c in _children(folder) if c.name not in SKIP_DIRS)
        level = nxt


def _conda_roots(home: Path, env: Mapping[str, str], root: str) -> list[Path]:
    roots: list[Path] = [home / n for n in CONDA_ROOT_NAMES]
    roots += [_under(root, p) for p in SYSTEM_CONDA_ROOTS]
    exe = env.get("CONDA_EXE")
    if exe:  # <root>/bin/conda or <root>/condabin/conda
        roots.insert(0, Path(exe).parent.parent)
    return [r for r in dict.fromkeys(roots) if r.is_dir()]


def _kernel_dirs(home: Path, env: Mapping[str, str], root: str, prefixes: list[str]) -> list[tuple[Path, str]]:
    dirs: list[tuple[Path, str]] = []
    data = env.get("JUPYTER_DATA_DIR")
    if data:
        dirs.append((Path(data) / "kernels", ""))
    dirs.append((home / ".local/share/jupyter/kernels", ""))
    dirs.append((home / "Library/Jupyter/kernels", ""))  # macOS
    for extra in (env.get("JUPYTER_PATH") or "").split(os.pathsep):
        if extra:
            dirs.append((Path(extra) / "kernels", ""))
    dirs += [(_under(root, d), "") for d in SYSTEM_KERNEL_DIRS]
    dirs += [(Path(p) / "share/jupyter/kernels", p) for p in prefixes]
    seen: set[str] = set()
    out = []
    for d, prefix in dirs:
        real = os.path.realpath(d)
        if real in seen or not d.is_dir():
            continue
        seen.add(real)
        out.append((d, prefix))
    return out


def _kernel_python(argv0: str, owner_prefix: str, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The interpreter a kernel's argv[0] names, and how it was found."""
    if os.path.isabs(argv0):
        return argv0, ""
    if os.path.basename(argv0) in ("python", "python3") and owner_prefix:
        # jupyter_client runs a bare `python` as the Jupyter server's own interpreter; a spec
        # installed in an env's share/ folder belongs to that env's Jupyter.
        py = env_python(Path(owner_prefix))
        if py is not None:
            return str(py), ""
    found = shutil.which(argv0, path=env.get("PATH") or "")
    if found:
        return found, " (argv[0] found on PATH)"
    return None


def _prefix_of(python: str) -> str:
    """``/x/env/bin/python`` → ``/x/env`` when that looks like an env (or any prefix)."""
    parent = Path(python).parent
    if parent.name in ("bin", "Scripts"):
        return str(parent.parent)
    return str(parent)


def discover_environments(
    cwd: str | os.PathLike[str],
    home: str | os.PathLike[str],
    env: Mapping[str, str],
    *,
    root: str = "/",
) -> list[EnvCandidate]:
    """Every Python environment found on this machine, in a stable order.

    Order: the active env(s) first, then the working folder, virtualenv homes, conda,
    pyenv, ``python3`` on PATH, then kernels whose interpreter is not an env found above.
    """
    home_p = Path(home)
    col = _Collector(str(home_p))

    for var, source in (("VIRTUAL_ENV", "active virtualenv"), ("CONDA_PREFIX", "active conda env")):
        if env.get(var):
            col.add_env(Path(env[var]), source)

    _scan_working_folder(Path(cwd), col)

    for rel in VENV_HOMES:
        base = home_p / rel
        for child in _children(base):
            if _is_venv(child) or _is_conda(child):
                col.add_env(child, _display(base, str(home_p)))

    conda_prefixes: list[Path] = []
    try:
        listed = (home_p / ".conda" / "environments.txt").read_text(errors="replace").splitlines()
    except OSError:
        listed = []
    conda_prefixes += [Path(line.strip()) for line in listed if line.strip()]
    for r in _conda_roots(home_p, env, root):
        conda_prefixes.append(r)
        conda_prefixes.extend(_children(r / "envs"))
    for prefix in dict.fromkeys(conda_prefixes):
        if prefix.is_dir():
            col.add_env(prefix, "conda", kind="conda")

    pyenv_root = Path(env.get("PYENV_ROOT") or home_p / ".pyenv")
    for version_dir in _children(pyenv_root / "versions"):
        cand = col.add_env(version_dir, "pyenv", kind="venv" if _is_venv(version_dir) else "pyenv")
        if cand is not None and cand.kind == "pyenv" and not cand.version:
            m = re.match(r"^\d+\.\d+(\.\d+)?", version_dir.name)
            col.items[cand.key] = replace(cand, version=m.group(0) if m else "")

    for name in ("python3", "python"):
        found = shutil.which(name, path=env.get("PATH") or "")
        if found:
            prefix = _prefix_of(found)
            if env_python(Path(prefix)) is not None and (_is_venv(Path(prefix)) or _is_conda(Path(prefix))):
                col.add_env(Path(prefix), f"{name} on PATH")
            else:
                col.add(EnvCandidate(python=found, prefix=prefix, kind="system", name=found, source=f"{name} on PATH"))
            break

    prefixes = [c.prefix for c in col.items.values() if c.prefix]
    for kdir, owner in _kernel_dirs(home_p, env, root, prefixes):
        for spec_dir in _children(kdir):
            try:
                spec = json.loads((spec_dir / "kernel.json").read_text(errors="replace"))
            except (OSError, ValueError):
                continue
            if not isinstance(spec, dict):
                continue
            argv = spec.get("argv")
            lang = str(spec.get("language") or "python").lower()
            if lang != "python" or not isinstance(argv, list) or not argv or not isinstance(argv[0], str):
                continue
            found = _kernel_python(argv[0], owner, env)
            if found is None:
                continue
            python, how = found
            display = str(spec.get("display_name") or spec_dir.name)
            prefix = _prefix_of(python)
            known = col.items.get(_dedup_key(python, prefix))
            if known is not None:
                col.add(replace(known, kernels=(display,)))
                continue
            kind = "conda" if _is_conda(Path(prefix)) else "venv" if _is_venv(Path(prefix)) else "jupyter"
            col.add(
                EnvCandidate(
                    python=python,
                    prefix=prefix,
                    kind=kind,
                    name=display,
                    source=f"Jupyter kernel {spec_dir.name}{how}",
                    kernels=(display,),
                )
            )
    return list(col.items.values())
