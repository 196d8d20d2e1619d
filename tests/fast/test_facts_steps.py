"""The typed readers of the live probe's steps (facts/steps.py), fed real captured probe output
(tests/fast/data: `check --json` of the healthy env and of a CPU torch with a CUDA torchvision)
and the odd shapes a broken environment or an older tvwizard can leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tvwizard.facts.evidence import Evidence
from tvwizard.facts.steps import (
    CudaDevice,
    CudaStep,
    ExtensionsStep,
    ImportStep,
    LiveStep,
    NmsStep,
    StepError,
    read_step,
)
from tvwizard.model import ProbeRun, RunStatus, StepResult, Target

DATA = Path(__file__).parent / "data"


def _report(name: str) -> Evidence:
    return Evidence.from_report(json.loads((DATA / name).read_text()))


def _live(*steps: StepResult) -> Evidence:
    run = ProbeRun("live", "Live", RunStatus.OK, steps=list(steps))
    return Evidence(target=Target(python="/usr/bin/python3"), probes={"live": run})


def test_healthy_report_reads_every_step_typed():
    ev = _report("report-healthy.json")
    assert [type(s) for s in ev.live_steps()] == [
        ImportStep,
        ImportStep,
        ImportStep,
        ExtensionsStep,
        CudaStep,
        NmsStep,
    ]
    torch = ev.import_step("import_torch")
    assert torch is not None and torch.ok is True and torch.version == "2.14.1+cu130" and torch.cuda == "13.0"
    assert torch.error is None and torch.error_text == "" and not torch.failed
    assert torch.file and torch.file.endswith("torch/__init__.py")
    torchvision = ev.import_step("import_torchvision")
    assert torchvision is not None and torchvision.version == "0.29.1+cu130" and torchvision.cuda == 13000
    extensions = ev.extensions_step()
    assert extensions is not None and extensions.cuda_version == 13000
    assert [f.file for f in extensions.files] == ["_C_stable.so", "image_stable.so"]
    assert all(f.loaded and f.error == "" for f in extensions.files) and extensions.unloaded == []
    cuda = ev.torch_cuda_step()
    assert cuda is not None and cuda.available is False and cuda.count == 0 and cuda.devices == ()
    assert cuda.built_with == "13.0" and not cuda.is_available
    (nms,) = ev.nms_steps()
    assert nms.name == "nms_cpu" and nms.device == "cpu" and nms.correct is True
    assert nms.keep == (0, 2, 3, 5) == nms.expected and nms.seconds is not None and nms.seconds > 0


def test_broken_report_reads_the_errors_the_probe_caught():
    ev = _report("report-broken.json")
    torchvision = ev.import_step("import_torchvision")
    assert torchvision is not None and torchvision.status == "error" and torchvision.failed
    assert torchvision.ok is False and torchvision.version is None
    assert torchvision.error == StepError(
        "RuntimeError", "operator torchvision::nms does not exist", torchvision.error.traceback
    )
    assert torchvision.error.traceback.startswith("Traceback (most recent call last):")
    assert torchvision.error_text == "RuntimeError: operator torchvision::nms does not exist"
    second = ev.import_step("second_import")
    assert second is not None and second.cached is False
    assert "torchvision.extension" in second.left_by_first
    extensions = ev.extensions_step()
    assert extensions is not None and [f.file for f in extensions.unloaded] == ["_C_stable.so", "image_stable.so"]
    assert extensions.unloaded[0].error == "libc10_cuda.so: cannot open shared object file: No such file or directory"
    assert extensions.cuda_version is None
    cuda = ev.torch_cuda_step()
    assert cuda is not None and cuda.built_with is None and cuda.arch_list == ()
    (nms,) = ev.nms_steps()
    assert nms.status == "skipped" and nms.skipped == "torchvision did not import"
    assert nms.correct is None and nms.keep is None and nms.device == "cpu"  # the step's name says which


def test_no_live_probe_reads_as_not_run():
    ev = Evidence(target=Target(python="/usr/bin/python3"))
    assert ev.live_steps() == [] and ev.nms_steps() == []
    assert ev.import_step("import_torch") is None and ev.extensions_step() is None and ev.torch_cuda_step() is None
    assert ev.live_step("nms_cpu") is None


@pytest.mark.parametrize("data", [None, [], "garbage", 3, {}])
def test_data_that_is_not_a_dict_reads_as_nothing_recorded(data):
    for name in ("import_torch", "extensions", "cuda", "nms_cuda:1", "paths"):
        step = read_step(StepResult(name, "ok", 0.1, data))  # type: ignore[arg-type]
        assert step.name == name and step.ok is None and step.error is None and step.provenance == ()
    nms = read_step(StepResult("nms_cuda:1", "ok", 0.1, data))  # type: ignore[arg-type]
    assert isinstance(nms, NmsStep) and nms.device == "cuda:1" and nms.keep is None
    assert type(read_step(StepResult("paths", "ok", 0.0, {}))) is LiveStep


def test_odd_values_fall_back_to_empty_instead_of_raising():
    torch = read_step(
        StepResult(
            "import_torch",
            "error",
            "slow",  # type: ignore[arg-type]
            {
                "ok": "yes",  # not a bool: not recorded
                "version": 2,
                "error": {"message": None},  # no type: "Error", no message: ""
                "numpy_error": "Numpy is not available",  # a bare string is the message
                "notices": "numpy-abi",  # not a list
                "warnings": [{"message": "_ARRAY_API not found"}, "loose", {"category": "UserWarning"}],
                "provenance": [{"path": "/x/_C.so", "owners": []}, {"owners": []}, "junk"],
                "seconds": True,
            },
        )
    )
    assert isinstance(torch, ImportStep)
    assert torch.duration == 0.0 and torch.ok is None and torch.version is None and torch.seconds is None
    assert torch.error == StepError("Error", "") and torch.error_text == "Error: " and torch.error_message == ""
    assert torch.numpy_error == StepError("Error", "Numpy is not available")
    assert torch.notices == () and torch.warnings == ("_ARRAY_API not found", "")
    assert torch.provenance == ({"path": "/x/_C.so", "owners": []},)
    extensions = read_step(
        StepResult(
            "extensions",
            "ok",
            0.0,
            {"files": [{"file": "_C.so", "loaded": 1}, {"loaded": False, "error": 5}, None], "cuda_version": "13000"},
        )
    )
    assert isinstance(extensions, ExtensionsStep) and extensions.cuda_version is None
    assert [(f.file, f.loaded, f.error) for f in extensions.files] == [("_C.so", True, ""), ("", False, "")]
    cuda = read_step(
        StepResult(
            "cuda",
            "ok",
            0.0,
            {"available": 1, "count": "2", "devices": [{"index": 0, "name": "H100", "capability": 9.0}, 7]},
        )
    )
    assert isinstance(cuda, CudaStep) and cuda.available is None and cuda.count is None
    assert cuda.devices == (CudaDevice(0, "H100", None),)
    nms = read_step(
        StepResult("nms_cuda:0", "ok", 0.0, {"device": None, "correct": 0, "keep": [0, "2", 3], "expected": "0,2"})
    )
    assert isinstance(nms, NmsStep) and nms.device == "cuda:0" and nms.correct is None
    assert nms.keep == (0, 3) and nms.expected is None


def test_engine_limit_on_a_timed_out_step():
    ev = _live(StepResult("cuda", "timeout", 30.0, {"limit": 30}))
    step = ev.live_step("cuda")
    assert step is not None and step.failed and step.limit == 30.0
