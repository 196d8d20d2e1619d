"""diagnosis.requirements: the torch/torchvision part of ``pip check``, from probe data."""

from __future__ import annotations

from tvwizard.diagnosis.requirements import installed_map, unsatisfied

LINUX_311 = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_release": "6.8.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.11.7",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "sys_platform": "linux",
}
WIN_39 = {
    **LINUX_311,
    "os_name": "nt",
    "platform_system": "Windows",
    "platform_machine": "AMD64",
    "python_full_version": "3.9.13",
    "python_version": "3.9",
    "sys_platform": "win32",
}


def dist(name: str, version: str, *requires: str, loc: int = 0) -> dict:
    return {"name": name, "key": name.lower().replace("_", "-"), "version": version, "loc": loc,
            "requires": list(requires)}  # fmt: skip


def found(dists, env=LINUX_311, **kw) -> dict[tuple[str, str], object]:
    return {(u.requirer, u.name): u for u in unsatisfied(dists, env, **kw)}


def test_local_tag_satisfies_exact_pin_but_not_a_higher_minimum() -> None:
    dists = [
        dist("torch", "2.13.0+cpu"),
        dist("torchaudio", "2.13.0", "torch==2.13.0"),
        dist("torchvision", "0.29.1", "torch (>=2.14.0)", "numpy"),
        dist("numpy", "2.4.6"),
    ]
    got = found(dists)
    assert list(got) == [("torchvision", "torch")]
    u = got[("torchvision", "torch")]
    assert (u.reason, u.installed, u.specifier, u.requirer_version) == (
        "version",
        "2.13.0+cpu",
        ">=2.14.0",
        "0.29.1",
    )
    assert "requires torch (>=2.14.0), but torch 2.13.0+cpu" in str(u)
    assert u.to_dict()["via"] == ["torchvision"]


def test_missing_requirement_in_the_closure() -> None:
    dists = [
        dist("torch", "2.14.1", "jinja2", "typing-extensions>=4.10.0"),
        dist("Jinja2", "3.1.6", "MarkupSafe>=2.0"),
        dist("unrelated", "1.0", "not-installed-either"),
    ]
    got = found(dists)
    assert set(got) == {("torch", "typing-extensions"), ("jinja2", "markupsafe")}
    assert got[("torch", "typing-extensions")].reason == "missing"
    assert got[("torch", "typing-extensions")].installed is None
    assert got[("jinja2", "markupsafe")].via == ("torch", "jinja2")


def test_markers_use_the_targets_environment() -> None:
    dists = [
        dist(
            "torch",
            "2.14.1",
            "nvidia-cublas==13.0.1; platform_system == 'Linux' and platform_machine == 'x86_64'",
            "triton==3.5.0; platform_system == 'Linux'",
            "old-backport; python_version < '3.10'",
        ),
        dist("triton", "3.5.0"),
    ]
    assert set(found(dists, LINUX_311)) == {("torch", "nvidia-cublas")}
    assert set(found(dists, WIN_39)) == {("torch", "old-backport")}


def test_extras_are_followed() -> None:
    dists = [
        dist("torchvision", "0.29.1", "torch>=2.14", "gdown>=4.7.3; extra == 'gdown'"),
        dist("torch", "2.14.1", "optree>=0.13.0; extra == 'optree'", "helper[fast]"),
        dist("helper", "1.0", "speedup>=2; extra == 'fast'", "never; extra == 'other'"),
        dist("speedup", "1.5"),
    ]
    got = found(dists)
    assert list(got) == [("helper", "speedup")]
    assert got[("helper", "speedup")].extra == "fast" and got[("helper", "speedup")].installed == "1.5"


def test_first_copy_on_sys_path_is_the_installed_one() -> None:
    dists = [
        dist("torch", "2.14.1", loc=5),
        dist("torch", "2.13.0+cpu", loc=2),  # user site, earlier on sys.path
        dist("torchvision", "0.29.1", "torch>=2.14.0", loc=5),
    ]
    assert installed_map(dists)["torch"]["version"] == "2.13.0+cpu"
    got = found(dists)
    assert got[("torchvision", "torch")].installed_loc == 2


def test_accepts_probe_data_and_survives_bad_input() -> None:
    data = {
        "dists": [
            dist("torchvision", "0.20.1", "torch==2.5.1", "this is (not a requirement", "pillow!=8.3.*,>=5.3.0"),
            dist("torch", "2.5.1+cu124", "sympy; python_version >= '3.9'", "cyclic"),
            dist("cyclic", "1", "torch"),
            dist("sympy", "not-a-version"),
            {"meta": "broken.dist-info", "loc": 0, "name": None, "key": None, "error": "boom"},
        ]
    }
    got = found(data)
    assert set(got) == {("torchvision", "pillow")}  # unversioned sympy is fine; cycles end
    data["dists"][0]["requires"].append("sympy>=1.13")
    assert found(data)[("torchvision", "sympy")].reason == "invalid-version"


def test_no_roots_installed() -> None:
    assert unsatisfied([dist("numpy", "2.4.6", "missing")], LINUX_311) == []
