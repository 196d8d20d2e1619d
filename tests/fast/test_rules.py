"""Each diagnosis rule against synthetic probe data (the shapes the real probes produce)."""

from __future__ import annotations

from tvwizard.diagnosis.engine import diagnose, order
from tvwizard.facts.evidence import Evidence
from tvwizard.model import Finding, LogLine, ProbeRun, RunStatus, Severity, StepResult, Target

PY = "/envs/ml/bin/python"


def ev(**probes) -> Evidence:
    target = Target(python=PY, version="3.11.7", prefix="/envs/ml", env_kind="venv", cwd="/work")
    runs = {}
    for name, value in probes.items():
        if isinstance(value, ProbeRun):
            runs[name] = value
        else:
            runs[name] = ProbeRun(name, name, RunStatus.OK, data=value)
    return Evidence(target=target, probes=runs)


def live(*steps: tuple[str, str, dict], log: list[str] = (), cwd: str = "/work", **kw) -> ProbeRun:
    return ProbeRun(
        "live",
        "live",
        kw.pop("status", RunStatus.OK),
        data={"cwd": cwd},
        steps=[StepResult(n, s, 0.1, d) for n, s, d in steps],
        log=[LogLine("stderr", line) for line in log],
        **kw,
    )


def dists(*items: tuple[str, str], dups: dict | None = None, version_py: dict | None = None, **extra) -> dict:
    return {
        "locations": ["", "/envs/ml/lib/python3.11/site-packages", "/home/me/.local/lib/python3.11/site-packages"],
        "dists": [{"name": n, "key": n, "version": v, "loc": 1, "requires": [], "installer": "pip"} for n, v in items],
        "duplicates": dups or {},
        "version_py": version_py or {},
        **extra,
    }


def ids(findings: list[Finding]) -> list[str]:
    return [f.id for f in findings]


def ok_import(version: str = "2.14.1+cu130", cuda: str | None = "13.0") -> tuple[str, str, dict]:
    return ("import_torch", "ok", {"ok": True, "version": version, "cuda": cuda, "hip": None})


def tv_error(message: str, type_: str = "RuntimeError", traceback: str = "") -> tuple[str, str, dict]:
    err = {"type": type_, "message": message, "traceback": traceback or f"{type_}: {message}"}
    return ("import_torchvision", "error", {"ok": False, "error": err})


# -- packages ------------------------------------------------------------------------------


def test_torchvision_missing_gets_the_paired_install():
    found = diagnose(ev(distributions=dists(("torch", "2.13.0+cpu"))))
    assert ids(found) == ["torchvision-missing"]
    cmd = found[0].fixes[0].commands[0]
    assert "torchvision==0.28.0+cpu" in cmd and "whl/cpu" in cmd and cmd.startswith(PY)


def test_released_pair_gives_no_version_finding():
    found = diagnose(
        ev(
            distributions=dists(
                ("torch", "2.5.1"),
                ("torchvision", "0.20.1"),
                version_py={
                    "torch": {"values": {"__version__": "2.5.1+cu124", "cuda": "12.4"}},
                    "torchvision": {"values": {"__version__": "0.20.1+cu124"}},
                },
            )
        )
    )
    assert "version-mismatch" not in ids(found) and "build-variant-mismatch" not in ids(found)


def test_cuda_major_mismatch_is_a_variant_problem():
    found = diagnose(
        ev(
            distributions=dists(
                ("torch", "2.5.1"),
                ("torchvision", "0.20.1"),
                version_py={
                    "torch": {"values": {"__version__": "2.5.1+cu118", "cuda": "11.8"}},
                    "torchvision": {"values": {"__version__": "0.20.1+cu124"}},
                },
            )
        )
    )
    f = next(f for f in found if f.id == "build-variant-mismatch")
    assert "different CUDA major" in f.explanation or "11.8" in f.explanation
    assert "version-mismatch" not in ids(found)


def test_python38_target_gets_a_pair_that_supports_it():
    e = ev(distributions=dists())
    e.target.version = "3.8.18"
    found = diagnose(e)
    assert ids(found) == ["torch-missing"]
    cmd = found[0].fixes[0].commands[0]
    assert "torch==2.4." in cmd and "torchvision==0.19." in cmd


def test_unsupported_python_for_installed_torch():
    e = ev(distributions=dists(("torch", "2.14.1"), ("torchvision", "0.29.1")))
    e.target.version = "3.8.18"
    f = next(f for f in diagnose(e) if f.id == "unsupported-python")
    assert "3.8.18" in f.title and "2.4" in f.explanation


def test_duplicate_torch_copies():
    copies = [{"version": "2.14.1", "loc": 2, "installer": "pip"}, {"version": "2.13.0", "loc": 1, "installer": "pip"}]
    f = next(f for f in diagnose(ev(distributions=dists(dups={"torch": copies}))) if f.id == "duplicate-install")
    assert f.severity is Severity.ERROR
    assert "/home/me/.local" in f.title and "2.13.0" in f.title


def test_missing_dependency_with_markers_from_the_target():
    data = dists(("torch", "2.14.1"))
    data["dists"][0]["requires"] = ["typing-extensions>=4.10.0", "pywin32; sys_platform == 'win32'"]
    interp = {
        "marker_env": {
            "sys_platform": "linux",
            "python_version": "3.11",
            "platform_system": "Linux",
            "python_full_version": "3.11.7",
            "platform_machine": "x86_64",
            "implementation_name": "cpython",
            "os_name": "posix",
        }
    }
    found = [f for f in diagnose(ev(distributions=data, interpreter=interp)) if f.id == "missing-dependency"]
    assert len(found) == 1 and "typing-extensions" in found[0].title  # pywin32 is for Windows only
    assert found[0].fixes[0].argv[0][-1] == "typing-extensions>=4.10.0"


# -- live import ---------------------------------------------------------------------------


def test_second_import_masks_the_first_error():
    masked = (
        "partially initialized module 'torchvision' has no attribute 'extension' (most likely due to a circular import)"
    )
    run = live(
        ok_import(),
        tv_error("operator torchvision::nms does not exist"),
        (
            "second_import",
            "ok",
            {
                "ok": False,
                "cached": False,
                "left_by_first": ["torchvision.extension"],
                "error": {"type": "AttributeError", "message": masked},
            },
        ),
    )
    found = diagnose(ev(live=run))
    f = next(f for f in found if f.id == "first-import-differs")
    assert "AttributeError" in f.title and "the first error" in f.title
    assert "not a circular import" in f.explanation
    assert f.caused_by == "import-failed"  # the symptom of the first failure, which is the root here


def test_undefined_symbol_with_a_released_pair_is_abi_mismatch():
    run = live(
        ok_import("2.14.1+cu130"),
        tv_error("operator torchvision::nms does not exist"),
        (
            "extensions",
            "ok",
            {
                "files": [
                    {
                        "file": "_C.so",
                        "loaded": False,
                        "error": "/x/torchvision/_C.so: undefined symbol: _ZN3c104cuda5abcdE",
                    }
                ]
            },
        ),
    )
    data = dists(
        ("torch", "2.14.1"),
        ("torchvision", "0.29.1"),
        version_py={"torchvision": {"values": {"__version__": "0.29.1+cu130"}}},
    )
    found = diagnose(ev(live=run, distributions=data))
    assert "abi-mismatch" in ids(found) and "version-mismatch" not in ids(found)
    assert next(f for f in found if f.id == "import-failed").caused_by == "abi-mismatch"


def test_image_extension_alone_is_a_warning():
    run = live(
        ok_import(),
        ("import_torchvision", "ok", {"ok": True, "version": "0.29.1+cu130"}),
        (
            "extensions",
            "ok",
            {
                "files": [
                    {"file": "_C_stable.so", "loaded": True},
                    {
                        "file": "image_stable.so",
                        "loaded": False,
                        "error": "libjpeg.so.8: cannot open shared object file",
                    },
                ]
            },
        ),
        ("nms_cpu", "ok", {"keep": [0], "expected": [0], "correct": True, "device": "cpu"}),
    )
    found = diagnose(ev(live=run))
    f = next(f for f in found if f.id == "image-extension-failed")
    assert f.severity is Severity.WARNING


def test_numpy_banner_in_the_log():
    banner = "A module that was compiled using NumPy 1.x cannot be run in"
    run = live(ok_import("2.2.2+cpu", None), log=[banner, "NumPy 2.0.0 as it may crash."])
    f = next(f for f in diagnose(ev(live=run)) if f.id == "numpy-abi")
    assert f.fixes[0].argv[0][-1] == "numpy<2"


def test_no_kernel_image_is_an_op_failure():
    run = live(
        ok_import(),
        ("import_torchvision", "ok", {"ok": True}),
        (
            "nms_cuda:0",
            "error",
            {
                "device": "cuda:0",
                "error": {
                    "type": "torch.AcceleratorError",
                    "message": "CUDA error: no kernel image is available for execution",
                },
            },
        ),
    )
    f = next(f for f in diagnose(ev(live=run)) if f.id == "op-failed")
    assert "cuda:0" in f.title and "no kernel image" in f.title


# -- native ---------------------------------------------------------------------------------


def test_corrupt_file_gets_a_reinstall():
    native = {
        "packages": {
            "torchvision": {
                "files": [
                    {
                        "path": "/envs/ml/lib/python3.11/site-packages/torchvision/_C.so",
                        "problem": "truncated",
                        "detail": "program headers end past EOF",
                    }
                ]
            }
        }
    }
    found = diagnose(ev(native=native, distributions=dists(("torchvision", "0.29.1"))))
    f = next(f for f in found if f.id == "corrupt-file")
    assert "torchvision/_C.so (truncated)" in f.title
    argv = f.fixes[0].argv[0]
    assert "--force-reinstall" in argv and "torchvision==0.29.1" in argv


def test_library_path_override_gives_a_trimmed_ld_library_path():
    native = {
        "overrides": [
            {
                "name": "libnvJitLink.so.13",
                "source": "LD_LIBRARY_PATH",
                "entry": "/usr/local/cuda/lib64",
                "path": "/usr/local/cuda/lib64/libnvJitLink.so.13",
                "shadows": "/envs/ml/lib/python3.11/site-packages/nvidia/cu13/lib/libnvJitLink.so.13",
                "used_by": ["libcusparse.so.12"],
            }
        ],
        "ld_library_path": [{"entry": "/usr/local/cuda/lib64"}, {"entry": "/opt/other/lib"}],
    }
    f = next(f for f in diagnose(ev(native=native)) if f.id == "library-path-override")
    fix = f.fixes[0]
    assert fix.kind == "env" and fix.env == {"LD_LIBRARY_PATH": "/opt/other/lib"}


def test_unused_override_and_driver_libraries_are_not_findings():
    native = {
        "overrides": [
            {
                "name": "libz.so.1",
                "source": "LD_LIBRARY_PATH",
                "entry": "/x",
                "path": "/x/libz.so.1",
                "shadows": "/y",
                "used_by": [],
            }
        ],
        "unresolved": [{"name": "libcuda.so.1", "needed_by": "/e/torch/lib/libcaffe2_nvrtc.so", "driver": True}],
    }
    assert diagnose(ev(native=native)) == []


# -- ordering -------------------------------------------------------------------------------


def test_order_roots_first_symptoms_under_them_dangling_causes_dropped():
    fs = [
        Finding("import-failed", Severity.ERROR, "symptom", caused_by="version-mismatch"),
        Finding("x-warning", Severity.WARNING, "a warning"),
        Finding("version-mismatch", Severity.ERROR, "root"),
        Finding("orphan", Severity.ERROR, "its cause is not here", caused_by="nothing-like-this"),
        Finding("build-variant-mismatch", Severity.ERROR, "more specific root"),
        Finding("loop-a", Severity.INFO, "a", caused_by="loop-b"),
        Finding("loop-b", Severity.INFO, "b", caused_by="loop-a"),
    ]
    out = order(fs)
    assert ids(out)[:3] == ["build-variant-mismatch", "version-mismatch", "import-failed"]
    assert next(f for f in out if f.id == "orphan").caused_by is None
    assert {f.caused_by for f in out if f.id.startswith("loop")} == {None}
    assert len(out) == len(fs)


def test_a_rule_that_raises_becomes_an_info_finding(monkeypatch):
    from tvwizard.diagnosis import rules

    def broken(_ev):
        raise KeyError("surprise")

    monkeypatch.setattr(rules, "RULES", [rules.Rule("broken", broken, ())])
    found = diagnose(ev())
    assert ids(found) == ["internal-error"] and "surprise" in found[0].title


def test_conda_owned_torch_gets_conda_commands_that_tvwizard_does_not_run():
    data = dists(("torch", "2.13.0+cpu"), ("torchvision", "0.29.1"))
    data["dists"][0]["installer"] = "conda"
    data["conda"] = {"records": [{"name": "pytorch", "version": "2.13.0", "channel": "conda-forge"}]}
    found = diagnose(ev(distributions=data))
    fix = next(f for f in found if f.id == "version-mismatch").fixes[0]
    assert fix.argv[0][:5] == ["conda", "install", "--prefix", "/envs/ml", "--channel"]
    assert "torchvision=0.28.0=*cpu*" in fix.argv[0]  # the variant is kept in the build string
    assert fix.applicable is False and "conda owns torch" in fix.why


def test_uv_env_gets_uv_pip():
    data = dists(("torch", "2.14.1"), ("torchvision", "0.28.0"))
    for d in data["dists"]:
        d["installer"] = "uv"
    fix = next(f for f in diagnose(ev(distributions=data)) if f.id == "version-mismatch").fixes[0]
    assert fix.argv[0][:5] == ["uv", "pip", "install", "--python", PY]


def test_paths_with_spaces_are_quoted():
    from tvwizard.fixes.commands import Installer, quote

    argv = Installer("pip", "/home/me/my envs/ml/bin/python").install(["torchvision==0.29.1"])
    assert quote(argv).startswith("'/home/me/my envs/ml/bin/python' -m pip install")


def test_demangled_symbol_in_the_evidence():
    import shutil

    import pytest

    if shutil.which("c++filt") is None:
        pytest.skip("no c++filt here")
    from tvwizard.demangle import demangle_text

    text = demangle_text("undefined symbol: _ZN3c104cuda29c10_cuda_check_implementationEiPKcS2_jb")
    assert "c10::cuda::c10_cuda_check_implementation(int, char const*, char const*, unsigned int, bool)" in text


def test_torch_missing_on_a_machine_without_gpu_gets_the_cpu_build():
    e = ev(distributions=dists())
    e.system = {"gpu": {"state": "no-driver"}}
    fix = diagnose(e)[0].fixes[0]
    assert "torch==2.14.1+cpu" in fix.argv[0] and "https://download.pytorch.org/whl/cpu" in fix.argv[0]


def test_commands_name_the_real_interpreter_not_a_shim():
    e = ev(distributions=dists(("torch", "2.14.1"), ("torchvision", "0.28.0")))
    e.target.python = "/home/me/.pyenv/shims/python3"
    e.target.executable = "/home/me/.pyenv/versions/3.11.7/bin/python3"
    fix = next(f for f in diagnose(e) if f.id == "version-mismatch").fixes[0]
    assert fix.argv[0][0] == "/home/me/.pyenv/versions/3.11.7/bin/python3"


def test_low_disk_warning_and_machine_line():
    from tvwizard.diagnosis.checks import build_checks

    e = ev(distributions=dists(("torch", "2.14.1"), ("torchvision", "0.29.1")))
    e.system = {
        "disk": {"path": "/envs/ml", "free": 2 * 2**30},
        "cpu": {"logical": 2},
        "os": {"pretty_name": "Debian GNU/Linux 12", "machine": "x86_64"},
    }
    found = diagnose(e)
    low = next(f for f in found if f.id == "low-disk")
    assert low.severity is Severity.WARNING and "2.0 GiB" in low.title
    machine = next(c for c in build_checks(e, found) if c.id == "machine")
    assert machine.summary.startswith("Debian GNU/Linux 12, x86_64, 2 CPUs") and machine.status.value == "warning"
    e.system["disk"]["free"] = 50 * 2**30
    assert "low-disk" not in ids(diagnose(e))


def test_stray_copy_on_pythonpath_is_the_root_of_the_mismatch():
    data = dists(
        ("torch", "2.14.1"),
        ("torchvision", "0.28.0"),
        dups={
            "torchvision": [
                {"version": "0.28.0", "loc": 0, "installer": "pip"},
                {"version": "0.29.1", "loc": 1, "installer": "pip"},
            ]
        },
    )
    data["locations"][0] = "/old/stuff"
    data["dists"][1]["loc"] = 0
    interp = {"sys_path": [{"index": 1, "path": "/old/stuff", "origin": "pythonpath"}]}
    e = ev(distributions=data, interpreter=interp)
    e.env = {"PYTHONPATH": "/old/stuff:/keep/me"}
    found = diagnose(e)
    assert ids(found)[:2] == ["duplicate-install", "version-mismatch"]
    root = found[0]
    assert root.title == (
        "torchvision 0.28.0 on PYTHONPATH (/old/stuff) hides the env's own torchvision 0.29.1 "
        "(/envs/ml/lib/python3.11/site-packages): Python imports the first"
    )
    assert root.fixes[0].env == {"PYTHONPATH": "/keep/me"}
    assert found[1].caused_by == "duplicate-install"


def test_numpy_not_available_without_numpy_is_not_an_abi_problem():
    run = live(
        (
            "import_torch",
            "ok",
            {
                "ok": True,
                "version": "2.14.1+cu130",
                "cuda": "13.0",
                "numpy_error": {"type": "RuntimeError", "message": "Numpy is not available"},
            },
        )
    )
    assert "numpy-abi" not in ids(diagnose(ev(live=run, distributions=dists(("torch", "2.14.1")))))
    # NumPy 2 beside a torch built for NumPy 1 is.
    run = live(
        (
            "import_torch",
            "ok",
            {
                "ok": True,
                "version": "2.2.2+cpu",
                "cuda": None,
                "numpy_error": {"type": "RuntimeError", "message": "Numpy is not available"},
            },
        )
    )
    found = diagnose(ev(live=run, distributions=dists(("torch", "2.2.2+cpu"), ("numpy", "2.1.3"))))
    assert "numpy-abi" in ids(found)


def test_cpu_torch_with_a_cuda_torchvision_is_one_root_cause():
    """torch 2.13.0+cpu with torchvision 0.29.1+cu130 (made for torch 2.14.1): the variant
    mismatch is the root cause; the version gap is folded under it, not a second root."""
    found = diagnose(ev(distributions=dists(("torch", "2.13.0+cpu"), ("torchvision", "0.29.1+cu130"))))
    by_id = {f.id: f for f in found}
    assert by_id["build-variant-mismatch"].caused_by is None
    assert by_id["version-mismatch"].caused_by == "build-variant-mismatch"
    assert [f.id for f in found if f.caused_by is None and f.severity is Severity.ERROR] == ["build-variant-mismatch"]
