"""What CUDA's start-up errors mean, as torch and the driver word them, and which fix each calls for.

torch's ``CUDA initialization: … (Error N: …)`` warnings and the driver's own reasons name a
CUDA driver error; this table turns the words into a cause a person can act on and the id of
the fix (:mod:`tvwizard.fixes.catalog`).  The first row whose text appears wins, so more
specific texts come first.  Matched in the words torch 2.14.1 really prints (recorded with
the stand-in driver in ``tests/fakedriver``); the error numbers are CUDA's ``CUresult`` codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    texts: tuple[str, ...]  # any of these in the error text (case-insensitive)
    meaning: str  # the cause, in words, for "The GPU is there but torch cannot use it: <meaning>"
    fix_id: str


def _reason(text: str | tuple[str, ...], meaning: str, fix_id: str) -> Reason:
    return Reason((text,) if isinstance(text, str) else text, meaning, fix_id)


#: Errors that name their cause.
REASONS: tuple[Reason, ...] = (
    _reason(
        "Error 804",
        "a CUDA forward-compatibility library (cuda-compat) is loaded on a GPU that does not support it",
        "remove-cuda-compat",
    ),
    _reason(
        "Error 803",
        "the loaded libcuda does not match the running kernel driver (usually a driver update without a reboot)",
        "reboot-after-driver-update",
    ),
    _reason(
        "version mismatch",
        "the NVIDIA driver's library and kernel module versions differ (usually a driver update without a reboot)",
        "reboot-after-driver-update",
    ),
    _reason(
        "Error 802",
        "the system is not yet initialized: on NVSwitch machines the nvidia-fabricmanager service is not running",
        "start-fabricmanager",
    ),
    _reason(
        "Error 34",
        "a CUDA stub library (…/stubs/libcuda.so) is loaded instead of the driver's",
        "remove-cuda-stubs",
    ),
    _reason(
        "Error 304",
        "an operating-system call failed: usually missing /dev/nvidia* permissions or device nodes",
        "check-device-permissions",
    ),
    _reason(
        "Error 46",
        "every GPU is busy or unavailable: its compute mode is Exclusive-Process and another process holds it",
        "free-busy-gpu",
    ),
    _reason(
        "Error 2: out of memory",
        "the GPU's memory is already full when CUDA starts: another process holds it",
        "free-gpu-memory",
    ),
    _reason(
        "Error 500",
        "the libcuda.so.1 this process loads lacks a function torch's CUDA runtime needs: it comes from an older "
        "driver than this build expects, or is not the driver's own (a copy on LD_LIBRARY_PATH, an old WSL or "
        "Docker Desktop libcuda)",
        "use-drivers-libcuda",
    ),
    _reason("Error 100", "CUDA sees no device", "check-visible-devices"),
    _reason("Error 101", "CUDA_VISIBLE_DEVICES names a device that does not exist", "check-visible-devices"),
)

#: The errors that come from loading the wrong libcuda.so.1: the finding shows which one loaded.
WRONG_LIBCUDA = ("Error 500", "Error 34", "Error 804", "Error 803")

#: What torch says for the two start-up failures that do not name a cause (c10/cuda
#: CUDAFunctions.cpp turns cudaErrorUnknown and cudaErrorInitializationError into these
#: sentences, with no error number): the kernel side of the driver is asked first.
GENERIC_REASONS: tuple[Reason, ...] = (
    _reason(
        ("CUDA unknown error", "Error 999"),
        "CUDA failed to start with an unknown error: the driver is in a bad state, most often the nvidia_uvm "
        "module after a suspend/resume",
        "reload-nvidia-uvm",
    ),
    _reason(
        ("CUDA driver initialization failed",),
        "the CUDA driver could not initialise in this process: the nvidia kernel module or its device nodes are "
        "not usable here",
        "check-driver-in-this-process",
    ),
)


def first_match(reasons: Iterable[Reason], haystack: str) -> Reason | None:
    """The first reason whose text appears in ``haystack`` (case-insensitive)."""
    low = haystack.lower()
    return next((r for r in reasons if any(t.lower() in low for t in r.texts)), None)


def names_wrong_libcuda(reason: Reason) -> bool:
    return any(t in WRONG_LIBCUDA for t in reason.texts)
