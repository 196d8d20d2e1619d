"""The live probe: really import torch and torchvision, twice, and really run nms.

This is the one probe that executes the code under diagnosis, so it runs as the user's own
``python -c "import torchvision"`` would: the user's working directory, environment and
``sys.path`` (``sys.path[0] == ''``).  Each step is reported as soon as it ends, so when a
step crashes the interpreter or hangs, the steps before it are already with tvwizard and
the engine knows which step it was.  ``ctx.options["skip"]`` lists steps to leave out
(the engine re-runs the rest after a crash).

Steps, in order, each ``{"status", "duration", "data"}``:

``import_torch``        ``import torch``: version, file, CUDA/HIP build, warnings, error.
``import_torchvision``  the first ``import torchvision`` in a fresh process: warnings, the
                        exception, and which ``torchvision.*`` modules it left behind.
``second_import``       ``import torchvision`` again in the same process, and how that
                        outcome differs from the first (the "works the second time" trap).
``extensions``          each compiled torchvision extension loaded with ``ctypes`` to get
                        the loader error torchvision swallows; registered ops.
``cuda``                ``torch.cuda``: availability (and the warning when not), devices,
                        capabilities, arch list, cuDNN.
``nms_cpu``             ``torchvision.ops.nms`` on fixed boxes, checked against a reference
                        computed here in pure Python.
``nms_cuda:N``          the same on each visible GPU, checked against the CPU result.

A step that fails also records ``provenance``: for each file its error names, the owning
distribution, whether it matches RECORD, the sys.path entry and why it is there, and ABI tags
(see ``_provenance``).  Healthy steps pay nothing for it.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import sys
import time
import warnings

from ._api import StepFailed, format_exception


def _provenance(d, *texts):
    """Add where the files an error names came from (owner, RECORD, sys.path entry, ABI).

    Only a failing step pays for it; a failure here is recorded, never raised."""
    try:
        from . import _provenance

        paths = _provenance.paths_in(*texts)
        if paths:
            d["provenance"] = _provenance.describe(paths)
    except Exception as exc:
        d["provenance_error"] = format_exception(exc)


# Boxes (x1, y1, x2, y2) and scores chosen so every IoU is far from the 0.5 threshold:
# float rounding on any device cannot change the answer.
BOXES = [
    [0.0, 0.0, 10.0, 10.0],
    [1.0, 1.0, 11.0, 11.0],  # IoU with 0 ≈ 0.68 -> suppressed by 0
    [20.0, 20.0, 30.0, 30.0],
    [20.0, 25.0, 30.0, 35.0],  # IoU with 2 ≈ 0.33 -> kept
    [50.0, 50.0, 60.0, 60.0],
    [50.5, 50.5, 60.5, 60.5],  # IoU with 4 ≈ 0.9 -> suppressed, but scores higher: keeps 5
]
SCORES = [0.9, 0.8, 0.7, 0.65, 0.3, 0.6]
IOU_THRESHOLD = 0.5


def reference_nms(boxes, scores, threshold):
    """NMS in pure Python: the indices kept, highest score first."""

    def area(b):
        return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = area(a) + area(b) - inter
        return inter / union if union > 0 else 0.0

    order = sorted(range(len(boxes)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if all(iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


# Text that torch, torchvision and NumPy print (not raise) during an import, and what it means.
NOTICES = (
    ("numpy-abi", "A module that was compiled using NumPy 1.x cannot be run in"),
    ("numpy-abi", "_ARRAY_API not found"),
    ("image-extension", "Failed to load image Python extension"),
    ("cuda-init", "CUDA initialization:"),
    ("own-root-folder", "You are importing torchvision within its own root folder"),
)


class _StderrTee:
    """Pass ``sys.stderr`` writes through, and keep the first 64 KiB of them.

    NumPy's "compiled using NumPy 1.x" banner and similar notices are written to
    ``sys.stderr``, not raised or warned: this is how they become data.  Only Python-level
    writes are seen (C code writing to fd 2 goes straight to the log).
    """

    LIMIT = 65536

    def __init__(self):
        self.parts = []
        self.size = 0

    def __enter__(self):
        self._orig = sys.stderr
        sys.stderr = self
        return self

    def __exit__(self, *exc):
        sys.stderr = self._orig
        return False

    def write(self, text):
        if self.size < self.LIMIT:
            self.parts.append(text[: self.LIMIT - self.size])
            self.size += len(text)
        return self._orig.write(text)

    def flush(self):
        self._orig.flush()

    def __getattr__(self, name):
        return getattr(self._orig, name)

    def data(self):
        text = "".join(self.parts)
        notices = sorted({kind for kind, needle in NOTICES if needle in text})
        return text, notices


class _Warnings:
    """Record warnings raised during a step, and still print them to the log."""

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self.records = self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        for w in self.records:
            sys.stderr.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
        return False

    def data(self):
        return [
            {
                "category": w.category.__name__,
                "message": str(w.message),
                "filename": w.filename,
                "lineno": w.lineno,
            }
            for w in self.records
        ]


def _tv_modules():
    return sorted(name for name in sys.modules if name == "torchvision" or name.startswith("torchvision."))


def _attempt_import(data):
    """``import torchvision`` once; fill ``data``; return the module or None."""
    before = set(_tv_modules())
    start = time.perf_counter()
    module = None
    with _Warnings() as caught:
        try:
            import torchvision as module
        except BaseException as exc:  # SystemExit from a broken package is data too
            if isinstance(exc, KeyboardInterrupt):
                raise
            data["error"] = format_exception(exc)
    data["seconds"] = round(time.perf_counter() - start, 6)
    data["warnings"] = caught.data()
    data["ok"] = module is not None
    data["modules_before"] = sorted(before)
    data["modules_after"] = _tv_modules()
    if module is not None:
        data["version"] = getattr(module, "__version__", None)
        data["file"] = getattr(module, "__file__", None)
        version = getattr(module, "version", None)
        data["cuda"] = getattr(version, "cuda", None)
        ext = sys.modules.get("torchvision.extension")
        has_ops = getattr(ext, "_has_ops", None)
        try:
            data["has_ops"] = bool(has_ops()) if callable(has_ops) else None
        except Exception as exc:
            data["has_ops_error"] = format_exception(exc)
    return module


def step_import_torch(ctx, state):
    with ctx.step("import_torch") as d:
        start = time.perf_counter()
        with _Warnings() as caught, _StderrTee() as tee:
            try:
                import torch
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                torch = None
                error = exc
        d["seconds"] = round(time.perf_counter() - start, 6)
        d["warnings"] = caught.data()
        d["stderr"], d["notices"] = tee.data()
        if torch is None:
            d["ok"] = False
            d["error"] = format_exception(error)
            _provenance(d, d["error"].get("message", ""), d["error"].get("traceback", ""))
            raise StepFailed("import torch failed: %s" % error)
        d["ok"] = True
        state["torch"] = torch
        version = getattr(torch, "version", None)
        d["version"] = getattr(torch, "__version__", None)
        d["file"] = getattr(torch, "__file__", None)
        d["cuda"] = getattr(version, "cuda", None)
        d["hip"] = getattr(version, "hip", None)
        d["git_version"] = getattr(version, "git_version", None)
        d["debug"] = getattr(version, "debug", None)
        c = getattr(torch, "_C", None)
        d["cxx11_abi"] = getattr(c, "_GLIBCXX_USE_CXX11_ABI", None)
        try:
            d["numpy_ok"] = torch.zeros(1).numpy() is not None
        except Exception as exc:
            d["numpy_ok"] = False
            d["numpy_error"] = format_exception(exc)


def step_import_torchvision(ctx, state):
    with ctx.step("import_torchvision") as d:
        module = _attempt_import(d)
        state["torchvision"] = module
        state["first_ok"] = module is not None
        if module is None:
            _provenance(d, d["error"].get("message", ""), d["error"].get("traceback", ""))
            raise StepFailed(d["error"]["message"])


def step_second_import(ctx, state):
    with ctx.step("second_import") as d:
        if state.get("first_ok"):
            d["cached"] = True  # it succeeded: a second import is the cached module
            d["ok"] = True
            return
        left = _tv_modules()
        d["left_by_first"] = left
        module = _attempt_import(d)
        if module is not None:
            state["torchvision"] = module
        d["cached"] = False


def _extension_files(tv_dir):
    files = []
    for pattern in ("*.so", "*.so.*", "*.pyd", "*.dylib"):
        files.extend(glob.glob(os.path.join(tv_dir, pattern)))
    return sorted(set(files))


def step_extensions(ctx, state):
    with ctx.step("extensions") as d:
        if state.get("torch") is None:
            d["skipped"] = "torch did not import: torchvision's extensions need torch's libraries loaded"
            return
        import ctypes

        try:
            spec = importlib.util.find_spec("torchvision")
        except Exception as exc:
            raise StepFailed("cannot locate torchvision: %s" % exc) from None
        if spec is None or not spec.submodule_search_locations:
            d["skipped"] = "torchvision is not installed as a package"
            return
        tv_dir = next(iter(spec.submodule_search_locations))
        d["dir"] = tv_dir
        results = []
        for path in _extension_files(tv_dir):
            entry = {"file": os.path.basename(path), "path": path}
            start = time.perf_counter()
            try:
                ctypes.CDLL(path)
                entry["loaded"] = True
            except OSError as exc:
                entry["loaded"] = False
                entry["error"] = str(exc)
            entry["seconds"] = round(time.perf_counter() - start, 6)
            results.append(entry)
        d["files"] = results
        failed = [e["error"] for e in results if not e["loaded"]]
        if failed:
            _provenance(d, *failed)
        torch = state["torch"]
        ops = {}
        for op in ("nms", "roi_align", "deform_conv2d", "_cuda_version"):
            try:
                getattr(torch.ops.torchvision, op)
                ops[op] = True
            except Exception:
                ops[op] = False
        d["ops"] = ops
        if ops.get("_cuda_version"):
            try:
                d["cuda_version"] = int(torch.ops.torchvision._cuda_version())
            except Exception as exc:
                d["cuda_version_error"] = format_exception(exc)


def step_cuda(ctx, state):
    with ctx.step("cuda") as d:
        torch = state.get("torch")
        if torch is None:
            d["skipped"] = "torch did not import"
            return
        d["built_with"] = getattr(torch.version, "cuda", None)
        d["hip"] = getattr(torch.version, "hip", None)
        with _Warnings() as caught:
            try:
                d["available"] = bool(torch.cuda.is_available())
            except Exception as exc:
                d["available"] = False
                d["error"] = format_exception(exc)
        d["warnings"] = caught.data()
        try:
            d["arch_list"] = list(torch.cuda.get_arch_list())
        except Exception as exc:
            d["arch_list"] = None
            d["arch_list_error"] = str(exc)
        if not d["arch_list"] and d["built_with"]:
            # Before torch 2.6 get_arch_list() is [] while CUDA is unavailable (an old driver,
            # no GPU); the compiled-in list is still there, and it predicts "no kernel image".
            try:
                flags = torch._C._cuda_getArchFlags()
                if flags:
                    d["arch_list"] = str(flags).split()
                    d["arch_list_source"] = "torch._C._cuda_getArchFlags()"
            except Exception:
                pass
        try:
            # cuDNN's version is read from the library, no GPU needed
            d["cudnn"] = torch.backends.cudnn.version() if d["built_with"] else None
        except Exception as exc:
            d["cudnn_error"] = str(exc)
        devices = []
        if d["available"]:
            d["count"] = torch.cuda.device_count()
            for i in range(d["count"]):
                dev = {"index": i}
                try:
                    props = torch.cuda.get_device_properties(i)
                    dev["name"] = props.name
                    dev["capability"] = "%d.%d" % (props.major, props.minor)
                    dev["memory"] = int(props.total_memory)
                except Exception as exc:
                    dev["error"] = format_exception(exc)
                devices.append(dev)
        else:
            d["count"] = 0
        d["devices"] = devices
        state["cuda_devices"] = [dev["index"] for dev in devices if "error" not in dev]


def _run_nms(torch, tv, device):
    boxes = torch.tensor(BOXES, dtype=torch.float32, device=device)
    scores = torch.tensor(SCORES, dtype=torch.float32, device=device)
    start = time.perf_counter()
    keep = tv.ops.nms(boxes, scores, IOU_THRESHOLD)
    if device != "cpu":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    return [int(i) for i in keep.cpu().tolist()], seconds


def step_nms(ctx, state, device):
    name = "nms_cpu" if device == "cpu" else "nms_" + device
    with ctx.step(name) as d:
        torch, tv = state.get("torch"), state.get("torchvision")
        if torch is None or tv is None:
            d["skipped"] = "torchvision did not import"
            return
        expected = reference_nms(BOXES, SCORES, IOU_THRESHOLD)
        if device != "cpu" and state.get("cpu_keep") is not None:
            expected = state["cpu_keep"]  # the CPU's answer (the reference's, when the CPU was wrong)
        d["device"] = device
        d["expected"] = expected
        try:
            keep, seconds = _run_nms(torch, tv, device)
        except Exception as exc:
            d["error"] = format_exception(exc)
            _provenance(d, d["error"].get("message", ""), d["error"].get("traceback", ""))
            raise StepFailed("%s: %s" % (type(exc).__name__, exc)) from None
        d["keep"] = keep
        d["seconds"] = round(seconds, 6)
        d["correct"] = expected is not None and keep == expected
        try:
            # the first call pays for CUDA's context and kernel loading; the second is the op
            d["seconds_again"] = round(_run_nms(torch, tv, device)[1], 6)
        except Exception as exc:
            d["again_error"] = format_exception(exc)
        if device == "cpu":
            state["cpu_keep"] = keep if d["correct"] else expected


def run(ctx):
    skip = set(ctx.options.get("skip") or ())
    state = {}
    steps = [
        ("import_torch", step_import_torch),
        ("import_torchvision", step_import_torchvision),
        ("second_import", step_second_import),
        ("extensions", step_extensions),
        ("cuda", step_cuda),
        ("nms_cpu", lambda c, s: step_nms(c, s, "cpu")),
    ]
    for name, fn in steps:
        if name in skip:
            ctx.skip(name, "skipped after it crashed or hung in an earlier run")
            continue
        fn(ctx, state)
    for index in state.get("cuda_devices", []):
        name = "nms_cuda:%d" % index
        if name in skip:
            ctx.skip(name, "skipped after it crashed or hung in an earlier run")
            continue
        step_nms(ctx, state, "cuda:%d" % index)
    return {
        "python": sys.version.split()[0],
        "cwd": os.getcwd(),
        "sys_path0": sys.path[0] if sys.path else None,
    }
