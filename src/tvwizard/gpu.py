"""The NVIDIA driver and GPUs, seen without torch: NVML first, ``nvidia-smi`` second.

(One module of ~1,000 lines: the ctypes NVML binding, the ``nvidia-smi`` reader and the
kernel-side reading must agree on one output shape, written in one place; tests/fast/
test_nvml_ctypes.py and test_system_gpu.py mirror its two halves.)

Runs in tvwizard's own process (Python 3.10+).  Nothing here imports torch: the question
is what the *machine* offers (driver, newest CUDA it supports, each GPU's compute
capability), so the diagnosis can compare it with what the installed wheels need
(docs/knowledge.md, "Failure facts: Driver too old, no kernel image …").

**NVML binding: ctypes, not ``nvidia-ml-py``.**  tvwizard needs eleven NVML functions with
plain C signatures (ints, char buffers, one three-field struct), all stable since NVML's
v2 entry points (driver R3xx) and documented in ``nvml.h``.  A ~100-line ctypes binding
costs no dependency, no version pin, no wheel that might be missing from a user's
offline mirror, and it keeps the whole fallback chain in one place.  The price is that
buffer sizes and the ``nvmlMemory_t`` layout are ours to get right; they are taken from
``nvml.h`` (NAME/UUID v2 buffers 96 bytes, driver version 80, ``nvmlMemory_t`` = three
``unsigned long long``), every call checks its return code, and a symbol missing from
an old driver is an error for that one field, not a crash.  ``nvidia-ml-py`` would mainly
buy the full API, which tvwizard does not need.

Hangs: a sick driver can block inside NVML or ``nvidia-smi``.  NVML runs in a daemon
thread joined with a time limit (``nvml_timeout``); ``nvidia-smi`` runs in its own process
group, killed with the group after ``smi_timeout`` (10 s).  Nothing here can hang tvwizard.

Two environment variables point tvwizard at a driver elsewhere (a container's
``/usr/local/nvidia/lib64``, a CUDA forward-compat folder) or at a stand-in:
``TVWIZARD_NVML`` (the NVML library to load, instead of ``libnvidia-ml.so.1`` from the
loader's search path) and ``TVWIZARD_NVIDIA_SMI`` (the ``nvidia-smi`` to run, instead of
the first on ``PATH``).  Only the named file is tried, so a path that does not exist
reads as "no driver": the fast tests use that to hide a real GPU from tests that bring
fake ones, with ``TVWIZARD_DRIVER_ROOT`` (a folder read in place of ``/`` for
``/proc/driver/nvidia`` and ``/dev/nvidia*``) pointed at an empty one.

Everything is injectable for tests: ``collect_gpus(nvml=<layer>|False, run=<callable>,
env=<mapping>, which=<callable>, smi_dirs=<dirs>)``.  An NVML *layer* is any object with
the methods of :class:`CtypesNVML` (``init``, ``shutdown``, ``driver_version``,
``cuda_driver_version``, ``device_count``, ``device``, ``name``, ``uuid``,
``compute_capability``, ``memory_total``, ``mig_mode``) raising :class:`NVMLError`.

:func:`collect_gpus` returns (JSON-able)::

    {
      "state": "ok"            # driver answered, at least one GPU
             | "no-gpu"        # driver answered, no GPU
             | "no-driver"     # no NVML library / no nvidia-smi / driver not loaded
             | "driver-error"  # a driver is there but failed (library/driver mismatch, …)
             | "timeout",      # NVML and nvidia-smi hung
      "source": "nvml" | "nvidia-smi" | None,
      "driver": "535.104.05" | None,
      "cuda_driver": "12.2" | None,    # newest CUDA this driver supports
      "cuda_driver_int": 12020 | None, # the same as CUDA encodes it (1000*major + 10*minor)
      "reason": str | None,            # why the state is not "ok", in the driver's words
      "gpus": [
        {"index": 0,                   # NVML / nvidia-smi index (PCI bus order)
         "name": "NVIDIA A100-SXM4-80GB" | None,
         "uuid": "GPU-…" | None,
         "compute_capability": "8.0" | None, "cc_major": 8 | None, "cc_minor": 0 | None,
         "memory_total_mib": 81920 | None,
         "mig_mode": "enabled" | "disabled" | None,   # None: not supported / unknown
         "visible": bool | None,       # after CUDA_VISIBLE_DEVICES (None: cannot tell)
         "cuda_index": int | None,     # its ordinal inside a CUDA process, when visible
         "errors": {field: str}},      # only fields that failed
      ],
      "visible_devices": {
        "env": str | None,             # CUDA_VISIBLE_DEVICES as set (None: unset)
        "set": bool,
        "visible": [index, …] | None,  # in CUDA ordinal order; None: cannot tell
        "hidden": [index, …] | None,
        "stopped_at": str | None,      # the entry that ended the list (CUDA ignores the rest)
        "ignored": [str, …],           # entries after it
        "unresolved": [str, …],        # MIG ids whose parent GPU cannot be told
        "note": str | None,            # "empty", "duplicate", "-1", "out of range", …
        "device_order": str | None,    # CUDA_DEVICE_ORDER; unset = FASTEST_FIRST, whose
                                       # ordinals may differ from the PCI-order indices above
        "order_caveat": bool,          # they may here: the GPUs differ and the order is not PCI
        "mig": {entry: index},         # MIG instance entries and their GPU
      },
      "linux": {                       # Linux only (None elsewhere): the kernel side
        "kernel_module": "535.104.05" | None,   # /proc/driver/nvidia/version
        "kernel_module_text": str | None,
        "nodes": {"/dev/nvidiactl": "ok" | "missing" | "no access", "/dev/nvidia-uvm": …,
                  "/dev/nvidia0": …},
      },
      "attempts": [                    # what was tried, in order
        {"source": "nvml", "ok": bool, "state": str, "error": str | None, "duration": float,
         "library": str},              # "library": only when TVWIZARD_NVML named it
        {"source": "nvidia-smi", "path": str | None, "ok": bool, "state": str,
         "error": str | None, "returncode": int | None, "duration": float,
         "only": "cuda_driver"},       # "only": NVML answered, the smi header gave the CUDA version
      ],
    }
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CommandResult",
    "CtypesNVML",
    "NVMLError",
    "collect_gpus",
    "linux_driver_state",
    "parse_smi_csv",
    "resolve_visible",
    "run_command",
]

SMI_TIMEOUT = 10.0
NVML_TIMEOUT = 10.0
NVML_ENV = "TVWIZARD_NVML"  # path of the NVML library to load instead of the default search
SMI_ENV = "TVWIZARD_NVIDIA_SMI"  # path of the nvidia-smi to run instead of PATH's
ROOT_ENV = "TVWIZARD_DRIVER_ROOT"  # where /proc/driver/nvidia and /dev/nvidia* are read (tests)
SMI_FIELDS = ("index", "name", "uuid", "driver_version", "memory.total", "compute_cap", "mig.mode.current")

# nvml.h return codes tvwizard tells apart
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_UNKNOWN = 999

_NVML_MESSAGES = {
    1: "Uninitialized",
    2: "Invalid Argument",
    3: "Not Supported",
    4: "Insufficient Permissions",
    6: "Not Found",
    9: "Driver Not Loaded",
    12: "NVML Shared Library Not Found",
    13: "Function Not Found",
    15: "GPU is lost",
    18: "RM has detected an NVML/RM version mismatch.",
    999: "Unknown Error",
}
_NO_DRIVER_CODES = {NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_LIBRARY_NOT_FOUND}

_NAME_BUF = 96  # NVML_DEVICE_NAME_V2_BUFFER_SIZE
_UUID_BUF = 96  # NVML_DEVICE_UUID_V2_BUFFER_SIZE
_DRIVER_BUF = 80  # NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE


class NVMLError(Exception):
    """An NVML call failed; ``code`` is the ``nvmlReturn_t``."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or _NVML_MESSAGES.get(code, f"NVML error {code}")
        super().__init__(f"{self.message} (NVML error {code})")


class _Memory(ctypes.Structure):
    _fields_ = (("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong))


def _library_candidates() -> list[str]:
    if sys.platform.startswith("win"):
        out = []
        system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        out.append(os.path.join(system_root, "System32", "nvml.dll"))
        program_files = os.environ.get("PROGRAMFILES", r"C:\Program Files")
        out.append(os.path.join(program_files, "NVIDIA Corporation", "NVSMI", "nvml.dll"))
        return out
    return ["libnvidia-ml.so.1", "/usr/lib/wsl/lib/libnvidia-ml.so.1"]


class CtypesNVML:
    """The few NVML calls tvwizard needs, bound with ctypes.  Not thread-safe; one user."""

    def __init__(self, library: str | Sequence[str] | None = None) -> None:
        if library is None:
            self._candidates = _library_candidates()
        elif isinstance(library, str):
            self._candidates = [library]
        else:
            self._candidates = list(library)
        self._lib: Any = None

    # -- plumbing -------------------------------------------------------------------
    def _load(self) -> Any:
        if self._lib is not None:
            return self._lib
        errors = []
        for name in self._candidates:
            try:
                self._lib = ctypes.CDLL(name)
                return self._lib
            except OSError as exc:
                errors.append(f"{name}: {exc}")
        raise NVMLError(NVML_ERROR_LIBRARY_NOT_FOUND, "cannot load NVML (" + "; ".join(errors) + ")")

    def _fn(self, *names: str) -> Any:
        lib = self._load()
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn
        raise NVMLError(NVML_ERROR_FUNCTION_NOT_FOUND, f"{names[0]} not in this NVML")

    def _error_text(self, code: int) -> str | None:
        try:
            fn = self._lib.nvmlErrorString
            fn.restype = ctypes.c_char_p
            text = fn(ctypes.c_int(code))
            return text.decode("utf-8", "replace") if text else None
        except Exception:
            return None

    def _call(self, fn: Any, *args: Any) -> None:
        ret = fn(*args)
        if ret != NVML_SUCCESS:
            raise NVMLError(ret, self._error_text(ret))

    # -- the layer interface ----------------------------------------------------------
    def init(self) -> None:
        self._call(self._fn("nvmlInit_v2", "nvmlInit"))

    def shutdown(self) -> None:
        self._call(self._fn("nvmlShutdown"))

    def driver_version(self) -> str:
        buf = ctypes.create_string_buffer(_DRIVER_BUF)
        self._call(self._fn("nvmlSystemGetDriverVersion"), buf, ctypes.c_uint(_DRIVER_BUF))
        return buf.value.decode("utf-8", "replace")

    def cuda_driver_version(self) -> int:
        v = ctypes.c_int()
        self._call(self._fn("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion"), ctypes.byref(v))
        return v.value

    def device_count(self) -> int:
        n = ctypes.c_uint()
        self._call(self._fn("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"), ctypes.byref(n))
        return n.value

    def device(self, index: int) -> Any:
        handle = ctypes.c_void_p()
        fn = self._fn("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex")
        self._call(fn, ctypes.c_uint(index), ctypes.byref(handle))
        return handle

    def name(self, handle: Any) -> str:
        buf = ctypes.create_string_buffer(_NAME_BUF)
        self._call(self._fn("nvmlDeviceGetName"), handle, buf, ctypes.c_uint(_NAME_BUF))
        return buf.value.decode("utf-8", "replace")

    def uuid(self, handle: Any) -> str:
        buf = ctypes.create_string_buffer(_UUID_BUF)
        self._call(self._fn("nvmlDeviceGetUUID"), handle, buf, ctypes.c_uint(_UUID_BUF))
        return buf.value.decode("utf-8", "replace")

    def compute_capability(self, handle: Any) -> tuple[int, int]:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._call(self._fn("nvmlDeviceGetCudaComputeCapability"), handle, ctypes.byref(major), ctypes.byref(minor))
        return major.value, minor.value

    def memory_total(self, handle: Any) -> int:
        mem = _Memory()
        self._call(self._fn("nvmlDeviceGetMemoryInfo"), handle, ctypes.byref(mem))
        return int(mem.total)

    def mig_mode(self, handle: Any) -> tuple[int, int]:
        current, pending = ctypes.c_uint(), ctypes.c_uint()
        self._call(self._fn("nvmlDeviceGetMigMode"), handle, ctypes.byref(current), ctypes.byref(pending))
        return current.value, pending.value

    def mig_devices(self, handle: Any) -> list[tuple[str, int]]:
        """The MIG devices (compute instances) on a GPU in MIG mode: (UUID, memory bytes) each.

        Their slots can be sparse: an empty one answers NVML_ERROR_NOT_FOUND."""
        most = ctypes.c_uint()
        self._call(self._fn("nvmlDeviceGetMaxMigDeviceCount"), handle, ctypes.byref(most))
        get = self._fn("nvmlDeviceGetMigDeviceHandleByIndex")
        out = []
        for index in range(most.value):
            mig = ctypes.c_void_p()
            ret = get(handle, ctypes.c_uint(index), ctypes.byref(mig))
            if ret == NVML_ERROR_NOT_FOUND:
                continue
            if ret != NVML_SUCCESS:
                raise NVMLError(ret, self._error_text(ret))
            out.append((self.uuid(mig), self.memory_total(mig)))
        return out


# -- running nvidia-smi --------------------------------------------------------------------


@dataclass
class CommandResult:
    returncode: int | None  # None: did not start, or killed at the time limit
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str | None = None  # could not start it


def run_command(argv: Sequence[str], timeout: float) -> CommandResult:
    """Run ``argv`` in its own process group; kill the whole group at ``timeout``."""
    kwargs: dict[str, Any] = {}
    if sys.platform.startswith("win"):
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    else:
        kwargs["start_new_session"] = True
    env = dict(os.environ, LC_ALL="C", LANG="C")
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            **kwargs,
        )
    except (OSError, ValueError) as exc:
        return CommandResult(None, error=f"{type(exc).__name__}: {exc}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            if sys.platform.startswith("win"):
                proc.kill()
            else:
                os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=1.0)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            out, err = b"", b""
        return CommandResult(None, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), timed_out=True)
    return CommandResult(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))


def _default_smi_dirs() -> tuple[str, ...]:
    if sys.platform.startswith("win"):
        root = os.environ.get("SYSTEMROOT", r"C:\Windows")
        pf = os.environ.get("PROGRAMFILES", r"C:\Program Files")
        return (os.path.join(root, "System32"), os.path.join(pf, "NVIDIA Corporation", "NVSMI"))
    return ("/usr/lib/wsl/lib",)  # WSL ships nvidia-smi there, often not on PATH


# -- parsing -------------------------------------------------------------------------------


def _na(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or value.strip("[]").lower() in (
        "n/a",
        "not supported",
        "unknown error",
        "insufficient permissions",
    ):
        return None
    return value


def _int(value: str | None) -> int | None:
    value = _na(value)
    if value is None:
        return None
    m = re.match(r"\d+", value)
    return int(m.group(0)) if m else None


def cuda_int_to_str(v: int | str | None) -> str | None:
    """CUDA's integer version as people write it: ``13000`` -> ``"13.0"``, ``11040`` -> ``"11.4"``.

    The one decoder of that encoding (1000 * major + 10 * minor), wherever it appears: NVML's
    ``nvmlSystemGetCudaDriverVersion``, torch's "found version 11040" and torchvision's
    ``_cuda_version()``.  A digit string is read as the number; None for 0, -1 or anything else."""
    if isinstance(v, str):
        v = int(v) if v.strip().isdigit() else None
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        return None
    return f"{v // 1000}.{(v % 1000) // 10}"


def cuda_str_to_int(s: str | None) -> int | None:
    m = re.match(r"(\d+)\.(\d+)", s or "")
    return int(m.group(1)) * 1000 + int(m.group(2)) * 10 if m else None


def _cc(gpu: dict[str, Any], major: int | None, minor: int | None) -> None:
    gpu["cc_major"], gpu["cc_minor"] = major, minor
    gpu["compute_capability"] = f"{major}.{minor}" if major is not None and minor is not None else None


def _new_gpu(index: int) -> dict[str, Any]:
    return {
        "index": index,
        "name": None,
        "uuid": None,
        "compute_capability": None,
        "cc_major": None,
        "cc_minor": None,
        "memory_total_mib": None,
        "mig_mode": None,
        "visible": None,
        "cuda_index": None,
        "errors": {},
    }


def parse_smi_csv(text: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits``."""
    gpus = []
    for n, row in enumerate(csv.reader(text.splitlines(), skipinitialspace=True)):
        if not row or not any(c.strip() for c in row):
            continue
        values = dict(zip(fields, row, strict=False))
        index = _int(values.get("index"))
        gpu = _new_gpu(index if index is not None else n)
        gpu["name"] = _na(values.get("name"))
        gpu["uuid"] = _na(values.get("uuid"))
        gpu["driver_version"] = _na(values.get("driver_version"))
        gpu["memory_total_mib"] = _int(values.get("memory.total"))
        cc = _na(values.get("compute_cap"))
        m = re.match(r"(\d+)\.(\d+)", cc or "")
        _cc(gpu, int(m.group(1)) if m else None, int(m.group(2)) if m else None)
        mig = _na(values.get("mig.mode.current"))
        gpu["mig_mode"] = mig.lower() if mig else None
        gpus.append(gpu)
    return gpus


# -- CUDA_VISIBLE_DEVICES ------------------------------------------------------------------


def _strtoul(s: str) -> int:
    """Like CUDA's parse (and torch's ``_parse_visible_devices``): leading digits, else -1."""
    m = re.match(r"[+-]?\d+", s)
    return int(m.group(0)) if m else -1


def resolve_visible(value: str | None, gpus: Sequence[Mapping[str, Any]], order: str | None = None) -> dict[str, Any]:
    """Which of ``gpus`` a CUDA process sees under ``CUDA_VISIBLE_DEVICES=value``.

    CUDA reads the list left to right and stops at the first entry it cannot use (a
    negative number, an index out of range, an unknown or ambiguous UUID): later entries
    are ignored.  A repeated device makes the whole set empty.  ``""`` hides every GPU.
    Integers parse like ``strtoul`` (``"1gpu"`` is 1).  UUIDs may be given by unique prefix.
    """
    out: dict[str, Any] = {
        "env": value,
        "set": value is not None,
        "visible": None,
        "hidden": None,
        "stopped_at": None,
        "ignored": [],
        "unresolved": [],
        "note": None,
        "device_order": order,
        "mig": {},  # MIG instance entry -> the index of its GPU
        "order_caveat": False,
    }
    # CUDA numbers GPUs fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; NVML (and so these
    # indices) go by PCI bus.  Same models tie and keep PCI order; mixed ones may not, and then
    # CUDA's numbers (numeric entries, cuda:N of several visible GPUs) may not be these.
    mixed = (order or "").strip().upper() != "PCI_BUS_ID" and len(
        {(g.get("name"), g.get("compute_capability")) for g in gpus}
    ) > 1
    indices = [g["index"] for g in gpus]
    if value is None:
        out["visible"], out["hidden"], out["order_caveat"] = list(indices), [], mixed
        return out
    if not value.strip():
        out["visible"], out["hidden"], out["note"] = [], list(indices), "empty: no GPU visible"
        return out
    entries = [e.strip() for e in value.split(",")]
    chosen: list[int] = []
    seen: set[str] = set()
    for pos, entry in enumerate(entries):
        if entry.upper() in seen:
            out["note"] = f"duplicate entry {entry!r}: CUDA then sees no GPU"
            chosen, out["unresolved"] = [], []
            break
        seen.add(entry.upper())
        kind, found = _visible_entry(entry, gpus)
        if kind == "stop":  # CUDA stops reading the list here
            out.update(stopped_at=entry, note=found, ignored=entries[pos + 1 :])
            break
        if kind == "unresolved":
            out["unresolved"].append(entry)
            continue
        if kind == "mig":
            out["mig"][entry] = found
            if found in chosen:
                continue  # another instance on the same GPU: the GPU is not listed twice
        if found in chosen:
            out["note"] = f"entry {entry!r} names a GPU already listed: CUDA then sees no GPU"
            chosen, out["unresolved"] = [], []
            break
        chosen.append(found)
    if out["unresolved"] and not chosen:
        return out  # cannot tell which GPUs the MIG ids belong to
    by_number = any(not _names_by_uuid(e) for e in entries[: len(seen)])  # the entries CUDA read
    out["order_caveat"] = mixed and bool(chosen) and (len(chosen) > 1 or by_number)
    out["visible"] = chosen
    out["hidden"] = [i for i in indices if i not in chosen]
    return out


def _names_by_uuid(entry: str) -> bool:
    key = entry.upper()
    return key.startswith(("MIG-", "GPU-")) or re.fullmatch(r"[0-9A-F]{8}-[0-9A-F-]*", key) is not None


def _visible_entry(entry: str, gpus: Sequence[Mapping[str, Any]]) -> tuple[str, Any]:
    """One ``CUDA_VISIBLE_DEVICES`` entry: ("gpu", index), ("mig", its GPU's index),
    ("unresolved", None) or ("stop", why CUDA stops reading there)."""
    key = entry.upper()
    if key.startswith("MIG-"):
        if key[4:].startswith("GPU-"):  # pre-R470 form MIG-GPU-<uuid>/<gi>/<ci>
            parent = key[4:].split("/")[0]
            target = next((g["index"] for g in gpus if (g.get("uuid") or "").upper() == parent), None)
        else:  # MIG-<uuid of the instance>: NVML listed the instances of each GPU in MIG mode
            mig = ((g["index"], (m.get("uuid") or "").upper()) for g in gpus for m in g.get("mig_devices") or [])
            target = next((index for index, uuid in mig if uuid == key), None)
        return ("unresolved", None) if target is None else ("mig", target)
    if _names_by_uuid(entry):
        prefix = key if key.startswith("GPU-") else "GPU-" + key
        matches = [g["index"] for g in gpus if (g.get("uuid") or "").upper().startswith(prefix)]
        if len(matches) != 1:
            return "stop", "UUID matches no GPU" if not matches else "UUID prefix is ambiguous"
        return "gpu", matches[0]
    n = _strtoul(entry)
    if n < 0:
        return "stop", f"{entry!r} is negative or not a number: CUDA stops reading here"
    if not gpus:
        return "unresolved", None  # no driver: nothing to check the index against
    if n not in [g["index"] for g in gpus]:
        return "stop", f"index {n} is out of range ({len(gpus)} GPU(s))"
    return "gpu", n


_ORDER_CAVEAT = (
    "these GPUs differ and CUDA_DEVICE_ORDER is not PCI_BUS_ID, so CUDA numbers them fastest first: "
    "its cuda:N and the numbers in CUDA_VISIBLE_DEVICES may not follow the PCI order shown here"
)


def visible_devices_text(vis: Mapping[str, Any]) -> str | None:
    """What ``CUDA_VISIBLE_DEVICES`` does to the GPUs, in one sentence (None: nothing to say)."""
    if not vis:
        return None
    if not vis.get("set"):
        return _ORDER_CAVEAT[0].upper() + _ORDER_CAVEAT[1:] if vis.get("order_caveat") else None
    env = vis.get("env")
    visible, hidden = vis.get("visible"), vis.get("hidden") or []
    if visible is None:
        if any(str(e).upper().startswith("MIG-") for e in vis.get("unresolved") or []):
            return (
                f"CUDA_VISIBLE_DEVICES={env!r} names MIG instance(s); tvwizard does not map those to their GPU, "
                "so which GPUs CUDA sees is not checked"
            )
        return f"CUDA_VISIBLE_DEVICES={env!r}: not checked (no list of GPUs to check it against)"
    text = f"CUDA_VISIBLE_DEVICES={env!r}: {len(visible)} of {len(visible) + len(hidden)} GPU(s) visible"
    on_mig = set((vis.get("mig") or {}).values())
    if visible:
        text += (
            " ("
            + ", ".join(
                f"{'a MIG instance of ' if index in on_mig else ''}GPU {index} as cuda:{n}"
                for n, index in enumerate(visible)
            )
            + ")"
        )
    if vis.get("unresolved"):
        text += f"; {', '.join(repr(x) for x in vis['unresolved'])} not matched to a GPU"
    if vis.get("stopped_at") is not None:
        text += f"; CUDA stops reading at {vis['stopped_at']!r}"
        if vis.get("ignored"):
            text += f" and ignores {', '.join(repr(x) for x in vis['ignored'])}"
        if vis.get("note"):
            text += f": {vis['note']}"
    elif vis.get("note"):
        text += f" ({vis['note']})"
    if vis.get("order_caveat"):
        text += f"; {_ORDER_CAVEAT}"
    return text


def _apply_visible(gpus: list[dict[str, Any]], vis: dict[str, Any]) -> None:
    visible = vis.get("visible")
    for gpu in gpus:
        if visible is None:
            gpu["visible"], gpu["cuda_index"] = None, None
        elif gpu["index"] in visible:  # read in PCI order: see visible_devices["order_caveat"]
            gpu["visible"], gpu["cuda_index"] = True, visible.index(gpu["index"])
        else:
            gpu["visible"], gpu["cuda_index"] = (None if vis.get("unresolved") else False), None


# -- the two readers -----------------------------------------------------------------------


def _err(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, NVMLError) else f"{type(exc).__name__}: {exc}"


def _read_nvml(layer: Any) -> dict[str, Any]:
    layer.init()
    try:
        out: dict[str, Any] = {"driver": None, "cuda_driver_int": None, "gpus": [], "errors": {}}
        try:
            out["driver"] = layer.driver_version()
        except Exception as exc:
            out["errors"]["driver"] = _err(exc)
        try:
            out["cuda_driver_int"] = int(layer.cuda_driver_version())
        except Exception as exc:
            out["errors"]["cuda_driver"] = _err(exc)
        count = int(layer.device_count())
        for i in range(count):
            gpu = _new_gpu(i)
            out["gpus"].append(gpu)
            try:
                handle = layer.device(i)
            except Exception as exc:
                gpu["errors"]["handle"] = _err(exc)
                continue
            for field, getter in (
                ("name", layer.name),
                ("uuid", layer.uuid),
                ("compute_capability", layer.compute_capability),
                ("memory_total_mib", layer.memory_total),
                ("mig_mode", layer.mig_mode),
            ):
                try:
                    value = getter(handle)
                except NVMLError as exc:
                    if field == "mig_mode" and exc.code == NVML_ERROR_NOT_SUPPORTED:
                        continue  # not a MIG-capable GPU: None is the answer
                    gpu["errors"][field] = _err(exc)
                    continue
                except Exception as exc:
                    gpu["errors"][field] = _err(exc)
                    continue
                if field == "compute_capability":
                    _cc(gpu, int(value[0]), int(value[1]))
                elif field == "memory_total_mib":
                    gpu[field] = int(value) // (1024 * 1024)
                elif field == "mig_mode":
                    gpu[field] = {0: "disabled", 1: "enabled"}.get(int(value[0]))
                else:
                    gpu[field] = value
            if gpu["mig_mode"] == "enabled" and hasattr(layer, "mig_devices"):
                # their UUIDs are what CUDA_VISIBLE_DEVICES names on MIG GPUs (Slurm, Kubernetes)
                try:
                    gpu["mig_devices"] = [
                        {"uuid": uuid, "memory_total_mib": int(mem) // (1024 * 1024)}
                        for uuid, mem in layer.mig_devices(handle)
                    ]
                except Exception as exc:
                    gpu["errors"]["mig_devices"] = _err(exc)
        return out
    finally:
        with contextlib.suppress(Exception):
            layer.shutdown()


def _with_timeout(fn: Callable[[], Any], timeout: float) -> tuple[str, Any]:
    """Run ``fn`` in a daemon thread: ("ok", value) | ("error", exc) | ("timeout", None)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported, never raised in the thread
            box["error"] = exc

    t = threading.Thread(target=target, name="tvwizard-nvml", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return "timeout", None
    if "error" in box:
        return "error", box["error"]
    return "ok", box.get("value")


_NO_DRIVER_SMI = ("couldn't communicate with the nvidia driver", "driver not loaded", "no nvidia driver")
_NO_GPU_SMI = ("no devices were found",)


def _smi_state(text: str) -> str:
    low = text.lower()
    if any(s in low for s in _NO_GPU_SMI):
        return "no-gpu"
    if any(s in low for s in _NO_DRIVER_SMI):
        return "no-driver"
    return "driver-error"


def _first_lines(text: str, n: int = 3) -> str:
    return " / ".join([line.strip() for line in text.splitlines() if line.strip()][:n])


def _read_smi(smi: str, run: Callable[[Sequence[str], float], CommandResult], timeout: float) -> dict[str, Any]:
    """Query ``smi``; drops fields an old driver does not know (compute_cap before R510)."""
    fields = list(SMI_FIELDS)
    deadline = time.monotonic() + timeout
    res: CommandResult | None = None
    while True:
        left = max(1.0, deadline - time.monotonic())
        argv = [smi, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"]
        res = run(argv, left)
        text = (res.stdout or "") + "\n" + (res.stderr or "")
        bad = re.search(r'Field "([^"]+)" is not a valid field to query', text)
        if res.returncode not in (0, None) and bad and bad.group(1) in fields and len(fields) > 3:
            fields.remove(bad.group(1))
            continue
        break
    out: dict[str, Any] = {"returncode": res.returncode, "fields": fields}
    if res.timed_out:
        return {**out, "state": "timeout", "error": f"{smi} gave no answer in {timeout:g} s; killed"}
    if res.error:
        return {**out, "state": "no-driver", "error": f"cannot run {smi}: {res.error}"}
    text = (res.stdout or "") + "\n" + (res.stderr or "")
    if res.returncode != 0:
        return {
            **out,
            "state": _smi_state(text),
            "error": _first_lines(text) or f"exit code {res.returncode}",
        }
    gpus = parse_smi_csv(res.stdout, fields)
    out.update(state="ok" if gpus else "no-gpu", gpus=gpus, error=None if gpus else "no GPU listed")
    out["driver"] = next((g.pop("driver_version") for g in gpus if g.get("driver_version")), None)
    for g in gpus:
        g.pop("driver_version", None)
    # The newest CUDA the driver supports is only in the plain header.
    left = deadline - time.monotonic()
    if left > 0.5:
        head = run([smi], left)
        m = re.search(r"CUDA Version:\s*(\d+\.\d+)", head.stdout or "")
        out["cuda_driver"] = m.group(1) if m else None
        if not m:
            out["cuda_error"] = "no 'CUDA Version' in the nvidia-smi header" + (
                " (timed out)" if head.timed_out else ""
            )
        if out["driver"] is None:
            m = re.search(r"Driver Version:\s*([\d.]+)", head.stdout or "")
            out["driver"] = m.group(1) if m else None
    return out


def _find_smi(which: Callable[..., str | None], env: Mapping[str, str], dirs: Sequence[str]) -> str | None:
    chosen = env.get(SMI_ENV)
    if chosen:  # only that one: a path that is not there means "no nvidia-smi"
        return chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None
    with contextlib.suppress(Exception):
        found = which("nvidia-smi", path=env.get("PATH", os.defpath))
        if found:
            return found
    for d in dirs:
        for name in ("nvidia-smi", "nvidia-smi.exe"):
            cand = os.path.join(d, name)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                return cand
    return None


_KERNEL_MODULE = re.compile(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)")
DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm")


def linux_driver_state(root: str = "/") -> dict[str, Any]:
    """The kernel half of the driver, as this process sees it: what CUDA needs besides libcuda.

    ``kernel_module``: the loaded nvidia module's version (``/proc/driver/nvidia/version``;
    None: not loaded, or not visible in this container).  ``nodes``: ``/dev/nvidiactl``,
    ``/dev/nvidia-uvm`` and each ``/dev/nvidiaN``, as "ok", "missing" or "no access" (this
    user cannot open it read-write).  CUDA opens these itself: a missing ``nvidia-uvm`` (its
    module not loaded) is the classic "CUDA unknown error", missing nodes in a container the
    classic "driver initialization failed".  A device cgroup (a Slurm job without a GPU, a
    container without ``--gpus``) can still refuse a node that looks "ok" here.
    """
    text = None
    version_file = os.path.join(root, "proc/driver/nvidia/version")
    with contextlib.suppress(OSError), open(version_file, encoding="utf-8", errors="replace") as fh:
        text = fh.read(4096)
    m = _KERNEL_MODULE.search(text or "")
    nodes: dict[str, str] = {}
    dev = os.path.join(root, "dev")
    numbered = []
    with contextlib.suppress(OSError):
        numbered = sorted(
            (n for n in os.listdir(dev) if re.fullmatch(r"nvidia\d+", n)), key=lambda n: int(n[len("nvidia") :])
        )
    for node in (*DEVICE_NODES, *(f"/dev/{n}" for n in numbered)):
        path = os.path.join(root, node.lstrip("/"))
        if not os.path.exists(path):
            nodes[node] = "missing"
        elif not os.access(path, os.R_OK | os.W_OK):
            nodes[node] = "no access"
        else:
            nodes[node] = "ok"
    return {
        "kernel_module": m.group(1) if m else None,
        "kernel_module_text": (text or "").splitlines()[0][:200] if text else None,
        "nodes": nodes,
    }


def collect_gpus(
    *,
    nvml: Any = None,
    run: Callable[[Sequence[str], float], CommandResult] | None = None,
    env: Mapping[str, str] | None = None,
    which: Callable[..., str | None] = shutil.which,
    smi_dirs: Sequence[str] | None = None,
    smi_timeout: float = SMI_TIMEOUT,
    nvml_timeout: float = NVML_TIMEOUT,
    root: str = "/",
) -> dict[str, Any]:
    """The driver and GPUs.  Never raises; see the module docstring for the shape.

    ``nvml``: an NVML layer, ``None`` for :class:`CtypesNVML` (of ``TVWIZARD_NVML`` when
    ``env`` sets it), ``False`` to skip NVML.  ``run``: runs ``nvidia-smi`` (default
    :func:`run_command`).  ``env``: read for ``TVWIZARD_NVML``, ``TVWIZARD_NVIDIA_SMI``,
    ``PATH`` (to find ``nvidia-smi``), ``CUDA_VISIBLE_DEVICES`` and ``CUDA_DEVICE_ORDER``.
    ``smi_dirs``: extra places for ``nvidia-smi`` after ``PATH`` (default: WSL's, Windows').
    ``root``: where ``/proc`` and ``/dev`` are read for :func:`linux_driver_state` (tests;
    ``TVWIZARD_DRIVER_ROOT`` in ``env`` wins).
    """
    env = os.environ if env is None else env
    run = run or run_command
    smi_dirs = _default_smi_dirs() if smi_dirs is None else smi_dirs
    result: dict[str, Any] = {
        "state": "no-driver",
        "source": None,
        "driver": None,
        "cuda_driver": None,
        "cuda_driver_int": None,
        "reason": None,
        "gpus": [],
        "visible_devices": {},
        "attempts": [],
        "linux": None,
    }
    reasons: list[tuple[str, str]] = []  # (state, reason) of failed attempts

    # 1. NVML
    if nvml is not False:
        layer = CtypesNVML(env.get(NVML_ENV) or None) if nvml is None else nvml
        start = time.monotonic()
        status, value = _with_timeout(lambda: _read_nvml(layer), nvml_timeout)
        attempt: dict[str, Any] = {"source": "nvml", "ok": False, "state": "", "error": None}
        if nvml is None and env.get(NVML_ENV):
            attempt["library"] = env[NVML_ENV]  # chosen by the user, not the loader's search
        if status == "ok":
            attempt.update(ok=True, state="ok" if value["gpus"] else "no-gpu")
            if value["errors"]:
                attempt["error"] = "; ".join(f"{k}: {v}" for k, v in value["errors"].items())
            result.update(
                state=attempt["state"],
                source="nvml",
                driver=value["driver"],
                cuda_driver_int=value["cuda_driver_int"],
                cuda_driver=cuda_int_to_str(value["cuda_driver_int"]),
                gpus=value["gpus"],
                reason=None if value["gpus"] else "the driver reports no GPU",
            )
        elif status == "timeout":
            attempt.update(state="timeout", error=f"NVML gave no answer in {nvml_timeout:g} s")
        else:
            code = getattr(value, "code", None)
            attempt["state"] = "no-driver" if code in _NO_DRIVER_CODES else "driver-error"
            attempt["error"] = _err(value) + (
                f" [{NVML_ENV}={env[NVML_ENV]}]" if nvml is None and env.get(NVML_ENV) else ""
            )
            if code is not None:
                attempt["code"] = code
        attempt["duration"] = round(time.monotonic() - start, 4)
        result["attempts"].append(attempt)
        if not attempt["ok"]:
            reasons.append((attempt["state"], f"NVML: {attempt['error']}"))

    # 2. nvidia-smi, when NVML did not answer
    if result["source"] is None:
        start = time.monotonic()
        smi = _find_smi(which, env, smi_dirs)
        attempt = {
            "source": "nvidia-smi",
            "path": smi,
            "ok": False,
            "state": "",
            "error": None,
            "returncode": None,
        }
        if smi is None:
            chosen = env.get(SMI_ENV)
            where = f"{chosen} ({SMI_ENV}) is not an executable file" if chosen else "nvidia-smi not found on PATH"
            attempt.update(state="no-driver", error=where)
        else:
            try:
                got = _read_smi(smi, run, smi_timeout)
            except Exception as exc:
                got = {"state": "driver-error", "error": _err(exc), "returncode": None}
            attempt.update(state=got["state"], error=got.get("error"), returncode=got.get("returncode"))
            if got["state"] in ("ok", "no-gpu") and (got.get("gpus") or got.get("driver")):
                attempt["ok"] = True
                cuda = got.get("cuda_driver")
                result.update(
                    state=got["state"],
                    source="nvidia-smi",
                    driver=got.get("driver"),
                    cuda_driver=cuda,
                    cuda_driver_int=cuda_str_to_int(cuda),
                    gpus=got.get("gpus", []),
                    reason=None if got["state"] == "ok" else got.get("error"),
                )
                if got.get("cuda_error"):
                    attempt["error"] = got["cuda_error"]
            elif got["state"] == "no-gpu":
                attempt["ok"] = True
                result.update(state="no-gpu", source="nvidia-smi", reason=got.get("error"))
        attempt["duration"] = round(time.monotonic() - start, 4)
        result["attempts"].append(attempt)
        if not attempt["ok"]:
            reasons.append((attempt["state"], f"nvidia-smi: {attempt['error']}"))

    # 2b. NVML answered but an old driver lacks the CUDA-version call: ask the smi header.
    elif result["cuda_driver"] is None:
        smi = _find_smi(which, env, smi_dirs)
        if smi is not None:
            with contextlib.suppress(Exception):
                head = run([smi], smi_timeout)
                m = re.search(r"CUDA Version:\s*(\d+\.\d+)", head.stdout or "")
                if m:
                    result["cuda_driver"] = m.group(1)
                    result["cuda_driver_int"] = cuda_str_to_int(m.group(1))
                    result["attempts"].append(
                        {
                            "source": "nvidia-smi",
                            "path": smi,
                            "ok": True,
                            "state": "ok",
                            "error": None,
                            "returncode": head.returncode,
                            "duration": 0.0,
                            "only": "cuda_driver",
                        }
                    )

    # 3. No answer: the most telling failure wins (a broken driver over a missing one).
    if result["source"] is None:
        states = [s for s, _ in reasons]
        for state in ("driver-error", "timeout", "no-driver"):
            if state in states:
                result["state"] = state
                break
        result["reason"] = "; ".join(r for _, r in reasons) or "no NVIDIA driver found"

    # 4. The kernel side: module version, device nodes
    if sys.platform.startswith("linux"):
        try:
            result["linux"] = linux_driver_state(env.get(ROOT_ENV) or root)
        except Exception as exc:
            result["linux"] = {"error": _err(exc)}

    # 5. CUDA_VISIBLE_DEVICES
    try:
        vis = resolve_visible(env.get("CUDA_VISIBLE_DEVICES"), result["gpus"], env.get("CUDA_DEVICE_ORDER"))
        result["visible_devices"] = vis
        _apply_visible(result["gpus"], vis)
    except Exception as exc:
        result["visible_devices"] = {"env": env.get("CUDA_VISIBLE_DEVICES"), "error": _err(exc)}
    return result


if __name__ == "__main__":  # pragma: no cover - a quick look by hand
    import json

    json.dump(collect_gpus(), sys.stdout, indent=2)
    print()
