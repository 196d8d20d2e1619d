"""Tiny synthetic torch/torchvision installs for the fast tier.

A fake env is a folder put on PYTHONPATH holding pure-Python ``torch`` and ``torchvision``
packages with real ``*.dist-info`` metadata and ``version.py`` files, so every probe runs
for real against them: metadata is read, imports happen, ``torchvision.ops.nms`` computes
(in pure Python).  Knobs make them break the ways real installs break.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TORCH_INIT = """
import sys as _sys
from . import version
from . import cuda, ops, backends, _C
__version__ = version.__version__
float32 = "float32"
{torch_extra}

class Tensor:
    def __init__(self, data, device="cpu"):
        self.data = data
        self.device = device
    def tolist(self):
        return list(self.data)
    def cpu(self):
        return Tensor(self.data)
    def numpy(self):
        return list(self.data)

def tensor(data, dtype=None, device="cpu"):
    return Tensor(data, device)

def zeros(n):
    return Tensor([0.0] * n)
"""

TORCH_CUDA = """
import warnings as _warnings

class _Props:
    def __init__(self, name, major, minor, total_memory):
        self.name, self.major, self.minor, self.total_memory = name, major, minor, total_memory

_DEVICES = [_Props(*d) for d in {devices!r}]

def is_available():
    if {warning!r}:
        _warnings.warn({warning!r}, UserWarning)
    return {available!r}
def get_arch_list():
    return {arch_list!r}
def device_count():
    return len(_DEVICES) if {available!r} else 0
def get_device_properties(i):
    return _DEVICES[i]
def synchronize(device=None):
    if {sync_error!r} and str(device).startswith("cuda"):
        raise RuntimeError({sync_error!r})
"""

TORCH_OPS = """
class _Namespace:
    def __init__(self, ops):
        self._ops = ops
    def __getattr__(self, name):
        if name in self._ops:
            return self._ops[name]
        raise AttributeError(name)

torchvision = _Namespace({})
def load_library(path):
    pass
"""

TV_INIT = """
import torch
{tv_extra}
from . import extension
from . import ops
from .version import __version__
"""

TV_EXTENSION = """
import torch
def _has_ops():
    return {has_ops}
torch.ops.torchvision._ops["nms"] = True
torch.ops.torchvision._ops["_cuda_version"] = lambda: {cuda_code}
"""

TV_OPS = """
import torch

def _area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

def _iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / (_area(a) + _area(b) - inter)

def nms(boxes, scores, threshold):
    boxes, scores = boxes.data, scores.data
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(_iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    {nms_extra}
    return torch.Tensor(keep)
"""


@dataclass
class FakeEnv:
    """Knobs for one fake install; ``build(dir)`` writes it."""

    torch: str | None = "2.14.1"  # dist version (None: not installed)
    torch_local: str = "+cu130"  # what torch.__version__ adds
    torch_cuda: str | None = "13.0"
    torchvision: str | None = "0.29.1"
    tv_local: str = "+cu130"
    tv_cuda_code: int = 13000
    tv_requires: list[str] = field(default_factory=lambda: ["torch>=2.14.0"])
    torch_requires: list[str] = field(default_factory=list)
    tv_extra: str = ""  # code run at the top of torchvision/__init__ (after import torch)
    torch_extra: str = ""
    nms_extra: str = ""  # code run in nms before it returns (e.g. corrupt `keep`)
    has_ops: bool = True
    # torch.cuda knobs (defaults: no GPU, as before)
    cuda_available: bool = False
    cuda_devices: list[tuple[str, int, int, int]] = field(default_factory=list)  # (name, major, minor, bytes)
    cuda_arch_list: list[str] | None = None  # None: ["sm_80", "sm_90"] for a CUDA build, else []
    cuda_warning: str = ""  # warned by is_available() (torch's "CUDA initialization: …")
    cuda_sync_error: str = ""  # raised by torch.cuda.synchronize(cuda:N), as async kernel errors are
    arch_flags: str | None = None  # torch._C._cuda_getArchFlags() (None: no such function)
    cudnn: int | None = None  # torch.backends.cudnn.version()

    def build(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        if self.torch is not None:
            pkg = root / "torch"
            (pkg / "backends").mkdir(parents=True, exist_ok=True)
            _write(pkg / "__init__.py", TORCH_INIT.format(torch_extra=self.torch_extra))
            _write(
                pkg / "version.py",
                f"__version__ = {self.torch + self.torch_local!r}\ncuda = {self.torch_cuda!r}\nhip = None\n"
                "git_version = 'fake'\ndebug = False\n",
            )
            arch = self.cuda_arch_list
            if arch is None:
                arch = ["sm_80", "sm_90"] if self.torch_cuda else []
            _write(
                pkg / "cuda.py",
                TORCH_CUDA.format(
                    arch_list=arch,
                    devices=[tuple(d) for d in self.cuda_devices],
                    available=self.cuda_available,
                    warning=self.cuda_warning,
                    sync_error=self.cuda_sync_error,
                ),
            )
            _write(pkg / "ops.py", TORCH_OPS)
            _write(pkg / "backends" / "__init__.py", "from . import cudnn\n")
            _write(pkg / "backends" / "cudnn.py", f"def version():\n    return {self.cudnn!r}\n")
            flags = "" if self.arch_flags is None else f"def _cuda_getArchFlags():\n    return {self.arch_flags!r}\n"
            _write(pkg / "_C.py", flags)
            _dist(root, "torch", self.torch, self.torch_requires)
        if self.torchvision is not None:
            pkg = root / "torchvision"
            pkg.mkdir(parents=True, exist_ok=True)
            _write(pkg / "__init__.py", TV_INIT.format(tv_extra=self.tv_extra))
            _write(
                pkg / "version.py",
                f"__version__ = {self.torchvision + self.tv_local!r}\ngit_version = 'fake'\n"
                f"cuda = {self.tv_cuda_code!r}\n",
            )
            _write(pkg / "extension.py", TV_EXTENSION.format(has_ops=self.has_ops, cuda_code=self.tv_cuda_code))
            _write(pkg / "ops.py", TV_OPS.format(nms_extra=self.nms_extra or "pass"))
            _dist(root, "torchvision", self.torchvision, self.tv_requires)
        return root


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text).lstrip("\n"))


def _dist(root: Path, name: str, version: str, requires: list[str]) -> None:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


def fake_env_vars(site: Path) -> dict[str, str]:
    """The environment for a target that sees the fake install first."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX")}
    env["PYTHONPATH"] = str(site)
    env["PYTHONNOUSERSITE"] = "1"
    return env


PYTHON = sys.executable


def run_tvwizard(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    stdout: Any = None,
    stdin_text: str | None = None,
    preexec_fn: Any = None,
) -> subprocess.CompletedProcess[str]:
    """The real ``tvwizard ARGS`` as a user runs it: a process of its own, no terminal, stdin
    empty (or ``stdin_text``), stdout and stderr captured (``stdout``: somewhere else)."""
    return subprocess.run(
        [sys.executable, "-m", "tvwizard", *args],
        stdout=subprocess.PIPE if stdout is None else stdout,
        stderr=subprocess.PIPE,
        text=True,
        input=stdin_text,
        stdin=None if stdin_text is not None else subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


def check_json_with(env: dict[str, str], cwd: Path, *extra: str) -> dict:
    """``tvwizard check --json`` of this interpreter, run for real with ``env`` in ``cwd``."""
    import json

    proc = run_tvwizard("--python", sys.executable, "check", "--json", "--no-redact", *extra, env=env, cwd=cwd)
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def smi_box_env(site: Path, smi: Path, **extra: str) -> dict[str, str]:
    """The fake install's environment on a box whose only driver tool is the fake nvidia-smi
    ``smi`` (NVML stays hidden: tests/conftest.py); CUDA_VISIBLE_DEVICES unset unless ``extra`` sets it."""
    env = fake_env_vars(site)
    env["TVWIZARD_NVIDIA_SMI"] = str(smi)
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update(extra)
    return env


def live_probe(data: dict) -> dict:
    """The live probe's record in a ``check --json`` result."""
    return next(p for p in data["probes"] if p["name"] == "live")


def live_steps(data: dict) -> dict[str, dict]:
    """The live probe's steps in a ``check --json`` result, by name."""
    return {s["name"]: s for s in live_probe(data)["steps"]}


# -- stand-in NVIDIA drivers (tests/fakedriver) -------------------------------------------------

FAKE_DRIVER = Path(__file__).resolve().parent / "fakedriver"


def build_stand_in(source: str, out: Path, soname: str, *flags: str) -> Path:
    """Compile ``tests/fakedriver/<source>`` into the shared library ``out`` named ``soname``."""
    import subprocess

    argv = ["gcc", "-shared", "-fPIC", "-O1", "-Wall", f"-Wl,-soname,{soname}", *flags]
    subprocess.run([*argv, "-o", str(out), str(FAKE_DRIVER / source)], check=True)
    return out


def fake_driver_root(
    root: Path, module: str | None = "580.95.05", nodes: tuple[str, ...] = ("nvidiactl", "nvidia-uvm", "nvidia0")
) -> Path:
    """A machine's /proc/driver/nvidia and /dev as the kernel side of a driver leaves them
    (for ``TVWIZARD_DRIVER_ROOT`` or ``collect_gpus(root=...)``)."""
    if module is not None:
        (root / "proc/driver/nvidia").mkdir(parents=True, exist_ok=True)
        (root / "proc/driver/nvidia/version").write_text(
            f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {module}  Release Build  (dvs-builder@U22)\n"
            "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n"
        )
    (root / "dev").mkdir(parents=True, exist_ok=True)
    for node in nodes:
        (root / "dev" / node).write_text("")
    return root
