"""A downstream package that uses an API torchvision removed, as BasicSR 1.4.2 does.

``basicsr/data/degradations.py`` line 8 is ``from torchvision.transforms.functional_tensor import
rgb_to_grayscale`` (XPixelGroup/BasicSR#533, #663); the package here, ``oldsr``, has the same
line at the same place, behind the same kind of package ``__init__`` chain.  It exists twice:
as files with a real RECORD (sha256 and size, as pip writes it) for the fast tier's synthetic
site folders, and as a wheel that the real tier installs with pip into a private env.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

NAME = "oldsr"
VERSION = "1.4.2"
FAILING_FILE = "oldsr/data/degradations.py"
FAILING_LINE = 8

FILES = {
    "oldsr/__init__.py": "from .data import degradations  # noqa: F401\n",
    "oldsr/data/__init__.py": "",
    FAILING_FILE: (
        "import math\n"
        "import random\n"
        "\n"
        "import numpy as np\n"
        "import torch\n"
        "# (BasicSR imports scipy here)\n"
        "\n"
        "from torchvision.transforms.functional_tensor import rgb_to_grayscale\n"
        "\n"
        "\n"
        "def gray(img):\n"
        "    return rgb_to_grayscale(img)\n"
    ),
}
FAILING_CODE = "from torchvision.transforms.functional_tensor import rgb_to_grayscale"


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


def _dist_info(files: dict[str, bytes], name: str, version: str) -> dict[str, bytes]:
    info = f"{name}-{version}.dist-info"
    out = dict(files)
    out[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    out[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: tvwizard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rows = [f"{path},{_digest(data)},{len(data)}" for path, data in out.items()]
    out[f"{info}/RECORD"] = ("\n".join([*rows, f"{info}/RECORD,,"]) + "\n").encode()
    return out


def install_files(site: Path, files: dict[str, str] = FILES, name: str = NAME, version: str = VERSION) -> None:
    """Write the package and its ``.dist-info`` (with a true RECORD) into ``site``."""
    for path, data in _dist_info({k: v.encode() for k, v in files.items()}, name, version).items():
        target = site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def build_wheel(out: Path, files: dict[str, str] = FILES, name: str = NAME, version: str = VERSION) -> Path:
    """A ``py3-none-any`` wheel of the package, for ``pip install``."""
    path = out / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as whl:
        for member, data in _dist_info({k: v.encode() for k, v in files.items()}, name, version).items():
            whl.writestr(member, data)
    return path


def stub_torchvision(site: Path, version: str = "0.29.1") -> None:
    """For the fast tier: a ``torchvision`` without ``transforms.functional_tensor`` (as 0.17+),
    and the torch and numpy it pairs with, each an empty package with a true dist-info, so an
    import of the removed module fails as it does for real."""
    install_files(
        site,
        {
            "torchvision/__init__.py": f"__version__ = {version!r}\n",
            "torchvision/transforms/__init__.py": "",
            "torchvision/transforms/functional.py": "def rgb_to_grayscale(img):\n    return img\n",
        },
        "torchvision",
        version,
    )
    install_files(site, {"torch/__init__.py": "__version__ = '2.14.1'\n"}, "torch", "2.14.1")
    install_files(site, {"numpy/__init__.py": "__version__ = '2.4.6'\n"}, "numpy", "2.4.6")
