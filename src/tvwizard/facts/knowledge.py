"""The release knowledge base: torch/torchvision pairs, Python ranges, build variants, driver floors.

Everything here is read from ``data/releases.json`` (see ``docs/knowledge.md`` for where each fact
came from and how to update it).  The functions are small and pure: they take version strings as
the probes report them (``torch.__version__``, ``torchvision.__version__``, ``torch.version.cuda``,
``nvidia-smi``'s driver version) and answer one question each.

This module only reads data.  It never imports torch, torchvision or numpy, and it depends on
nothing but the standard library and ``packaging``.  It is one module of ~700 lines on purpose:
it is the public API of one data file (docs/knowledge.md lists it), each function a few lines
answering one question, and its tests mirror it one to one.

PEP 440 reminders that the helpers below encode (docs/knowledge.md, "Failure facts: Local version tags …"):

* A specifier without a local label ignores the candidate's local label: ``==2.5.1`` is satisfied by
  ``2.5.1+cpu``.  That is why pip never flags a CPU torch under a CUDA torchvision.
* Local labels do sort (``2.14.1+cu130 > 2.14.1+cu126``), so "upgrading" to another variant of the
  same version is a no-op for pip unless forced.  Compare :attr:`Build.public` (or
  :attr:`Build.base`), never the raw string, when asking "same release?".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = [
    "INDEX_BASE",
    "Build",
    "DriverMode",
    "Pair",
    "Platform",
    "PythonRange",
    "Release",
    "Variant",
    "cuda_of_variant",
    "cuda_variants",
    "expected_torch",
    "expected_torchvision",
    "index_url",
    "is_released_pair",
    "load_data",
    "max_cuda_for_driver",
    "min_driver_for_cuda",
    "newest_pair",
    "numpy2_supported",
    "parse_local",
    "pypi_default_variant",
    "python_supported",
    "release",
    "releases",
    "requirement_satisfied",
    "toolkit_cc_range",
    "torch_requirement_of",
    "variant_info",
    "variants_for",
    "wheel_arch_list",
]

INDEX_BASE = "https://download.pytorch.org/whl/"
"""Prefix of every variant index: ``INDEX_BASE + "cu130"``."""

DATA_PACKAGE = "tvwizard.facts"
DATA_NAME = "releases.json"

DriverMode = Literal["toolkit", "minor_compat"]
"""Which NVIDIA table a driver question uses (see ``cuda_drivers.policy`` in the JSON).

``"toolkit"``: the driver shipped with that toolkit's GA release (every feature works).
``"minor_compat"``: the floor of CUDA minor-version compatibility for the major family (a pip torch
usually starts, but PTX-JIT / nvJitLink paths may fail).
"""

Platform = Literal["linux-x86_64", "linux-aarch64", "windows-x86_64", "macos-arm64", "macos-x86_64"]

VariantKind = Literal["cpu", "cuda", "rocm", "xpu"]

_VARIANT_NAME = re.compile(r"^(cpu|xpu|cu\d{2,4}|rocm\d+(?:\.\d+){1,2})$")
_LOCAL_CPU = re.compile(r"^cpu(?:\.|$)")
_LOCAL_CUDA = re.compile(r"^cu(\d{2,4})(?:\.|$)")
_LOCAL_ROCM = re.compile(r"^rocm(\d+(?:\.\d+)*)$")
_LOCAL_XPU = re.compile(r"^xpu(?:\.|$)")
_LEADING_INTS = re.compile(r"\d+")


# -- data classes -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Build:
    """What a version string (plus, optionally, ``torch.version.cuda``/``hip``) says about a build.

    Attributes:
        version: the string as given, e.g. ``"0.29.1+cu130"``.
        public: the PEP 440 public version (no local label), e.g. ``"0.29.1"`` or
            ``"2.6.0.dev20241112"``.
        base: the release number only, always three components, e.g. ``"2.14.1"``.
        local: the normalised local label (``"cu130"``, ``"rocm6.2.4"``, ``"git1a2b3c"``) or None.
        variant: the download.pytorch.org variant (``"cpu"``, ``"cu130"``, ``"rocm6.2"``, ``"xpu"``),
            or None when it cannot be told (no label and no build info).
        cuda: ``"major.minor"`` of the CUDA build, or None.
        rocm: ROCm version of the build (as precise as the source allows), or None.
        is_prerelease: dev/alpha/beta/rc builds (nightlies).
    """

    version: str
    public: str
    base: str
    local: str | None
    variant: str | None
    cuda: str | None
    rocm: str | None
    is_prerelease: bool

    @property
    def is_cpu(self) -> bool:
        """True only when the build is known to be a CPU-only build."""
        return self.variant == "cpu"

    @property
    def is_cuda(self) -> bool:
        """True when the build is known to be a CUDA build."""
        return self.cuda is not None

    @property
    def is_rocm(self) -> bool:
        """True when the build is known to be a ROCm build."""
        return self.rocm is not None


@dataclass(frozen=True, slots=True)
class Variant:
    """One download.pytorch.org build variant (a ``/whl/<name>`` index)."""

    name: str
    kind: VariantKind
    cuda: str | None
    rocm: str | None
    index_url: str


@dataclass(frozen=True, slots=True)
class PythonRange:
    """Supported CPython ``major.minor`` range of a release (inclusive), minus excluded patches."""

    min: str
    max: str
    exclude: tuple[str, ...]
    verified: bool
    source: str


@dataclass(frozen=True, slots=True)
class Release:
    """One torch patch release with its paired domain libraries and its Linux x86_64 builds."""

    torch: str
    torchvision: str
    torchaudio: str | None
    python: PythonRange
    variants: tuple[str, ...]
    pypi_default: str | None
    pairing_verified: bool
    variants_verified: bool
    pypi_default_verified: bool


@dataclass(frozen=True, slots=True)
class Pair:
    """A torch/torchvision pair to install together, and where from.

    ``variant``/``index_url`` are None for the plain PyPI build (whose variant is
    :func:`pypi_default_variant`).
    """

    torch: str
    torchvision: str
    torchaudio: str | None
    variant: str | None
    index_url: str | None

    def pip_args(self, *, with_torchaudio: bool = False) -> list[str]:
        """``pip install`` arguments for the pair, e.g. ``["torch==2.14.1", "torchvision==0.29.1",
        "--index-url", "https://download.pytorch.org/whl/cu126"]``."""
        args = [f"torch=={self.torch}", f"torchvision=={self.torchvision}"]
        if with_torchaudio and self.torchaudio:
            args.append(f"torchaudio=={self.torchaudio}")
        if self.index_url:
            args += ["--index-url", self.index_url]
        return args


# -- loading ----------------------------------------------------------------------------------
@cache
def load_data() -> Mapping[str, Any]:
    """The parsed ``releases.json`` (cached; treat it as read-only)."""
    try:
        text = (resources.files(DATA_PACKAGE) / "data" / DATA_NAME).read_text(encoding="utf-8")
    except (ModuleNotFoundError, TypeError, FileNotFoundError, NotADirectoryError):
        text = (Path(__file__).resolve().parent / "data" / DATA_NAME).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def releases() -> tuple[Release, ...]:
    """Every known torch release, oldest first."""
    out = []
    for entry in load_data()["releases"]:
        py = entry["python"]
        linux = entry["linux_x86_64"]
        out.append(
            Release(
                torch=entry["torch"],
                torchvision=entry["torchvision"],
                torchaudio=entry.get("torchaudio"),
                python=PythonRange(
                    min=py["min"],
                    max=py["max"],
                    exclude=tuple(py.get("exclude", ())),
                    verified=bool(py["verified"]),
                    source=py["source"],
                ),
                variants=tuple(linux["variants"]),
                pypi_default=linux.get("pypi_default"),
                pairing_verified=bool(entry["pairing"]["verified"]),
                variants_verified=bool(linux["variants_verified"]),
                pypi_default_verified=bool(linux["pypi_default_verified"]),
            )
        )
    return tuple(sorted(out, key=lambda r: Version(r.torch)))


# -- version helpers --------------------------------------------------------------------------
def _version(text: str) -> Version:
    """``Version(text)`` with surrounding whitespace removed (raises ``InvalidVersion``)."""
    return Version(str(text).strip())


def _base(v: Version) -> str:
    rel = (*v.release, 0, 0)[:3]
    return ".".join(str(p) for p in rel)


def _mm(text: str) -> tuple[int, int] | None:
    """``(major, minor)`` of a dotted version such as ``"3.14.1"``, ``"13.0"`` or ``"3.13.0rc1"``."""
    nums = _LEADING_INTS.findall(str(text))
    if not nums:
        return None
    return int(nums[0]), int(nums[1]) if len(nums) > 1 else 0


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in _LEADING_INTS.findall(str(text)))


def _norm_cuda(cuda: str) -> str | None:
    mm = _mm(cuda)
    return f"{mm[0]}.{mm[1]}" if mm else None


def release(torch_version: str) -> Release | None:
    """The release entry for exactly this torch patch (local label ignored), or None."""
    try:
        base = _base(_version(torch_version))
    except InvalidVersion:
        return None
    for rel in releases():
        if rel.torch == base:
            return rel
    return None


def _release_or_minor(torch_version: str) -> Release | None:
    """Exact patch entry, else the newest known patch of the same ``major.minor``."""
    exact = release(torch_version)
    if exact is not None:
        return exact
    try:
        mm = _version(torch_version).release[:2]
    except InvalidVersion:
        return None
    same = [r for r in releases() if Version(r.torch).release[:2] == mm]
    return same[-1] if same else None


# -- builds and variants ----------------------------------------------------------------------
def cuda_of_variant(variant: str) -> str | None:
    """``"cu130"`` -> ``"13.0"``, ``"cu118"`` -> ``"11.8"``, ``"cu92"`` -> ``"9.2"``; None otherwise."""
    m = _LOCAL_CUDA.match(variant.strip().lower())
    if not m:
        return None
    digits = m.group(1)
    return f"{int(digits[:-1])}.{digits[-1]}"


def _variant_from_local(local: str) -> tuple[str | None, str | None, str | None]:
    """(variant, cuda, rocm) for a normalised local label."""
    if _LOCAL_CPU.match(local):
        return "cpu", None, None
    if _LOCAL_XPU.match(local):
        return "xpu", None, None
    m = _LOCAL_CUDA.match(local)
    if m:
        return f"cu{m.group(1)}", cuda_of_variant(f"cu{m.group(1)}"), None
    m = _LOCAL_ROCM.match(local)
    if m:
        return f"rocm{m.group(1)}", None, m.group(1)
    return None, None, None


def parse_local(
    version: str,
    *,
    cuda: str | None = None,
    hip: str | None = None,
    build_info_known: bool = False,
) -> Build:
    """Split a torch/torchvision version into release and build variant (PEP 440 aware).

    Args:
        version: ``torch.__version__`` / ``torchvision.__version__`` / a distribution version.
        cuda: ``torch.version.cuda`` when known (e.g. ``"13.0"``); used when the version carries
            no local label, as PyPI's default build does (``"2.14.1"`` + ``"13.0"`` -> ``cu130``).
        hip: ``torch.version.hip`` when known (e.g. ``"6.2.41133-dd7f95766"`` -> ``rocm6.2``).
        build_info_known: set when ``cuda`` and ``hip`` were actually read from the build; then an
            unlabelled version with neither is a CPU build (e.g. macOS wheels).  Otherwise it is
            unknown (``variant=None``).

    A local label wins over ``cuda``/``hip``.  Unrecognised labels (``+git1a2b3c``) are kept in
    ``local`` with ``variant=None``.

    Raises:
        packaging.version.InvalidVersion: (a ``ValueError``) for strings that are not PEP 440.
    """
    v = _version(version)
    local = v.local
    variant = cuda_ver = rocm_ver = None
    if local is not None:
        variant, cuda_ver, rocm_ver = _variant_from_local(local)
    if variant is None and local is None:
        if cuda:
            cuda_ver = _norm_cuda(cuda)
            if cuda_ver is not None:
                variant = "cu" + cuda_ver.replace(".", "")
        elif hip:
            mm = _mm(hip)
            if mm is not None:
                rocm_ver = f"{mm[0]}.{mm[1]}"
                variant = f"rocm{rocm_ver}"
        elif build_info_known:
            variant = "cpu"
    return Build(
        version=str(version),
        public=v.public,
        base=_base(v),
        local=local,
        variant=variant,
        cuda=cuda_ver,
        rocm=rocm_ver,
        is_prerelease=v.is_prerelease,
    )


def index_url(variant: str) -> str:
    """``https://download.pytorch.org/whl/<variant>`` for a well-formed variant name.

    Raises:
        ValueError: for names that are not ``cpu``, ``xpu``, ``cuNNN`` or ``rocmX.Y[.Z]``.
    """
    name = variant.strip().lower()
    if not _VARIANT_NAME.match(name):
        raise ValueError(f"not a download.pytorch.org variant: {variant!r}")
    return INDEX_BASE + name


def variant_info(name: str) -> Variant:
    """A :class:`Variant` for a variant name (from the data table, else derived from the name).

    Raises:
        ValueError: for malformed names (see :func:`index_url`).
    """
    key = name.strip().lower()
    url = index_url(key)
    row = load_data()["variants"].get(key)
    if row is not None:
        return Variant(key, row["kind"], row.get("cuda"), row.get("rocm"), row["index_url"])
    kind: VariantKind
    cuda = cuda_of_variant(key)
    rocm = key[4:] if key.startswith("rocm") else None
    if cuda:
        kind = "cuda"
    elif rocm:
        kind = "rocm"
    elif key == "xpu":
        kind = "xpu"
    else:
        kind = "cpu"
    return Variant(key, kind, cuda, rocm, url)


def variants_for(torch_version: str) -> list[Variant]:
    """Linux x86_64 variants published for a torch release (exact patch, else same minor).

    Empty for unknown releases.  Check ``Release.variants_verified`` before presenting the list
    as fact.
    """
    rel = _release_or_minor(torch_version)
    return [variant_info(n) for n in rel.variants] if rel else []


def pypi_default_variant(torch_version: str, platform: Platform | str = "linux-x86_64") -> str | None:
    """The variant PyPI's plain ``torch`` wheel is on a platform, or None when unknown.

    On Linux x86_64 it is the release's default CUDA build (``cu130`` for 2.12-2.14, ``cu128`` for
    2.8-2.10, ...); on Windows and macOS it is ``cpu``.
    """
    if platform == "linux-x86_64":
        rel = _release_or_minor(torch_version)
        return rel.pypi_default if rel else None
    try:
        tv = _version(torch_version)
    except InvalidVersion:
        return None
    probe = Version(_base(tv))
    for row in load_data().get("other_platforms", ()):
        if row["platform"] != platform:
            continue
        try:
            if SpecifierSet(row["torch"]).contains(probe, prereleases=True):
                default: str | None = row.get("pypi_default")
                return default
        except InvalidSpecifier:
            continue
    return None


# -- pairing ----------------------------------------------------------------------------------
def expected_torchvision(torch_version: str) -> str | None:
    """The torchvision release paired with a torch version (local label ignored).

    Patch-exact (``"2.5.1"`` -> ``"0.20.1"``) when the release is known; otherwise the
    ``major.minor`` series by the rule torch 2.N <-> 0.(N+15), 1.M <-> 0.(M+1) (M >= 5), e.g.
    ``"2.15.0"`` -> ``"0.30"``.  None for versions the rule does not cover.
    """
    rel = release(torch_version)
    if rel is not None:
        return rel.torchvision
    try:
        major, minor = (*_version(torch_version).release, 0)[:2]
    except InvalidVersion:
        return None
    if major == 2:
        return f"0.{minor + 15}"
    if major == 1 and minor >= 5:
        return f"0.{minor + 1}"
    return None


def expected_torch(torchvision_version: str) -> str | None:
    """The torch release paired with a torchvision version: the inverse of
    :func:`expected_torchvision` (patch-exact when known, else the ``major.minor`` series)."""
    try:
        v = _version(torchvision_version)
    except InvalidVersion:
        return None
    base = _base(v)
    for rel in releases():
        if rel.torchvision == base:
            return rel.torch
    major, minor = (*v.release, 0)[:2]
    if major != 0:
        return None
    if minor >= 15:
        return f"2.{minor - 15}"
    if minor >= 6:
        return f"1.{minor - 1}"
    return None


def torch_requirement_of(torchvision_version: str) -> SpecifierSet:
    """The ``torch`` requirement a torchvision release declares (its ``Requires-Dist``).

    From real wheel metadata where recorded; otherwise by rule: torchvision <= 0.29.0 pins torch
    exactly (``==2.5.1``; ``==2.N.*`` when the patch pairing is unknown), torchvision >= 0.29.1
    (stable ABI) only sets a floor (``>=2.14.0``).  An empty set (no constraint known) for
    torchvision < 0.6 or non-0.x versions.

    Remember PEP 440: ``SpecifierSet("==2.5.1").contains("2.5.1+cpu")`` is True, so the
    requirement says nothing about CPU vs CUDA.
    """
    data = load_data()
    v = _version(torchvision_version)
    base = _base(v)
    for row in data["torchvision_requirements"]:
        if row["torchvision"] == base:
            return SpecifierSet(row["requires_torch"])
    if v.release[0] != 0:
        return SpecifierSet()
    floor_from = Version(data["pairing_rule"]["lower_bound_requirement_from"])
    paired = expected_torch(base)
    if paired is None:
        return SpecifierSet()
    if Version(base) >= floor_from:
        return SpecifierSet(f">={_base(Version(paired))}")
    if paired.count(".") == 2:
        return SpecifierSet(f"=={paired}")
    return SpecifierSet(f"=={paired}.*")


def requirement_satisfied(torch_version: str, torchvision_version: str) -> bool:
    """Whether the installed torch satisfies torchvision's torch requirement, as pip sees it.

    Local labels are ignored the PEP 440 way (so ``2.5.1+cpu`` satisfies ``==2.5.1``) and
    pre-releases are allowed (nightlies).  This is the "pip check" view, not a CPU/CUDA check.
    """
    spec = torch_requirement_of(torchvision_version)
    return spec.contains(_version(torch_version), prereleases=True)


def is_released_pair(torch_version: str, torchvision_version: str) -> bool:
    """Whether the two were released together (same release entry), ignoring local labels."""
    try:
        t = _base(_version(torch_version))
        tv = _base(_version(torchvision_version))
    except InvalidVersion:
        return False
    return any(r.torch == t and r.torchvision == tv for r in releases())


# -- Python -----------------------------------------------------------------------------------
def python_supported(torch_version: str, python_version: str) -> bool:
    """Whether a torch release (with its torchvision) supports a CPython version.

    ``python_version`` may be ``"3.12"`` or a full ``"3.14.1"``; a full version is also checked
    against patch releases the wheels exclude (torchvision 0.28/0.29 declare ``!=3.14.1``).
    Unknown torch patches use the newest known patch of the same minor; unknown minors are not
    assumed supported (False).
    """
    rel = _release_or_minor(torch_version)
    mm = _mm(python_version)
    if rel is None or mm is None:
        return False
    lo, hi = _mm(rel.python.min), _mm(rel.python.max)
    if lo is None or hi is None or not lo <= mm <= hi:
        return False
    given = _ints(python_version)
    if len(given) >= 3:
        return all(given[:3] != _ints(ex)[:3] for ex in rel.python.exclude)
    return True


def newest_pair(
    python_version: str,
    variant: str | None = None,
    max_cuda: str | None = None,
    accept: Callable[[Pair], bool] | None = None,
) -> Pair | None:
    """The newest torch/torchvision pair that supports ``python_version``.

    Args:
        python_version: ``"3.8"`` or ``"3.12.4"``.
        variant: only releases published in this variant (``"cpu"``, ``"cu126"``, ``"rocm6.2"``);
            the pair then carries that variant's index URL.
        max_cuda: highest CUDA the driver supports (e.g. from :func:`max_cuda_for_driver`).  Without
            ``variant`` the newest CUDA variant <= ``max_cuda`` is chosen; with a CUDA ``variant``
            releases whose variant exceeds it are skipped.  Ignored for non-CUDA variants.
        accept: a further test a pair must pass (e.g. "its wheels carry kernels for this GPU").

    Without ``variant`` and ``max_cuda`` the pair is the plain PyPI build (``variant=None``).
    Returns None when nothing fits.
    """
    cap = _mm(max_cuda) if max_cuda else None
    for rel in reversed(releases()):
        if not python_supported(rel.torch, python_version):
            continue
        chosen: Variant | None = None
        if variant is not None:
            wanted = variant_info(variant)
            if wanted.name not in rel.variants:
                continue
            wanted_cuda = _mm(wanted.cuda) if wanted.cuda else None
            if cap is not None and wanted_cuda is not None and wanted_cuda > cap:
                continue
            chosen = wanted
        elif cap is not None:
            cudas = [
                info
                for info in (variant_info(n) for n in rel.variants)
                if info.cuda is not None and (_mm(info.cuda) or (99, 0)) <= cap
            ]
            if not cudas:
                continue
            chosen = max(cudas, key=lambda i: _mm(i.cuda or "0") or (0, 0))
        pair = Pair(
            torch=rel.torch,
            torchvision=rel.torchvision,
            torchaudio=rel.torchaudio,
            variant=chosen.name if chosen else None,
            index_url=chosen.index_url if chosen else None,
        )
        if accept is None or accept(pair):
            return pair
    return None


# -- GPU architectures -------------------------------------------------------------------------
def cuda_variants() -> list[str]:
    """Every CUDA variant of the data (``["cu116", ..., "cu132"]``), oldest CUDA first."""
    names = [n for n in load_data()["variants"] if cuda_of_variant(n)]
    return sorted(names, key=lambda n: _mm(cuda_of_variant(n) or "0.0") or (0, 0))


def _arch_entries(arches: str) -> list[str]:
    out = []
    for item in arches.split(";"):
        mm = _mm(item)
        if mm is None:
            continue
        out.append(f"sm_{mm[0]}{mm[1]}")
        if item.strip().endswith("+PTX"):
            out.append(f"compute_{mm[0]}{mm[1]}")
    return out


def wheel_arch_list(variant: str, torch_version: str) -> list[str] | None:
    """``torch.cuda.get_arch_list()`` of the official Linux x86_64 wheel of ``torch_version``
    in ``variant`` (``["sm_75", ..., "sm_120"]``), or None where the data does not say.

    The newest matching row of ``wheel_arches`` wins; its ``verified`` flag says how sure it is.
    """
    cuda = cuda_of_variant(variant)
    try:
        version = Version(_base(_version(torch_version)))
    except InvalidVersion:
        return None
    found = None
    for row in load_data().get("wheel_arches", {}).get("entries", []):
        try:
            if row["cuda"] == cuda and version in SpecifierSet(row["torch"]):
                found = row
        except InvalidSpecifier:
            continue
    return _arch_entries(found["arches"]) if found else None


def toolkit_cc_range(cuda: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The lowest and highest compute capability CUDA ``cuda`` can build for, or None."""
    mm = _mm(cuda)
    if mm is None:
        return None
    rows = sorted(
        (r for r in load_data().get("cuda_toolkit_cc", {}).get("rows", []) if (_mm(r["cuda"]) or (99, 0)) <= mm),
        key=lambda r: _mm(r["cuda"]) or (0, 0),
    )
    if not rows:
        return None
    low, high = _mm(rows[-1]["min_cc"]), _mm(rows[-1]["max_cc"])
    return (low, high) if low and high else None


# -- drivers ----------------------------------------------------------------------------------
def min_driver_for_cuda(cuda: str, mode: DriverMode = "toolkit") -> str | None:
    """Minimum Linux x86_64 driver for a CUDA ``major.minor`` (``"11.8"`` -> ``"520.61.05"``).

    ``mode="toolkit"`` uses NVIDIA's toolkit driver of the GA release; ``"minor_compat"`` the
    floor of minor-version compatibility for the major family (``"12.4"`` -> ``"525.60.13"``).
    None for CUDA versions not in the table (e.g. 12.7, which was never released).
    """
    mm = _mm(cuda)
    if mm is None:
        return None
    table = load_data()["cuda_drivers"]
    if mode == "minor_compat":
        known = any(_mm(r["cuda"]) == mm for r in table["toolkit"])
        for row in table["minor_compat"]:
            if int(row["cuda_major"]) == mm[0] and known:
                floor: str = row["min_linux"]
                return floor
        return None
    for row in table["toolkit"]:
        if _mm(row["cuda"]) == mm:
            found: str = row["min_linux"]
            return found
    return None


def max_cuda_for_driver(driver_version: str, mode: DriverMode = "toolkit") -> str | None:
    """Highest CUDA ``major.minor`` a Linux driver supports (``"535.104.05"`` -> ``"12.2"``).

    With ``mode="minor_compat"`` the answer is the newest CUDA of the highest major family whose
    compatibility floor the driver meets (``"535.104.05"`` -> ``"12.9"``).  None below every floor.
    """
    drv = _ints(driver_version)
    if not drv:
        return None
    table = load_data()["cuda_drivers"]
    rows = sorted(table["toolkit"], key=lambda r: _mm(r["cuda"]) or (0, 0))
    if mode == "toolkit":
        ok = [r["cuda"] for r in rows if _ints(r["min_linux"]) <= drv]
        return ok[-1] if ok else None
    majors = [int(r["cuda_major"]) for r in table["minor_compat"] if _ints(r["min_linux"]) <= drv]
    if not majors:
        return None
    top = max(majors)
    family = [r["cuda"] for r in rows if (_mm(r["cuda"]) or (0, 0))[0] == top]
    return family[-1] if family else None


# -- NumPy ------------------------------------------------------------------------------------
def numpy2_supported(torch_version: str) -> bool:
    """Whether a torch build is compiled against NumPy 2 (torch >= 2.3.0; local label ignored)."""
    first = Version(load_data()["numpy2"]["first_torch"])
    return Version(_base(_version(torch_version))) >= first
