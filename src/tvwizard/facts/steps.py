"""Typed readers of the live probe's steps: what each step of ``probes/live.py`` records.

The live probe writes one dict per step (``import_torch``, ``import_torchvision``,
``second_import``, ``extensions``, ``cuda``, ``nms_cpu``, ``nms_cuda:N``); the engine adds a
``limit`` to a step it timed out. These frozen dataclasses are the only code that knows those
keys, so the rules read ``step.error.message`` instead of guessing at dicts. Each field has
one fallback (absent, or of a type no probe writes: the empty value), so a probe from a broken
environment or an older tvwizard reads as "not recorded", never as an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tvwizard.model import StepResult

IMPORT_STEP_NAMES = ("import_torch", "import_torchvision", "second_import")
FAILED_STATUSES = ("error", "crashed", "timeout")


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: object) -> bool | None:
    """True/False as recorded; None where the probe did not say (or said something else)."""
    return value if isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dicts(value: object) -> list[dict[str, Any]]:
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(x) for x in value) if isinstance(value, list) else ()


def _warnings(value: object) -> tuple[str, ...]:
    """The messages of the warnings a step recorded (``{"category", "message", …}`` each)."""
    return tuple(_text(w.get("message")) for w in _dicts(value))


def _indices(value: object) -> tuple[int, ...] | None:
    """nms's kept indices as recorded; None where no list was recorded."""
    return tuple(x for x in value if isinstance(x, int)) if isinstance(value, list) else None


@dataclass(frozen=True)
class StepError:
    """An exception a step caught (``probes/_api.format_exception``): its type, message, traceback."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def read(cls, raw: object) -> StepError | None:
        """None where nothing was recorded; a bare string (no probe writes one) is the message."""
        if isinstance(raw, str) and raw:
            return cls(type="Error", message=raw)
        if not isinstance(raw, dict) or not raw:
            return None
        kind, message = raw.get("type", "Error"), raw.get("message")
        message = "" if message is None else str(message)
        return cls(type=str(kind), message=message, traceback=_text(raw.get("traceback")))

    @property
    def text(self) -> str:
        """``Type: message``, the one line a title quotes."""
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class LiveStep:
    """What every step records: its outcome, the error it caught, and the provenance of the files
    that error names (``probes/_provenance.py``: ``path``, ``owners``, ``record``, ``entry`` …)."""

    name: str
    status: str
    duration: float = 0.0
    ok: bool | None = None
    error: StepError | None = None
    provenance: tuple[dict[str, Any], ...] = ()
    skipped: str = ""  # why the probe left the step out ("torch did not import")
    limit: float | None = None  # the engine's time limit, on a step that timed out

    @property
    def failed(self) -> bool:
        """The step raised, crashed or hung (a step that recorded ``ok: False`` without raising is not)."""
        return self.status in FAILED_STATUSES

    @property
    def error_message(self) -> str:
        return self.error.message if self.error is not None else ""

    @property
    def error_text(self) -> str:
        """``Type: message`` of the error, "" when none."""
        return self.error.text if self.error is not None else ""


@dataclass(frozen=True)
class ImportStep(LiveStep):
    """``import torch``, ``import torchvision`` or the second ``import torchvision``."""

    version: str | None = None
    file: str | None = None
    cuda: object = None  # torch.version.cuda / torchvision.version.cuda as recorded ("13.0")
    hip: object = None
    seconds: float | None = None
    notices: tuple[str, ...] = ()  # what torch/NumPy printed: numpy-abi, image-extension, cuda-init …
    warnings: tuple[str, ...] = ()  # the messages of the warnings raised
    numpy_error: StepError | None = None  # import_torch: torch.zeros(1).numpy() failed
    cached: bool | None = None  # second_import: the first worked, so nothing was re-imported
    left_by_first: tuple[str, ...] = ()  # second_import: torchvision.* modules the first attempt left


@dataclass(frozen=True)
class ExtensionFile:
    """One compiled torchvision extension loaded with ctypes."""

    file: str
    path: str = ""
    loaded: bool = False
    error: str = ""  # the loader's message torchvision would swallow


@dataclass(frozen=True)
class ExtensionsStep(LiveStep):
    files: tuple[ExtensionFile, ...] = ()
    cuda_version: int | None = None  # torch.ops.torchvision._cuda_version(): 13000 for CUDA 13.0

    @property
    def unloaded(self) -> list[ExtensionFile]:
        return [f for f in self.files if not f.loaded]


@dataclass(frozen=True)
class CudaDevice:
    """One device ``torch.cuda`` saw."""

    index: int | None
    name: str | None = None
    capability: str | None = None  # "8.0"


@dataclass(frozen=True)
class CudaStep(LiveStep):
    available: bool | None = None  # torch.cuda.is_available()
    count: int | None = None
    devices: tuple[CudaDevice, ...] = ()
    built_with: object = None  # torch.version.cuda ("13.0"), None for a CPU or ROCm build
    hip: object = None
    warnings: tuple[str, ...] = ()  # is_available()'s warnings ("CUDA initialization: …")
    arch_list: tuple[str, ...] = ()  # the architectures torch was compiled for ("sm_80" …)
    arch_list_source: str = ""  # where arch_list came from when not torch.cuda.get_arch_list()

    @property
    def is_available(self) -> bool:
        return bool(self.available)


@dataclass(frozen=True)
class NmsStep(LiveStep):
    """``torchvision.ops.nms`` on one device, against the reference."""

    device: str = ""  # "cpu", "cuda:0"
    correct: bool | None = None
    keep: tuple[int, ...] | None = None
    expected: tuple[int, ...] | None = None
    seconds: float | None = None
    seconds_again: float | None = None  # the second call, without CUDA's start-up


def _common(step: StepResult, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": str(step.name),
        "status": str(step.status),
        "duration": _number(step.duration) or 0.0,
        "ok": _flag(data.get("ok")),
        "error": StepError.read(data.get("error")),
        "provenance": tuple(r for r in _dicts(data.get("provenance")) if r.get("path")),
        "skipped": _text(data.get("skipped")),
        "limit": _number(data.get("limit")),
    }


def _import_step(step: StepResult, data: dict[str, Any]) -> ImportStep:
    return ImportStep(
        **_common(step, data),
        version=_optional_text(data.get("version")),
        file=_optional_text(data.get("file")),
        cuda=data.get("cuda"),
        hip=data.get("hip"),
        seconds=_number(data.get("seconds")),
        notices=_texts(data.get("notices")),
        warnings=_warnings(data.get("warnings")),
        numpy_error=StepError.read(data.get("numpy_error")),
        cached=_flag(data.get("cached")),
        left_by_first=_texts(data.get("left_by_first")),
    )


def _extensions_step(step: StepResult, data: dict[str, Any]) -> ExtensionsStep:
    files = tuple(
        ExtensionFile(
            file=_text(f.get("file")),
            path=_text(f.get("path")),
            loaded=bool(f.get("loaded")),
            error=_text(f.get("error")),
        )
        for f in _dicts(data.get("files"))
    )
    return ExtensionsStep(**_common(step, data), files=files, cuda_version=_integer(data.get("cuda_version")))


def _cuda_step(step: StepResult, data: dict[str, Any]) -> CudaStep:
    devices = tuple(
        CudaDevice(
            index=_integer(d.get("index")),
            name=_optional_text(d.get("name")),
            capability=_optional_text(d.get("capability")),
        )
        for d in _dicts(data.get("devices"))
    )
    return CudaStep(
        **_common(step, data),
        available=_flag(data.get("available")),
        count=_integer(data.get("count")),
        devices=devices,
        built_with=data.get("built_with"),
        hip=data.get("hip"),
        warnings=_warnings(data.get("warnings")),
        arch_list=_texts(data.get("arch_list")),
        arch_list_source=_text(data.get("arch_list_source")),
    )


def _nms_step(step: StepResult, data: dict[str, Any]) -> NmsStep:
    device = data.get("device")
    return NmsStep(
        **_common(step, data),
        device=device if isinstance(device, str) and device else str(step.name)[4:],
        correct=_flag(data.get("correct")),
        keep=_indices(data.get("keep")),
        expected=_indices(data.get("expected")),
        seconds=_number(data.get("seconds")),
        seconds_again=_number(data.get("seconds_again")),
    )


def read_step(step: StepResult) -> LiveStep:
    """The typed reader of one live step, chosen by its name."""
    data = step.data if isinstance(step.data, dict) else {}
    name = str(step.name)
    if name in IMPORT_STEP_NAMES:
        return _import_step(step, data)
    if name == "extensions":
        return _extensions_step(step, data)
    if name == "cuda":
        return _cuda_step(step, data)
    if name.startswith("nms_"):
        return _nms_step(step, data)
    return LiveStep(**_common(step, data))
