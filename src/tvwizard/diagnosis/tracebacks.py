"""Classify a failure (a parsed traceback) before any probe runs: which finding it points to,
and which probes can confirm or refute that.

``tvwizard explain`` starts here with what a person pasted: it runs only the probes a class
names (a removed API needs the package metadata, not a 20-second ``import torch``), and an
error of no known class gets the full check.  Each class names the finding id the rules
produce when the probes agree, so "confirmed" means that finding is in the diagnosis.

The patterns are the texts the cited reports show (``tests/fast/data/tracebacks/`` holds
them, one file per class, with the issue each came from).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tvwizard.facts import removed_apis

FULL = ("interpreter", "distributions", "resolution", "native", "envvars", "toolchain", "live")


@dataclass(frozen=True)
class ErrorClass:
    finding: str  # the finding id the rules give when the probes confirm it
    pattern: re.Pattern[str]  # searched in "Type: message"
    probes: tuple[str, ...]  # the probes that confirm or refute it
    summary: str  # what the class means, in a sentence


def _c(finding: str, pattern: str, probes: tuple[str, ...], summary: str) -> ErrorClass:
    return ErrorClass(finding, re.compile(pattern, re.IGNORECASE), probes, summary)


_PACKAGES = ("interpreter", "distributions", "resolution")

# First match wins: specific before general.
CLASSES: tuple[ErrorClass, ...] = (
    _c(
        "torch-missing",
        r"No module named '?torch'?$",
        _PACKAGES,
        "torch is not importable from this interpreter.",
    ),
    _c(
        "torchvision-missing",
        r"No module named '?torchvision'?$",
        _PACKAGES,
        "torchvision is not importable from this interpreter.",
    ),
    _c(
        "first-import-differs",
        r"partially initialized module 'torchvision' has no attribute 'extension'",
        ("interpreter", "distributions", "resolution", "live"),
        "A second import of torchvision after a failed first one (torchvision 0.17-0.28): this error hides the "
        "first, real one, which the import probe shows.",
    ),
    _c(
        "shadowed-module",
        r"partially initialized module '(?:torch|torchvision)'|'torch' is not a package"
        r"|module '(?:torch|torchvision)' has no attribute '__version__'",
        ("interpreter", "resolution", "live"),
        "Something else named torch/torchvision (a file in the working folder, a source checkout) is imported "
        "instead of the installed package.",
    ),
    _c(
        "numpy-abi",
        r"_ARRAY_API not found|compiled using NumPy 1\.x cannot be run|numpy\.core\.multiarray failed to import",
        ("interpreter", "distributions", "live"),
        "A module compiled for NumPy 1.x meets NumPy 2.",
    ),
    _c(
        "version-mismatch",
        r"operator torchvision::\w+ does not exist|Couldn't load custom C\+\+ ops",
        ("interpreter", "distributions", "native", "live"),
        "torchvision's compiled ops were built for another torch release.",
    ),
    _c(
        "abi-mismatch",
        r"undefined symbol",
        ("interpreter", "distributions", "native", "envvars", "live"),
        "A compiled extension does not link against the torch it is loaded with.",
    ),
    _c(
        "corrupt-file",
        r"site-packages/(?:torch|torchvision|nvidia)/(?:(?!\.\./)[^:\s])*: (?:invalid ELF header|file too short)",
        ("interpreter", "distributions", "native", "live"),
        "A compiled file inside torch, torchvision or an nvidia-* package is damaged (not ELF, cut short): "
        "its package's RECORD says what it should be.",
    ),
    _c(
        "library-path-override",
        r"version `(?:GLIBCXX|CXXABI)_[\d.]+' not found|: (?:invalid ELF header|file too short)",
        ("interpreter", "distributions", "native", "envvars", "live"),
        "The loader found another copy of a library first (through LD_LIBRARY_PATH or LD_PRELOAD): older than "
        "the one torch needs, or a file it cannot load at all.",
    ),
    _c(
        "missing-shared-library",
        r"cannot open shared object file|Library not loaded|DLL load failed",
        ("interpreter", "distributions", "native", "envvars", "live"),
        "A library that torch or torchvision links against cannot be found by the loader.",
    ),
    _c(
        "gpu-arch-unsupported",
        r"no kernel image is available for execution on the device",
        ("interpreter", "distributions", "native", "live"),
        "The GPU's compute capability is not in the build's list of architectures.",
    ),
    _c(
        "driver-too-old",
        r"driver version is insufficient for CUDA runtime version|NVIDIA driver on your system is too old",
        ("interpreter", "distributions", "live"),
        "The NVIDIA driver is older than the CUDA torch was built with.",
    ),
    _c(
        "gpu-driver-missing",
        r"Found no NVIDIA driver on your system",
        ("interpreter", "distributions", "live"),
        "A CUDA build of torch and no NVIDIA driver answers.",
    ),
    _c(
        "cuda-unavailable",
        r"No CUDA GPUs are available|CUDA driver initialization failed",
        ("interpreter", "distributions", "envvars", "live"),
        "A CUDA build of torch cannot use a GPU (CUDA_VISIBLE_DEVICES hides every GPU, device nodes or "
        "nvidia_uvm missing, no GPU allocated): the GPU probe names which.",
    ),
    _c(
        "unsupported-python",
        r"requirement torch(?:vision)?\b[^\n]*\(from versions: none\)",
        ("interpreter", "distributions"),
        "pip found no torch (or torchvision) at all for this interpreter: usually no release has wheels for its "
        "Python version.",
    ),
    _c(
        "foreign-site-packages",
        r"cannot import name '?_imaging'?|No module named '?PIL\._imaging'?",
        ("interpreter", "resolution", "distributions", "live"),
        "Pillow's Python files were found but not its compiled module: usually another Python's site-packages "
        "on sys.path, whose modules carry another ABI tag.",
    ),
    _c(
        "missing-dependency",
        r"No module named '(?:typing_extensions|filelock|sympy|networkx|jinja2|fsspec|PIL|numpy)'",
        ("interpreter", "distributions", "live"),
        "A requirement of torch or torchvision is not installed.",
    ),
    _c(
        "import-crash",
        r"Fatal Python error: (?:Segmentation fault|Aborted|Bus error)",
        ("interpreter", "distributions", "native", "live"),
        "The interpreter died in native code.",
    ),
)


@dataclass(frozen=True)
class Classification:
    """What a failure looks like before the probes: ``finding`` None means "unknown"."""

    finding: str | None
    probes: tuple[str, ...]
    summary: str
    api: removed_apis.RemovedApi | None = None

    @property
    def known(self) -> bool:
        return self.finding is not None


REMOVED_API = "removed-api-used"
OPTIONAL_PACKAGE = "optional-package-missing"


def classify(failure: dict | None, *, raw_text: str = "") -> Classification:
    """The class of ``failure`` (a parsed traceback); ``raw_text`` is searched too, for the
    crash messages that come without a Python exception line (faulthandler's)."""
    failure = failure or {}
    etype = str(failure.get("type") or "")
    message = str(failure.get("message") or "")
    found = removed_apis.match(etype, message)
    if found is not None:
        api = found.api
        if api.kind == "optional":
            return Classification(
                OPTIONAL_PACKAGE,
                ("interpreter", "distributions"),
                f"{api.provider} needs the optional package {api.package!r} for this feature.",
                api,
            )
        return Classification(
            REMOVED_API,
            ("interpreter", "distributions"),
            f"The code imports {api.what}, {api.removed_phrase()}.",
            api,
        )
    text = f"{etype}: {message}" if etype else message
    for haystack in (text, raw_text):  # the error line first; then the whole text (NumPy's banner, faulthandler)
        for cls in CLASSES:
            if haystack and cls.pattern.search(haystack):
                return Classification(cls.finding, cls.probes, cls.summary)
    return Classification(None, FULL, "tvwizard does not recognise this error.")
