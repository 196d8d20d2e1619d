"""The release knowledge base: known facts, PEP 440 behaviour, and the shape of releases.json.

The shape tests are the guard for updates (docs/knowledge.md): a new release entry that is
malformed, duplicated, out of the pairing rule without a documented exception, or that leaves a
gap in the minor series fails here.
"""

from __future__ import annotations

import datetime as dt
import glob
import itertools
import re
import subprocess
import sys
import zipfile
from urllib.parse import urlparse

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from tvwizard.facts import knowledge as kb

DATA = kb.load_data()
RELEASES = kb.releases()
RAW = DATA["releases"]


# -- known facts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("torch", "torchvision"),
    [
        ("2.14.1", "0.29.1"),
        ("2.14.0", "0.29.0"),
        ("2.13.0", "0.28.0"),
        ("2.5.1", "0.20.1"),
        ("2.1.2", "0.16.2"),
    ],
)
def test_known_pairs(torch: str, torchvision: str) -> None:
    assert kb.expected_torchvision(torch) == torchvision
    assert kb.expected_torch(torchvision) == torch
    assert kb.is_released_pair(torch, torchvision)
    assert kb.is_released_pair(f"{torch}+cpu", f"{torchvision}+cu130")  # local labels ignored
    assert kb.requirement_satisfied(torch, torchvision)


def test_not_released_pairs() -> None:
    assert not kb.is_released_pair("2.13.0", "0.29.1")
    assert not kb.is_released_pair("2.5.1", "0.20.0")
    assert not kb.is_released_pair("not a version", "0.20.1")


def test_torchvision_0_20_1_pins_torch_2_5_1_exactly() -> None:
    spec = kb.torch_requirement_of("0.20.1+cu124")
    assert spec == SpecifierSet("==2.5.1")
    # The PEP 440 trap: the pin says nothing about CPU vs CUDA.
    assert kb.requirement_satisfied("2.5.1+cpu", "0.20.1")
    assert not kb.requirement_satisfied("2.5.0", "0.20.1")
    assert kb.torch_requirement_of("0.16.2") == SpecifierSet("==2.1.2")


def test_stable_abi_torchvision_only_sets_a_floor() -> None:
    assert kb.torch_requirement_of("0.29.1") == SpecifierSet(">=2.14.0")
    assert kb.torch_requirement_of("0.29.0") == SpecifierSet("==2.14.0")  # 0.29.0 still pinned
    assert kb.requirement_satisfied("2.14.1+cu130", "0.29.1")
    assert kb.requirement_satisfied("2.15.0", "0.29.1")  # newer torch under older torchvision: allowed
    assert not kb.requirement_satisfied("2.13.0+cpu", "0.29.1")  # the lab venv (docs/knowledge.md: the pairing table)
    assert kb.torch_requirement_of("0.30.0") == SpecifierSet(">=2.15.0")  # by rule


def test_requirement_rule_for_unknown_patches() -> None:
    assert kb.torch_requirement_of("0.28.1") == SpecifierSet("==2.13.*")
    assert kb.torch_requirement_of("0.15.1") == SpecifierSet("==2.0.0")
    assert kb.torch_requirement_of("0.5.0") == SpecifierSet()


def test_expected_torchvision_by_rule() -> None:
    assert kb.expected_torchvision("2.15.0") == "0.30"
    assert kb.expected_torchvision("1.9.0") == "0.10"
    assert kb.expected_torchvision("2.0.0") == "0.15.1"  # documented exception
    assert kb.expected_torchvision("1.4.0") is None
    assert kb.expected_torchvision("3.0.0") is None
    assert kb.expected_torchvision("garbage") is None


def test_2_14_variants_and_pypi_default() -> None:
    names = [v.name for v in kb.variants_for("2.14.1+cu130")]
    assert "cu130" in names and "cpu" in names
    cu130 = kb.variant_info("cu130")
    assert cu130.kind == "cuda" and cu130.cuda == "13.0"
    assert cu130.index_url == "https://download.pytorch.org/whl/cu130"
    for torch in ("2.13.0", "2.14.0", "2.14.1"):
        assert kb.pypi_default_variant(torch) == "cu130"
    assert kb.pypi_default_variant("2.14.1", "windows-x86_64") == "cpu"
    assert kb.pypi_default_variant("2.14.1", "macos-arm64") == "cpu"
    assert kb.pypi_default_variant("2.14.1", "macos-x86_64") is None
    assert kb.pypi_default_variant("1.13.1") == "cu117"
    assert kb.pypi_default_variant("9.9.9") is None


def test_index_url() -> None:
    assert kb.index_url("cu118") == "https://download.pytorch.org/whl/cu118"
    assert kb.index_url("rocm6.2.4") == "https://download.pytorch.org/whl/rocm6.2.4"
    for bad in ("", "cuda", "cu1", "../etc", "rocm", "cpu/x"):
        with pytest.raises(ValueError):
            kb.index_url(bad)


def test_python_3_8_newest_pair_is_2_4() -> None:
    pair = kb.newest_pair("3.8")
    assert pair is not None
    assert Version(pair.torch).release[:2] == (2, 4)
    assert Version(pair.torchvision).release[:2] == (0, 19)
    assert pair.variant is None and pair.index_url is None  # plain PyPI


def test_python_3_14_not_supported_before_2_9() -> None:
    for rel in RELEASES:
        supported = kb.python_supported(rel.torch, "3.14")
        assert supported == (Version(rel.torch) >= Version("2.9.0")), rel.torch
    assert kb.newest_pair("3.14") is not None


def test_python_patch_exclusions() -> None:
    assert not kb.python_supported("2.14.1", "3.14.1")  # torchvision 0.29.1: !=3.14.1
    assert kb.python_supported("2.14.1", "3.14.2")
    assert kb.python_supported("2.14.1", "3.14")
    assert not kb.python_supported("2.14.1", "3.9.18")
    assert not kb.python_supported("9.0.0", "3.12")
    assert kb.python_supported("2.13.1", "3.12")  # unknown patch: same minor's range


def test_newest_pair_with_variant_and_cuda_cap() -> None:
    pair = kb.newest_pair("3.12", variant="cpu")
    assert pair is not None and pair.torch == RELEASES[-1].torch
    assert pair.pip_args()[-2:] == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    capped = kb.newest_pair("3.12", max_cuda="12.6")
    assert capped is not None and capped.variant is not None
    assert (kb.cuda_of_variant(capped.variant) or "99") <= "12.6"
    old_driver = kb.newest_pair("3.10", max_cuda="11.7")
    assert old_driver is not None and old_driver.torch == "2.0.1" and old_driver.variant == "cu117"
    assert kb.newest_pair("3.12", variant="cu130", max_cuda="12.8") is None
    assert kb.newest_pair("3.12", max_cuda="10.2") is None
    assert kb.newest_pair("2.7") is None


def test_numpy2_support_starts_at_2_3() -> None:
    assert not kb.numpy2_supported("2.2.2+cu121")
    assert kb.numpy2_supported("2.3.0")
    assert kb.numpy2_supported("2.14.1+cu130")


# -- parse_local / PEP 440 --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "kwargs", "base", "variant", "cuda", "rocm"),
    [
        ("2.13.0+cpu", {}, "2.13.0", "cpu", None, None),
        ("0.29.1+cu130", {}, "0.29.1", "cu130", "13.0", None),
        ("2.14.1", {"cuda": "13.0"}, "2.14.1", "cu130", "13.0", None),
        ("2.4.1", {"cuda": "12.1"}, "2.4.1", "cu121", "12.1", None),
        ("2.14.1", {}, "2.14.1", None, None, None),
        ("2.14.1", {"build_info_known": True}, "2.14.1", "cpu", None, None),
        ("2.5.1+rocm6.2", {}, "2.5.1", "rocm6.2", None, "6.2"),
        ("2.6.0+rocm6.2.4", {}, "2.6.0", "rocm6.2.4", None, "6.2.4"),
        ("2.4.0", {"hip": "6.1.40091-a8dbc0c19"}, "2.4.0", "rocm6.1", None, "6.1"),
        ("2.5.1+xpu", {}, "2.5.1", "xpu", None, None),
        ("1.9.0+cu102", {}, "1.9.0", "cu102", "10.2", None),
        ("2.1.0+cpu.cxx11.abi", {}, "2.1.0", "cpu", None, None),
        ("2.6.0.dev20241112+cu124", {}, "2.6.0", "cu124", "12.4", None),
        ("2.14.1+CU130", {}, "2.14.1", "cu130", "13.0", None),  # PEP 440 normalises case
        ("2.14.1+cu130", {"cuda": "12.8"}, "2.14.1", "cu130", "13.0", None),  # the label wins
        ("2.1.0a0+git1a2b3c", {"cuda": "12.1"}, "2.1.0", None, None, None),  # source build
    ],
)
def test_parse_local(
    version: str,
    kwargs: dict[str, object],
    base: str,
    variant: str | None,
    cuda: str | None,
    rocm: str | None,
) -> None:
    build = kb.parse_local(version, **kwargs)  # type: ignore[arg-type]
    assert (build.base, build.variant, build.cuda, build.rocm) == (base, variant, cuda, rocm)
    assert build.version == version
    assert "+" not in build.public


def test_parse_local_fields() -> None:
    nightly = kb.parse_local("2.6.0.dev20241112+cu124")
    assert nightly.is_prerelease and nightly.public == "2.6.0.dev20241112" and nightly.is_cuda
    src = kb.parse_local("2.1.0a0+git1a2b3c")
    assert src.local == "git1a2b3c" and src.variant is None and not src.is_cpu
    assert kb.parse_local("2.13.0+cpu").is_cpu and kb.parse_local("2.5.1+rocm6.2").is_rocm
    with pytest.raises(ValueError):
        kb.parse_local("not-a-version")
    with pytest.raises(InvalidVersion):
        kb.parse_local("2.14.1+")


def test_pep440_local_label_traps() -> None:
    """What the fix layer must know (docs/knowledge.md, "Failure facts:
    Local version tags …"), checked against ``packaging`` itself."""
    # an unlabelled pin is satisfied by any variant of that release
    assert SpecifierSet("==2.14.1").contains("2.14.1+cu130")
    assert SpecifierSet("==2.5.1").contains("2.5.1+cpu")
    # a labelled pin is exact
    assert not SpecifierSet("==2.14.1+cu126").contains("2.14.1+cu130")
    # variants of one release sort by label, so cu126 is not an "upgrade" over cu130
    assert Version("2.14.1+cu126") < Version("2.14.1+cu130")
    assert not Version("2.14.1+cu126") > Version("2.14.1+cu130")
    # ... and the base/public versions agree
    a, b = kb.parse_local("2.14.1+cu126"), kb.parse_local("2.14.1+cu130")
    assert a.public == b.public and a.base == b.base and a.variant != b.variant


def test_cuda_of_variant() -> None:
    assert kb.cuda_of_variant("cu118") == "11.8"
    assert kb.cuda_of_variant("cu92") == "9.2"
    assert kb.cuda_of_variant("cu130") == "13.0"
    assert kb.cuda_of_variant("cpu") is None
    assert kb.cuda_of_variant("rocm6.2") is None


# -- drivers ----------------------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text))


def test_driver_table_is_monotonic() -> None:
    rows = DATA["cuda_drivers"]["toolkit"]
    cudas = [tuple(int(x) for x in r["cuda"].split(".")) for r in rows]
    assert cudas == sorted(cudas) and len(set(cudas)) == len(cudas)
    drivers = [_ints(r["min_linux"]) for r in rows]
    assert all(a < b for a, b in itertools.pairwise(drivers)), "driver floors must rise with CUDA"
    floors = [_ints(r["min_linux"]) for r in DATA["cuda_drivers"]["minor_compat"]]
    assert floors == sorted(floors)
    for row in rows:  # the toolkit driver is never below its family's compatibility floor...
        if row["cuda"] == "11.0":  # ...except 11.0, which NVIDIA footnotes: it shipped before 450.80.02
            continue
        compat = kb.min_driver_for_cuda(row["cuda"], "minor_compat")
        assert compat is not None and _ints(compat) <= _ints(row["min_linux"]), row["cuda"]


@pytest.mark.parametrize(
    ("cuda", "toolkit", "compat"),
    [
        ("11.8", "520.61.05", "450.80.02"),
        ("12.0", "525.60.13", "525.60.13"),
        ("12.4.1", "550.54.14", "525.60.13"),
        ("12.8", "570.26", "525.60.13"),
        ("13.0", "580.65.06", "580.65.06"),
        ("12.7", None, None),  # never released
        ("10.2", None, None),
    ],
)
def test_min_driver_for_cuda(cuda: str, toolkit: str | None, compat: str | None) -> None:
    assert kb.min_driver_for_cuda(cuda) == toolkit
    assert kb.min_driver_for_cuda(cuda, "minor_compat") == compat


def test_max_cuda_for_driver() -> None:
    assert kb.max_cuda_for_driver("535.104.05") == "12.2"
    assert kb.max_cuda_for_driver("570.124.06") == "12.8"
    assert kb.max_cuda_for_driver("570.25") == "12.6"
    assert kb.max_cuda_for_driver("580.65.06") == "13.0"
    assert kb.max_cuda_for_driver("440.33") is None
    assert kb.max_cuda_for_driver("535.104.05", "minor_compat") == "12.9"
    assert kb.max_cuda_for_driver("470.82.01", "minor_compat") == "11.8"
    assert kb.max_cuda_for_driver("") is None
    for row in DATA["cuda_drivers"]["toolkit"]:  # round trip
        assert kb.max_cuda_for_driver(row["min_linux"]) == row["cuda"]


def test_cuda_integer_versions_have_one_decoder() -> None:
    from tvwizard.gpu import cuda_int_to_str

    assert cuda_int_to_str(11040) == "11.4" and cuda_int_to_str("12080") == "12.8"
    assert cuda_int_to_str(13000) == "13.0"
    assert cuda_int_to_str(-1) is None and cuda_int_to_str(0) is None and cuda_int_to_str("x") is None
    assert not hasattr(kb, "cuda_from_driver_api")


# -- shape of releases.json (the update guard) ------------------------------------------------
def test_top_level_fields() -> None:
    assert DATA["schema"] == "tvwizard.releases/1"
    dt.date.fromisoformat(DATA["updated"])
    assert DATA["index_base"] == kb.INDEX_BASE
    for group in ("pairing_rule", "numpy2", "cuda_drivers"):
        assert DATA[group]["source"] and isinstance(DATA[group]["verified"], bool), group


def test_wheel_arch_rows_well_formed() -> None:
    cudas = {row["cuda"] for row in DATA["variants"].values() if row["kind"] == "cuda"}
    for row in DATA["wheel_arches"]["entries"]:
        assert row["cuda"] in cudas, row
        SpecifierSet(row["torch"])
        assert row["source"] and isinstance(row["verified"], bool), row
        for item in row["arches"].split(";"):
            assert re.fullmatch(r"\d+\.\d+(\+PTX)?", item), row
    assert DATA["cuda_toolkit_cc"]["source"] and isinstance(DATA["cuda_toolkit_cc"]["verified"], bool)


def test_wheel_arch_list() -> None:
    # read off the real 2.14.1+cu130 wheel: torch._C._cuda_getArchFlags()
    assert kb.wheel_arch_list("cu130", "2.14.1") == ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    assert kb.wheel_arch_list("cu130", "2.14.1+cu130") == kb.wheel_arch_list("cu130", "2.14.1")
    # 2.7 dropped sm_70 from cu128 and shipped PTX for 12.0; 2.8 brought sm_70 back
    assert "sm_70" not in kb.wheel_arch_list("cu128", "2.7.1") and "compute_120" in kb.wheel_arch_list("cu128", "2.7.1")
    assert "sm_70" in kb.wheel_arch_list("cu128", "2.8.0")
    assert "sm_37" in kb.wheel_arch_list("cu118", "2.7.1")
    assert kb.wheel_arch_list("cpu", "2.14.1") is None and kb.wheel_arch_list("cu130", "2.8.0") is None
    assert kb.wheel_arch_list("cu130", "not a version") is None


def test_toolkit_cc_range() -> None:
    assert kb.toolkit_cc_range("13.0") == ((7, 5), (12, 1))
    assert kb.toolkit_cc_range("12.4") == ((5, 0), (9, 0))
    assert kb.toolkit_cc_range("11.8") == ((3, 5), (9, 0))
    assert kb.toolkit_cc_range("10.2") is None and kb.toolkit_cc_range("") is None


def test_newest_pair_accept() -> None:
    assert kb.newest_pair("3.11", variant="cu118").torch == "2.7.1"
    pair = kb.newest_pair("3.11", variant="cu126", accept=lambda p: Version(p.torch) < Version("2.9"))
    assert pair.torch == "2.8.0" and pair.variant == "cu126"
    assert kb.newest_pair("3.11", variant="cu126", accept=lambda p: False) is None


def _check_url(url: str, variant: str) -> None:
    parsed = urlparse(url)
    assert parsed.scheme == "https" and parsed.netloc == "download.pytorch.org", url
    assert parsed.path == f"/whl/{variant}" and not parsed.query and not parsed.fragment, url


def test_variant_table_well_formed() -> None:
    for name, row in DATA["variants"].items():
        assert row["index_url"] == kb.index_url(name)
        _check_url(row["index_url"], name)
        info = kb.variant_info(name)
        assert info.kind == row["kind"]
        if info.kind == "cuda":
            assert row["cuda"] == kb.cuda_of_variant(name)
        if info.kind == "rocm":
            assert name == f"rocm{row['rocm']}"


def test_every_release_well_formed() -> None:
    seen_torch: set[str] = set()
    seen_tv: set[str] = set()
    for entry in RAW:
        torch, tv, ta = entry["torch"], entry["torchvision"], entry["torchaudio"]
        for v in (torch, tv, *([ta] if ta else [])):
            assert str(Version(v)) == v and len(Version(v).release) == 3 and Version(v).local is None, v
        assert torch not in seen_torch and tv not in seen_tv, (torch, tv)
        seen_torch.add(torch)
        seen_tv.add(tv)
        py = entry["python"]
        lo, hi = (tuple(int(x) for x in py[k].split(".")) for k in ("min", "max"))
        assert lo[0] == hi[0] == 3 and lo <= hi, torch
        for ex in py["exclude"]:
            assert lo <= Version(ex).release[:2] <= hi, (torch, ex)
        linux = entry["linux_x86_64"]
        assert linux["variants"] and len(set(linux["variants"])) == len(linux["variants"]), torch
        for name in linux["variants"]:
            assert name in DATA["variants"], (torch, name)
            _check_url(kb.index_url(name), name)
        assert linux["pypi_default"] is None or linux["pypi_default"] in linux["variants"], torch
        groups = [
            (entry["pairing"]["source"], entry["pairing"]["verified"]),
            (py["source"], py["verified"]),
            (linux["variants_source"], linux["variants_verified"]),
            (linux["pypi_default_source"], linux["pypi_default_verified"]),
        ]
        for source, verified in groups:
            assert isinstance(source, str) and source.strip(), torch
            assert isinstance(verified, bool), torch


def test_releases_sorted_and_loaded() -> None:
    versions = [Version(r.torch) for r in RELEASES]
    assert versions == sorted(versions)
    assert len(RELEASES) == len(RAW)
    assert RELEASES[0].torch == "1.13.0"


def test_no_gap_in_the_minor_series() -> None:
    minors = sorted({Version(r.torch).release[:2] for r in RELEASES})
    expected = [(1, 13)] + [(2, n) for n in range(minors[-1][1] + 1)]
    assert minors == expected


def test_pairs_follow_the_rule_except_where_documented() -> None:
    exceptions = {(x["torch"], x["torchvision"]) for x in DATA["pairing_rule"]["exceptions"]}
    for rel in RELEASES:
        t, tv = Version(rel.torch).release, Version(rel.torchvision).release
        expected_minor = t[1] + 15 if t[0] == 2 else t[1] + 1
        assert tv[:2] == (0, expected_minor), rel.torch
        if (rel.torch, rel.torchvision) not in exceptions:
            assert tv[2] == t[2], f"{rel.torch} <-> {rel.torchvision}: patch differs, document it"
    for x in exceptions:  # every documented exception is a real entry
        assert kb.is_released_pair(*x)


def test_every_release_satisfies_its_own_torchvision_requirement() -> None:
    for rel in RELEASES:
        assert kb.requirement_satisfied(rel.torch, rel.torchvision), rel.torch
        assert kb.numpy2_supported(rel.torch) == (Version(rel.torch) >= Version("2.3.0"))


def test_recorded_torchvision_requirements_match_the_pairs() -> None:
    for row in DATA["torchvision_requirements"]:
        assert row["verified"] is True and row["source"]
        torch = kb.expected_torch(row["torchvision"])
        assert torch is not None and SpecifierSet(row["requires_torch"]).contains(torch)


def test_newest_release_is_verified_where_it_matters() -> None:
    newest = RELEASES[-1]
    assert newest.pairing_verified and newest.python.verified and newest.pypi_default_verified
    assert newest.pypi_default in newest.variants


# -- facts read from the real wheels on this machine ------------------------------------------
_WHEELS = sorted(
    glob.glob("/opt/pypi-more/files/torchvision-0.2[89]*.whl")
    + glob.glob("/opt/pypi-more/files/torch-2.14.1*.whl")
    + glob.glob("/opt/wheels/torch-2.13.0+cpu*.whl")
)


def _metadata(wheel: str) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(name).decode("utf-8")
    out: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(": ")
        out.setdefault(key, []).append(value)
    return out


@pytest.mark.skipif(not _WHEELS, reason="the reference wheels are not on this machine")
@pytest.mark.parametrize("wheel", _WHEELS, ids=lambda p: p.rsplit("/", 1)[-1].split("-cp")[0])
def test_against_real_wheel_metadata(wheel: str) -> None:
    meta = _metadata(wheel)
    version = meta["Version"][0]
    build = kb.parse_local(version)
    if meta["Name"][0] == "torchvision":
        req = next(r for r in meta["Requires-Dist"] if r.startswith("torch"))
        spec = SpecifierSet(req.split("(", 1)[1].rstrip(")"))
        assert kb.torch_requirement_of(version) == spec
        rel = next(r for r in RELEASES if r.torchvision == build.base)
        assert spec.contains(rel.torch)
        for part in SpecifierSet(meta["Requires-Python"][0]):
            if part.operator == "!=":
                assert part.version in rel.python.exclude
    else:
        rel = kb.release(version)
        assert rel is not None
        classifiers = [c.rsplit(":: ", 1)[-1] for c in meta.get("Classifier", ()) if "Python :: 3." in c]
        assert rel.python.min in classifiers and rel.python.max in classifiers
        if build.variant is not None:
            assert build.variant in rel.variants


def test_knowledge_imports_no_heavy_modules() -> None:
    code = (
        "import sys, tvwizard.facts.knowledge as k; k.releases(); k.newest_pair('3.12');"
        "bad = {'torch', 'torchvision', 'numpy'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
