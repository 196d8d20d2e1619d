"""Environment discovery on fake machines built in temporary folders (no subprocess)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tvwizard.envs import discover_environments


def make_venv(prefix: Path, version: str = "3.11.7", target: Path | None = None) -> Path:
    (prefix / "bin").mkdir(parents=True)
    (prefix / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion_info = {version}\n")
    py = prefix / "bin" / "python"
    if target is not None:
        py.symlink_to(target)
    else:
        py.write_text("")
    return py


def make_conda(prefix: Path, version: str = "3.10.13") -> Path:
    (prefix / "bin").mkdir(parents=True)
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / f"python-{version}-h955ad1f_0.json").write_text("{}")
    py = prefix / "bin" / "python"
    py.write_text("")
    return py


def make_kernel(kernels: Path, name: str, argv0: str, display: str, language: str = "python") -> None:
    d = kernels / name
    d.mkdir(parents=True)
    spec = {
        "argv": [argv0, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display,
        "language": language,
    }
    (d / "kernel.json").write_text(json.dumps(spec))


@pytest.fixture
def machine(tmp_path):
    root = tmp_path / "root"
    home = root / "home" / "alice"
    cwd = home / "proj"
    cwd.mkdir(parents=True)
    return SimpleNamespace(root=root, home=home, cwd=cwd)


def discover(machine, env=None):
    return discover_environments(machine.cwd, machine.home, env or {"PATH": ""}, root=str(machine.root))


def by_python(found):
    return {c.python: c for c in found}


def test_empty_machine(machine):
    assert discover(machine) == []


def test_venvs_in_working_folder_depth_two(machine):
    cwd = machine.cwd
    make_venv(cwd / ".venv")
    make_venv(cwd / "sub" / "env")
    make_venv(cwd / "a" / "b" / "too-deep")
    make_venv(cwd / "node_modules" / "x")  # skipped folder
    found = by_python(discover(machine))
    assert str(cwd / ".venv/bin/python") in found
    assert str(cwd / "sub/env/bin/python") in found
    assert not any("too-deep" in p for p in found)
    assert not any("node_modules" in p for p in found)
    venv = found[str(cwd / ".venv/bin/python")]
    assert (venv.kind, venv.name, venv.version, venv.source) == ("venv", ".venv", "3.11.7", "working folder")


def test_does_not_look_inside_an_env(machine):
    cwd = machine.cwd
    make_venv(cwd / "env")
    make_venv(cwd / "env" / "nested")  # e.g. something inside lib/
    found = discover(machine)
    assert [c.name for c in found] == ["env"]


def test_venv_homes(machine):
    home = machine.home
    for rel in (".venvs/a", "venvs/b", ".virtualenvs/c", "envs/d"):
        make_venv(home / rel)
    (home / "venvs" / "not-an-env").mkdir()
    names = {c.name: c for c in discover(machine)}
    assert set(names) == {"a", "b", "c", "d"}
    assert names["b"].source == "~/venvs"


def test_conda_envs(machine):
    root = machine.root
    home = machine.home
    make_conda(home / "miniconda3", "3.12.1")  # base
    make_conda(home / "miniconda3" / "envs" / "ml")
    make_conda(root / "opt" / "conda" / "envs" / "sys")
    make_conda(home / "elsewhere" / "listed")
    (home / ".conda").mkdir()
    (home / ".conda" / "environments.txt").write_text(f"{home / 'elsewhere' / 'listed'}\n/does/not/exist\n")
    found = {c.name: c for c in discover(machine)}
    assert {"miniconda3", "ml", "sys", "listed"} <= set(found)
    assert found["ml"].kind == "conda"
    assert found["ml"].version == "3.10.13"
    assert found["miniconda3"].version == "3.12.1"


def test_conda_root_from_conda_exe(machine, tmp_path):
    make_conda(tmp_path / "weird" / "forge" / "envs" / "x")
    (tmp_path / "weird" / "forge" / "condabin").mkdir()
    found = discover(machine, {"PATH": "", "CONDA_EXE": str(tmp_path / "weird/forge/condabin/conda")})
    assert [c.name for c in found] == ["x"]


def test_pyenv_versions(machine):
    home = machine.home
    for v in ("3.8.18", "3.12.1"):
        d = home / ".pyenv" / "versions" / v / "bin"
        d.mkdir(parents=True)
        (d / "python").write_text("")
    make_venv(home / ".pyenv" / "versions" / "myvenv", "3.12.1")
    found = {c.name: c for c in discover(machine)}
    assert found["3.8.18"].kind == "pyenv"
    assert found["3.8.18"].version == "3.8.18"
    assert found["myvenv"].kind == "venv"


def test_pyenv_root_from_env(machine, tmp_path):
    d = tmp_path / "pr" / "versions" / "3.9.18" / "bin"
    d.mkdir(parents=True)
    (d / "python").write_text("")
    found = discover(machine, {"PATH": "", "PYENV_ROOT": str(tmp_path / "pr")})
    assert [c.name for c in found] == ["3.9.18"]


def test_active_env_first_and_python_on_path(machine, tmp_path):
    root = machine.root
    home = machine.home
    make_venv(home / "venvs" / "a")
    active = tmp_path / "active"
    make_venv(active)
    sysbin = root / "usr" / "bin"
    sysbin.mkdir(parents=True)
    (sysbin / "python3").write_text("")
    (sysbin / "python3").chmod(0o755)
    found = discover(machine, {"PATH": str(sysbin), "VIRTUAL_ENV": str(active)})
    assert found[0].python == str(active / "bin/python")
    assert found[0].source == "active virtualenv"
    system = [c for c in found if c.kind == "system"]
    assert [c.python for c in system] == [str(sysbin / "python3")]
    assert system[0].source == "python3 on PATH"


def test_dedup_by_real_path_not_by_interpreter_symlink(machine, tmp_path):
    home = machine.home
    cwd = machine.cwd
    base = tmp_path / "base-python"
    base.write_text("")
    # Two venvs whose python links to the same base interpreter stay two entries …
    make_venv(home / "venvs" / "one", target=base)
    make_venv(home / "venvs" / "two", target=base)
    # … while the same env reached twice (a symlinked folder) is one.
    (cwd / "link-to-one").symlink_to(home / "venvs" / "one")
    found = discover(machine)
    assert len(found) == 2
    assert {os.path.realpath(c.prefix) for c in found} == {
        os.path.realpath(home / "venvs" / "one"),
        os.path.realpath(home / "venvs" / "two"),
    }


def test_jupyter_kernels(machine, tmp_path):
    root = machine.root
    home = machine.home
    ml = make_venv(home / "venvs" / "ml")
    other = tmp_path / "other-env"
    other_py = make_venv(other, "3.10.13")
    user_kernels = home / ".local/share/jupyter/kernels"
    make_kernel(user_kernels, "ml", str(ml), "Python (ml)")  # runs an env listed anyway
    make_kernel(user_kernels, "old", str(other_py), "Python (old)")  # runs an env found only here
    make_kernel(user_kernels, "ir", "/usr/bin/R", "R", language="R")  # not Python
    make_kernel(user_kernels, "gone", "/nope/bin/python", "Gone")  # interpreter missing: still listed
    (user_kernels / "broken").mkdir()
    (user_kernels / "broken" / "kernel.json").write_text("{not json")
    make_kernel(root / "usr/share/jupyter/kernels", "sys", str(ml), "System kernel")
    found = {c.python: c for c in discover(machine)}
    assert found[str(ml)].kernels == ("Python (ml)", "System kernel")
    assert found[str(ml)].kind == "venv"
    old = found[str(other_py)]
    assert (old.name, old.kind, old.kernels) == ("Python (old)", "venv", ("Python (old)",))
    assert "Jupyter kernel old" in old.source
    assert "/usr/bin/R" not in found
    assert found["/nope/bin/python"].kind == "jupyter"


def test_kernel_with_bare_python_in_env_share_runs_that_env(machine):
    home = machine.home
    py = make_conda(home / "miniconda3" / "envs" / "nb")
    make_kernel(home / "miniconda3/envs/nb/share/jupyter/kernels", "python3", "python", "Python 3 (ipykernel)")
    found = by_python(discover(machine))
    assert found[str(py)].kernels == ("Python 3 (ipykernel)",)


def test_kernel_bare_python_resolved_on_path(machine, tmp_path):
    home = machine.home
    bindir = tmp_path / "pathbin"
    bindir.mkdir()
    (bindir / "python3").write_text("")
    (bindir / "python3").chmod(0o755)
    make_kernel(home / ".local/share/jupyter/kernels", "k", "python3", "K")
    found = discover(machine, {"PATH": str(bindir)})
    k = [c for c in found if "K" in c.kernels]
    assert len(k) == 1 and k[0].python == str(bindir / "python3")


def test_describe(machine):
    home = machine.home
    ml = make_venv(home / "venvs" / "ml")
    make_kernel(home / ".local/share/jupyter/kernels", "ml", str(ml), "Python (ml)")
    (c,) = discover(machine)
    assert c.describe() == 'ml  (venv 3.11.7; kernel "Python (ml)")'


def test_fast_on_a_wide_tree(machine):
    cwd = machine.cwd
    for i in range(300):
        (cwd / f"d{i}" / "x").mkdir(parents=True)
    make_venv(cwd / "d7" / "env")
    t0 = time.perf_counter()
    found = discover(machine)
    assert time.perf_counter() - t0 < 1.0
    assert [c.name for c in found] == ["env"]


def test_real_machine_smoke():
    # This machine's own envs: must not raise, and must be quick.
    t0 = time.perf_counter()
    discover_environments(os.getcwd(), os.path.expanduser("~"), dict(os.environ))
    assert time.perf_counter() - t0 < 3.0
