"""The static probes (interpreter, distributions, resolution), run for real on synthetic trees.

Every fake package's ``__init__.py`` writes a marker file and raises: probing must never
import them, so no marker may appear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pyenv_python, run_probe_sync
from packaging.markers import default_environment

from tvwizard.diagnosis.requirements import unsatisfied
from tvwizard.model import RunStatus

PROBES = ("interpreter", "distributions", "resolution")


def fake_package(root: Path, name: str, markers: Path, version_py: str | None = None) -> Path:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "__init__.py").write_text(
        f"open({str(markers / name)!r}, 'w').write('imported')\n"
        f"raise ImportError('tvwizard test: {name} must not be imported')\n"
    )
    if version_py is not None:
        (d / "version.py").write_text(version_py)
    return d


def fake_dist(
    root: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    *,
    installer: str | None = "pip",
    requires_python: str | None = None,
    record: tuple[str, ...] = (),
) -> Path:
    meta = root / f"{name.replace('-', '_')}-{version}.dist-info"
    meta.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    (meta / "METADATA").write_text("\n".join(lines) + "\n\nA long description.\nRequires-Dist: not-a-header\n")
    if installer:
        (meta / "INSTALLER").write_text(installer + "\n")
    (meta / "RECORD").write_text("".join(f"{f},," + "\n" for f in record) + f"{meta.name}/RECORD,,\n")
    return meta


def make_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return next(path.glob("lib/python3*/site-packages"))


TV_VERSION_PY = "__version__ = '0.29.1+cu130'\ngit_version = 'abc123'\ncuda = '13.0'\n"
TORCH_VERSION_PY = (
    "from typing import Optional\n"
    "__version__ = '2.13.0+cpu'\n"
    "debug = False\n"
    "cuda: Optional[str] = None\n"
    "git_version = 'def456'\n"
    "hip: Optional[str] = None\n"
)


@pytest.fixture
def world(tmp_path: Path) -> dict:
    """A venv with a fake torch, a PYTHONPATH dir with a fake torchvision, a shadowing cwd."""
    markers = tmp_path / "markers"
    markers.mkdir()
    venv = tmp_path / "venv"
    site = make_venv(venv)
    # venv site-packages: torch (CPU), numpy 2, a CUDA lib dist with a missing native file
    tdir = fake_package(site, "torch", markers, TORCH_VERSION_PY)
    (tdir / f"_C{sysconfig_ext()}").write_bytes(b"")
    fake_dist(
        site,
        "torch",
        "2.13.0+cpu",
        (
            "filelock",
            "typing-extensions>=4.10.0",
            'optree>=0.13.0; extra == "optree"',
            "needs-linux; sys_platform == 'linux'",
            "win-only; sys_platform == 'win32'",
        ),
        requires_python=">=3.10",
        record=("torch/__init__.py", "torch/version.py", f"torch/_C{sysconfig_ext()}"),
    )
    fake_dist(site, "filelock", "3.20.0")
    fake_dist(site, "torchaudio", "2.13.0", ("torch==2.13.0",))
    fake_package(site, "numpy", markers)
    fake_dist(site, "numpy", "2.4.6", installer="uv")
    fake_dist(site, "nvidia-cublas", "13.0.1", record=("nvidia/cublas/lib/libcublas.so.13",))
    pthdir = tmp_path / "pthdir"
    pthdir.mkdir()
    (pthdir / "pthmod.py").write_text("")
    (site / "extra.pth").write_text(f"# a comment\n{pthdir}\nimport os\n{tmp_path / 'not-there'}\n")
    # conda-meta in the venv's prefix: records for pytorch and numpy, one other package
    cmeta = venv / "conda-meta"
    cmeta.mkdir()
    (cmeta / "pytorch-2.5.1-py3.11_cuda12.4_cudnn9.1.0_0.json").write_text(
        json.dumps(
            {
                "build": "py3.11_cuda12.4_cudnn9.1.0_0",
                "channel": "https://conda.anaconda.org/pytorch/linux-64",
                "files": ["lib/python3.11/site-packages/torch/__init__.py"],
                "name": "pytorch",
                "url": "https://conda.anaconda.org/pytorch/linux-64/pytorch-2.5.1.tar.bz2",
                "version": "2.5.1",
            }
        )
    )
    (cmeta / "numpy-2.4.6-py311h1234_0.json").write_text(json.dumps({"channel": "conda-forge", "name": "numpy"}))
    (cmeta / "zlib-1.3.1-h4ab18f5_1.json").write_text("{}")
    # PYTHONPATH: torchvision 0.29.1 (CUDA) and a second, older numpy dist
    pp = tmp_path / "pp"
    pp.mkdir()
    fake_package(pp, "torchvision", markers, TV_VERSION_PY)
    fake_dist(
        pp,
        "torchvision",
        "0.29.1",
        (
            "numpy",
            "torch (>=2.14.0)",
            "pillow (!=8.3.*,>=5.3.0)",
            "missing-thing>=1.0",
            "scipy ; extra == 'scipy'",
        ),
    )
    fake_dist(pp, "numpy", "1.26.4")
    # the working directory: a torchvision.py, a bare torch/ folder, a stale torch pyc, a PIL/ folder
    cwd = tmp_path / "work"
    cwd.mkdir()
    (cwd / "torchvision.py").write_text(f"open({str(markers / 'torchvision.py')!r}, 'w').write('imported')\n")
    (cwd / "torch").mkdir()
    (cwd / "PIL").mkdir()
    (cwd / "PIL" / "Image.py").write_text("")
    (cwd / "__pycache__").mkdir()
    (cwd / "__pycache__" / "torch.cpython-311.pyc").write_bytes(b"")
    clean = tmp_path / "clean"
    clean.mkdir()
    env = {**os.environ, "PYTHONPATH": str(pp)}
    env.pop("PYTHONSAFEPATH", None)
    return {
        "tmp": tmp_path,
        "python": str(venv / "bin" / "python"),
        "site": site,
        "pp": pp,
        "cwd": cwd,
        "clean": clean,
        "pthdir": pthdir,
        "markers": markers,
        "env": env,
    }


def sysconfig_ext() -> str:
    import sysconfig

    return sysconfig.get_config_var("EXT_SUFFIX")


def probe(world: dict, name: str, *, python: str | None = None, cwd: Path | None = None, options=None) -> dict:
    run = run_probe_sync(name, python or world["python"], cwd=cwd or world["cwd"], env=world["env"], options=options)
    assert run.status == RunStatus.OK, (run.status, run.error, run.fault, run.log[-10:])
    assert "errors" not in run.data, run.data["errors"]
    assert all(s.status == "ok" for s in run.steps), [(s.name, s.status, s.data) for s in run.steps]
    return run.data


def index_of(data_path: list[dict], path: Path) -> int:
    return next(e["index"] for e in data_path if e["path"] == str(path))


def test_interpreter_sys_path_origins(world: dict) -> None:
    data = probe(world, "interpreter")
    sp = data["sys_path"]
    assert sp[0]["path"] == "" and sp[0]["origin"] == "cwd" and sp[0]["abs"] == str(world["cwd"])
    by_path = {e["path"]: e for e in sp}
    assert by_path[str(world["pp"])]["origin"] == "pythonpath"
    assert by_path[str(world["site"])]["origin"] == "site"
    assert by_path[str(world["pthdir"])]["origin"] == "pth"
    assert by_path[str(world["pthdir"])]["pth"] == str(world["site"] / "extra.pth")
    assert str(world["tmp"] / "not-there") not in by_path  # site skips missing .pth paths
    assert any(e["origin"] == "stdlib" for e in sp)
    assert all(e["exists"] for e in sp if e["origin"] != "stdlib")
    pth = next(p for p in data["pth_files"] if p["file"].endswith("extra.pth"))
    assert pth["imports"] == ["import os"]
    assert str(world["pthdir"]) in pth["paths"]
    envd = data["environment"]
    assert envd["in_venv"] is True and envd["conda_meta"] is True
    assert envd["env_kinds"][:2] == ["conda", "venv"]
    assert data["env_kind"] == "conda" and data["prefix"] == str(world["tmp"] / "venv")
    assert data["env_vars"]["PYTHONPATH"] == str(world["pp"])
    assert data["site"]["enable_user_site"] is False  # a venv without system site-packages
    assert data["python"]["executable"] == world["python"]
    assert data["platform"]["libc"]["name"] in ("glibc", "musl", "")
    assert {"isolated", "no_user_site"} <= set(data["flags"])


def test_interpreter_marker_env_matches_packaging() -> None:
    run = run_probe_sync("interpreter")
    assert run.status == RunStatus.OK
    assert run.data["marker_env"] == default_environment()
    assert run.data["environment"]["env_kind"] == "venv"  # tvwizard's own .venv


def test_distributions(world: dict) -> None:
    data = probe(world, "distributions", cwd=world["clean"])
    locs = data["locations"]
    pp_i, site_i = locs.index(str(world["pp"])), locs.index(str(world["site"]))
    dists = {(d["key"], d["loc"]): d for d in data["dists"]}
    tv = dists[("torchvision", pp_i)]
    assert tv["version"] == "0.29.1" and tv["installer"] == "pip"
    assert "missing-thing>=1.0" in tv["requires"]
    assert "not-a-header" not in " ".join(tv["requires"])  # the body is not headers
    torch = dists[("torch", site_i)]
    assert torch["version"] == "2.13.0+cpu" and torch["requires_python"] == ">=3.10"
    assert dists[("numpy", site_i)]["installer"] == "uv"
    # two numpys: PYTHONPATH first (it wins), then the venv's
    assert [(c["version"], c["loc"]) for c in data["duplicates"]["numpy"]] == [
        ("1.26.4", pp_i),
        ("2.4.6", site_i),
    ]
    focus = data["focus"]
    assert {"torch", "torchvision", "numpy", "torchaudio", "nvidia-cublas"} <= set(focus)
    assert "filelock" not in focus
    assert [c["version"] for c in focus["numpy"]] == ["1.26.4", "2.4.6"]
    assert focus["nvidia-cublas"][0]["record"]["native_missing"] == ["nvidia/cublas/lib/libcublas.so.13"]
    assert focus["torch"][0]["record"]["native_missing"] == []
    assert focus["torch"][0]["top_level"] == ["torch"]
    vp = data["version_py"]
    assert vp["torchvision"]["values"]["__version__"] == "0.29.1+cu130"
    assert vp["torchvision"]["values"]["cuda"] == "13.0"
    assert vp["torchvision"]["cuda_from_tag"] == "13.0"
    assert vp["torchvision"]["path"] == str(world["pp"] / "torchvision" / "version.py")
    assert vp["torch"]["values"] == {"__version__": "2.13.0+cpu", "cuda": None, "debug": False,
                                     "git_version": "def456", "hip": None}  # fmt: skip
    assert vp["torch"]["local_tag"] == "cpu" and vp["torch"]["cuda_from_tag"] is None
    conda = data["conda"]
    assert conda["count"] == 3
    recs = {r["name"]: r for r in conda["records"]}
    assert set(recs) == {"pytorch", "numpy"}
    assert recs["pytorch"]["version"] == "2.5.1" and recs["pytorch"]["build"].startswith("py3.11_cuda12.4")
    assert recs["pytorch"]["channel"] == "https://conda.anaconda.org/pytorch/linux-64"
    assert recs["numpy"]["channel"] == "conda-forge"
    also = {a["conda"]: a for a in conda["pip_also"]}
    assert also["pytorch"]["key"] == "torch"
    assert [d["installer"] for d in also["pytorch"]["dists"]] == ["pip"]
    assert [d["version"] for d in also["numpy"]["dists"]] == ["1.26.4", "2.4.6"]
    assert not list(world["markers"].iterdir())


def test_resolution_shadowing(world: dict) -> None:
    data = probe(world, "resolution")
    sp = data["sys_path"]
    pp_i, site_i = index_of(sp, world["pp"]), index_of(sp, world["site"])
    mods = data["packages"]
    tv = mods["torchvision"]
    # a torchvision.py in the cwd shadows the PYTHONPATH package
    assert tv["spec"]["origin"] == str(world["cwd"] / "torchvision.py") == tv["origin"]
    assert tv["spec"]["kind"] == "module" and tv["spec"]["entry_origin"] == "cwd" and tv["spec"]["entries"] == [0]
    assert [(c["entry"], c["entry_origin"], c["kind"]) for c in tv["candidates"]] == [
        (0, "cwd", "module"),
        (pp_i, "pythonpath", "package"),
    ]
    assert tv["candidates"][1]["dists"] == [{"meta": "torchvision-0.29.1.dist-info", "version": "0.29.1"}]
    assert tv["candidates"][1]["has_version_py"] is True
    assert tv["installed"] == [{"entry": pp_i, "meta": "torchvision-0.29.1.dist-info", "version": "0.29.1"}]
    # a bare torch/ folder in the cwd is a namespace portion: the real package still wins
    torch = mods["torch"]
    assert torch["spec"]["entries"] == [site_i] and torch["spec"]["kind"] == "package"
    assert [(c["entry"], c["kind"]) for c in torch["candidates"]] == [(0, "namespace"), (site_i, "package")]
    assert torch["candidates"][0]["has_init"] is False
    assert torch["candidates"][1]["extensions"] == [f"_C{sysconfig_ext()}"]
    assert torch["stale_pyc"] == [str(world["cwd"] / "__pycache__" / "torch.cpython-311.pyc")]
    # PIL: only the bare folder exists, so import would get a namespace package
    pil = mods["PIL"]
    assert pil["spec"]["kind"] == "namespace" and pil["spec"]["origin"] is None
    assert pil["spec"]["entries"] == [0] and pil["installed"] == []
    # numpy: installed twice, the PYTHONPATH copy has no package, the venv's does
    numpy = mods["numpy"]
    assert [i["entry"] for i in numpy["installed"]] == [pp_i, site_i]
    assert numpy["spec"]["entries"] == [site_i]
    facts = data["dirs"][str(world["cwd"])]
    assert facts["torchvision.py"] and facts["torch/"] and facts["__pycache__/torch.*.pyc"]
    assert not facts["torch.py"]
    assert not list(world["markers"].iterdir())


def test_resolution_source_checkout(world: dict, tmp_path: Path) -> None:
    checkout = tmp_path / "vision"
    checkout.mkdir()
    (checkout / "setup.py").write_text("")
    fake_package(checkout, "torchvision", world["markers"], TV_VERSION_PY)
    data = probe(world, "resolution", cwd=checkout, options={"names": ["torchvision"]})
    tv = data["packages"]["torchvision"]
    first = tv["candidates"][0]
    assert first["entry_origin"] == "cwd" and first["kind"] == "package"
    assert first["checkout"] == ["setup.py"] and first["extensions"] == [] and first["dists"] == []
    assert tv["spec"]["origin"] == str(checkout / "torchvision" / "__init__.py")
    assert list(data["packages"]) == ["torchvision"]
    assert not list(world["markers"].iterdir())


def test_requirements_from_probe_data(world: dict) -> None:
    dists = probe(world, "distributions", cwd=world["clean"])
    marker_env = probe(world, "interpreter")["marker_env"]
    problems = {(u.requirer, u.name): u for u in unsatisfied(dists, marker_env)}
    assert set(problems) == {
        ("torchvision", "torch"),
        ("torchvision", "pillow"),
        ("torchvision", "missing-thing"),
        ("torch", "typing-extensions"),
        ("torch", "needs-linux"),
    }
    tv_torch = problems[("torchvision", "torch")]
    assert tv_torch.reason == "version" and tv_torch.installed == "2.13.0+cpu"
    assert tv_torch.specifier == ">=2.14.0"
    assert problems[("torchvision", "missing-thing")].reason == "missing"
    assert problems[("torch", "typing-extensions")].installed is None


def test_user_site_copy(tmp_path: Path) -> None:
    base = pyenv_python("3.11")
    if base is None:
        pytest.skip("no pyenv Python 3.11 here")
    markers = tmp_path / "markers"
    markers.mkdir()
    userbase = tmp_path / "userbase"
    user_site = userbase / "lib" / "python3.11" / "site-packages"
    user_site.mkdir(parents=True)
    fake_package(user_site, "torchvision", markers, TV_VERSION_PY)
    fake_dist(user_site, "torchvision", "0.29.1")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONUSERBASE"] = str(userbase)
    interp = run_probe_sync("interpreter", base, cwd=tmp_path, env=env)
    assert interp.status == RunStatus.OK
    assert interp.data["site"]["enable_user_site"] is True and interp.data["site"]["user_site_on_path"] is True
    origins = {e["path"]: e["origin"] for e in interp.data["sys_path"]}
    assert origins[str(user_site)] == "user_site"
    res = run_probe_sync("resolution", base, cwd=tmp_path, env=env)
    tv = res.data["packages"]["torchvision"]
    assert tv["spec"]["entry_origin"] == "user_site"
    assert tv["candidates"][0]["entry_origin"] == "user_site"
    dists = run_probe_sync("distributions", base, cwd=tmp_path, env=env)
    assert dists.data["version_py"]["torchvision"]["values"]["__version__"] == "0.29.1+cu130"
    assert not list(markers.iterdir())


def test_all_probes_on_python38(world: dict, py38: str) -> None:
    out = {name: probe(world, name, python=py38) for name in PROBES}
    assert out["interpreter"]["python"]["version"].startswith("3.8.")
    assert out["interpreter"]["marker_env"]["python_version"] == "3.8"
    assert set(out["interpreter"]["marker_env"]) == set(default_environment())
    assert any(e["origin"] == "pythonpath" for e in out["interpreter"]["sys_path"])
    tv = out["resolution"]["packages"]["torchvision"]
    assert tv["spec"]["origin"] == str(world["cwd"] / "torchvision.py")
    assert tv["candidates"][1]["entry_origin"] == "pythonpath"
    keys = {d["key"] for d in out["distributions"]["dists"]}
    assert {"torchvision", "numpy"} <= keys
    clean = probe(world, "distributions", python=py38, cwd=world["clean"])
    assert clean["version_py"]["torchvision"]["values"]["cuda"] == "13.0"
    problems = {(u.requirer, u.name) for u in unsatisfied(clean, out["interpreter"]["marker_env"])}
    assert ("torchvision", "torch") in problems  # torch is not on 3.8's path at all: missing
    assert not list(world["markers"].iterdir())
