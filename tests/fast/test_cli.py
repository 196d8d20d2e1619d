"""The real ``tvwizard`` command, run as a subprocess, against fake installs and bad targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pyenv_python
from fakes import FakeEnv, fake_env_vars, live_probe, run_tvwizard

from tvwizard.model import SCHEMA, Report

tvwizard = run_tvwizard


def check_json(site: Path, cwd: Path, *extra: str) -> tuple[int, dict]:
    """``check --json``, unredacted: these tests read the paths the diagnosis names (redaction is
    tested in test_adversarial_inputs.py and test_report.py)."""
    proc = tvwizard(
        "--python", sys.executable, "check", "--json", "--no-redact", *extra, env=fake_env_vars(site), cwd=cwd
    )
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def ids(report: dict) -> list[str]:
    return [f["id"] for f in report["findings"]]


# -- usage and targets --------------------------------------------------------------------


def test_stored_help_is_the_parsers_help(monkeypatch):
    """--help prints a stored copy (no argparse at run time); it must match the parser."""
    from tvwizard.cli import build_parser
    from tvwizard.cli._help import HELP

    monkeypatch.setenv("COLUMNS", "80")
    assert build_parser().format_help() == HELP, "regenerate with: python -m tvwizard.cli._help"
    proc = tvwizard("--help")
    assert proc.returncode == 0 and proc.stdout == HELP


def test_subcommand_help_still_comes_from_argparse():
    proc = tvwizard("fix", "--help")
    assert proc.returncode == 0 and "--env-file" in proc.stdout and "--apply" in proc.stdout


def test_version_and_help_do_not_import_the_engine():
    proc = tvwizard("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("tvwizard ")
    code = (
        "import sys; from tvwizard.cli import main\n"
        "try: main(['--help'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('textual', 'tvwizard.engine.session', 'tvwizard.diagnosis.engine', 'rich', "
        "'argparse') "
        "if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out
    assert "exit codes" in out and "check" in out and "--python" in out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "no such file"),
        (lambda d: _write(d / "notexec", "#!/bin/sh\n", 0o644), "not executable"),
        (lambda d: _write(d / "notpython", "#!/bin/sh\necho hello\n", 0o755), "not a working Python"),
        (lambda d: (d / "emptydir").mkdir() or d / "emptydir", "is a directory"),
    ],
)
def test_unusable_python_is_one_line_and_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    proc = tvwizard("--python", str(path), "check")
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("version", ["2.7", "3.6", "3.7"])
def test_too_old_python_is_refused_clearly(version):
    exe = pyenv_python(version)
    if exe is None:
        pytest.skip(f"no Python {version} under pyenv here")
    proc = tvwizard("--python", exe, "check")
    assert proc.returncode == 2
    assert "need Python 3.8 or newer" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_env_folder_is_accepted_as_python(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = FakeEnv().build(tmp_path / "site")
    proc = tvwizard("--python", str(venv), "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert data["target"]["python"] == str(venv / "bin" / "python")


def test_python_option_works_before_and_after_the_command(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    for args in (["--python", sys.executable, "check", "--json"], ["check", "--python", sys.executable, "--json"]):
        proc = tvwizard(*args, env=fake_env_vars(site), cwd=tmp_path)
        assert json.loads(proc.stdout)["target"]["how_chosen"] == "--python"


def test_default_target_is_the_active_virtualenv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    proc = tvwizard("check", "--json", env=env, cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert data["target"]["python"] == str(venv / "bin" / "python")
    assert "VIRTUAL_ENV" in data["target"]["how_chosen"]


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# -- check: verdicts, exit codes, JSON ----------------------------------------------------


def test_healthy_fake_env_exits_0_with_json_schema(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 0, ids(data)
    assert data["schema"] == SCHEMA
    assert data["verdict"] == "works" and data["exit_code"] == 0
    assert not [f for f in data["findings"] if f["severity"] == "error"]
    names = [p["name"] for p in data["probes"]]
    assert names == ["interpreter", "distributions", "resolution", "native", "envvars", "toolchain", "live"]
    for p in data["probes"]:
        assert p["status"] == "ok", (p["name"], p["error"])
        assert p["duration"] > 0
    nms = next(s for s in data["probes"][-1]["steps"] if s["name"] == "nms_cpu")
    assert nms["data"]["correct"] is True and nms["data"]["keep"] == [0, 2, 3, 5]
    assert "static_findings" in data["timings"]
    # The JSON reads back into the model unchanged.
    again = Report.from_dict(data).to_dict()
    assert again == data


# What a torchvision made for another torch does at import (its ops library does not load).
NMS_MISSING = 'raise RuntimeError("operator torchvision::nms does not exist")'


def test_version_mismatch_from_fake_metadata(tmp_path):
    site = FakeEnv(torchvision="0.28.0", tv_requires=["torch==2.13.0"], tv_extra=NMS_MISSING).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    assert "version-mismatch" in ids(data)
    vm = next(f for f in data["findings"] if f["id"] == "version-mismatch")
    assert "2.13" in vm["title"] and "2.14.1" in vm["title"]
    cmds = " ".join(c for fix in vm["fixes"] for c in fix["commands"])
    assert "torchvision==0.29.1" in cmds
    assert sys.executable in cmds  # the target's own pip, never a bare pip


def test_missing_requirement_while_everything_works_is_a_warning(tmp_path):
    site = FakeEnv(torch_requires=["tvwizard-absent-helper>=1"]).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    dep = next(f for f in data["findings"] if f["id"] == "missing-dependency")
    assert dep["severity"] == "warning" and code == 0 and data["verdict"] == "works"


def test_version_pin_off_by_a_patch_that_works_is_a_warning(tmp_path):
    """Verdict from behaviour: metadata says the pair is off, yet everything imports and nms is right."""
    site = FakeEnv(torchvision="0.29.0", tv_requires=["torch==2.14.0"]).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 0 and data["verdict"] == "works", [(f["id"], f["severity"]) for f in data["findings"]]
    vm = next(f for f in data["findings"] if f["id"] == "version-mismatch")
    assert vm["severity"] == "warning" and "nms runs" in vm["title"]
    assert not [f for f in data["findings"] if f["severity"] == "error"]


def test_cpu_torch_with_cuda_torchvision(tmp_path):
    site = FakeEnv(torch="2.13.0", torch_local="+cpu", torch_cuda=None).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    found = ids(data)
    assert found.index("build-variant-mismatch") < found.index("version-mismatch")  # most specific first
    fix = next(f for f in data["findings"] if f["id"] == "build-variant-mismatch")["fixes"][0]
    assert (
        fix["argv"][0][-4:]
        == [
            "torchvision==0.28.0+cpu",
            "--index-url",
            "https://download.pytorch.org/whl/cpu",
        ][-4:]
        or "torchvision==0.28.0+cpu" in fix["argv"][0]
    )
    assert "https://download.pytorch.org/whl/cpu" in fix["argv"][0]


def test_wrong_nms_answer_is_caught(tmp_path):
    site = FakeEnv(nms_extra="keep = keep[:-1]").build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    assert "op-wrong-result" in ids(data)


def test_import_crash_is_named_by_signal(tmp_path):
    site = FakeEnv(tv_extra="import ctypes; ctypes.string_at(0)").build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    crash = next(f for f in data["findings"] if f["id"] == "import-crash")
    assert "SIGSEGV" in crash["title"] and "import torchvision" in crash["title"]
    assert "torchvision/__init__.py" in crash["evidence"][0]["detail"]  # faulthandler's traceback
    live = live_probe(data)
    assert live["status"] == "crashed" and live["signal"] == "SIGSEGV"
    assert [s["status"] for s in live["steps"]][:2] == ["ok", "crashed"]


def test_import_hang_becomes_timeout_finding(tmp_path):
    site = FakeEnv(tv_extra="import time; time.sleep(600)").build(tmp_path / "site")
    code, data = check_json(site, tmp_path, "--timeout", "4")
    assert code == 1
    assert "import-timeout" in ids(data)
    live = live_probe(data)
    assert live["status"] == "timeout"
    assert "time.sleep" in live["fault"] or "__init__.py" in live["fault"]


def test_crash_in_a_later_step_keeps_the_rest(tmp_path):
    """A segfault while running nms: the import results survive and the crash is named."""
    site = FakeEnv(nms_extra="import ctypes; ctypes.string_at(0)").build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    live = live_probe(data)
    steps = {s["name"]: s["status"] for s in live["steps"]}
    assert steps["import_torchvision"] == "ok" and steps["nms_cpu"] == "crashed"
    assert "op-failed" in ids(data)


def test_first_import_fails_second_succeeds(tmp_path):
    """The classic: a first import fails part-way, the retry in the same process 'works'."""
    flag = tmp_path / "flag"
    extra = (
        f"import os\nif not os.path.exists({str(flag)!r}):\n"
        f"    open({str(flag)!r}, 'w').close()\n    raise ImportError('first attempt fails')"
    )
    site = FakeEnv(tv_extra=extra).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    diff = next(f for f in data["findings"] if f["id"] == "first-import-differs")
    assert "first error is the real one" in diff["title"]
    assert code == 1


def test_shadowing_file_in_working_folder(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    work = tmp_path / "work"
    work.mkdir()
    (work / "torchvision.py").write_text("print('not the real one')\n")
    code, data = check_json(site, work)
    assert code == 1
    shadow = next(f for f in data["findings"] if f["id"] == "shadowed-module")
    assert str(work / "torchvision.py") in shadow["title"]


def test_torch_missing(tmp_path):
    site = FakeEnv(torch=None).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    assert code == 1
    assert ids(data)[0] == "torch-missing"
    symptoms = [f for f in data["findings"] if f["id"] == "import-failed"]
    assert symptoms and symptoms[0]["caused_by"] == "torch-missing"  # "No module named 'torch'" is its symptom


def test_checklist_text_summary_first_and_ascii(tmp_path):
    site = FakeEnv(torchvision="0.28.0", tv_requires=["torch==2.13.0"], tv_extra=NMS_MISSING).build(tmp_path / "site")
    env = {**fake_env_vars(site), "NO_COLOR": "1"}
    proc = tvwizard("--python", sys.executable, "check", "--ascii", env=env, cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 1
    assert "torchvision is broken" in lines[1]  # the verdict comes before the checklist
    assert any(line.startswith("[X]") and "Packages" in line for line in lines)
    assert "\x1b[" not in proc.stdout  # no colour codes in a pipe / with NO_COLOR
    assert all(ord(ch) < 128 for ch in proc.stdout), "ASCII mode printed non-ASCII marks"
    verbose = tvwizard("--python", sys.executable, "check", "-v", env=env, cwd=tmp_path)
    assert "Probes" in verbose.stdout and "ms" in verbose.stdout and "evidence" in verbose.stdout


def test_no_tty_falls_back_to_check_and_says_how_to_get_the_wizard(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    proc = tvwizard("--python", sys.executable, env=fake_env_vars(site), cwd=tmp_path)
    assert proc.returncode == 0
    assert "no terminal" in proc.stderr and "ssh -t" in proc.stderr
    assert "torchvision works" in proc.stdout


def test_every_probe_runs_in_a_python38_target(tmp_path, py38):
    """The probes are stdlib-only 3.8 code: a 3.8 target runs them all (and torch 2.14 is too new for it)."""
    site = FakeEnv().build(tmp_path / "site")
    proc = tvwizard("--python", py38, "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert data["target"]["version"].startswith("3.8.")
    for p in data["probes"]:
        assert p["status"] == "ok", (p["name"], p["error"], p["fault"][-500:])
    live = live_probe(data)
    assert {s["name"]: s["status"] for s in live["steps"]}["nms_cpu"] == "ok"
    unsupported = next(f for f in data["findings"] if f["id"] == "unsupported-python")
    assert "3.8" in unsupported["title"]
    assert proc.returncode == 1


def test_python_by_name_on_path(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mypython").symlink_to(sys.executable)
    env = {**fake_env_vars(site), "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = tvwizard("--python", "mypython", "check", "--json", "--no-redact", env=env, cwd=tmp_path)
    assert json.loads(proc.stdout)["target"]["python"] == str(bindir / "mypython")
    missing = tvwizard("--python", "no-such-python-here", "check", env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "not found on PATH" in missing.stderr


def test_numpy_banner_printed_at_import_becomes_a_structured_notice(tmp_path):
    banner = "\\nA module that was compiled using NumPy 1.x cannot be run in\\nNumPy 2.0.0 as it may crash.\\n"
    site = FakeEnv(torch_extra=f"_sys.stderr.write({banner!r})").build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    live = live_probe(data)
    step = next(s for s in live["steps"] if s["name"] == "import_torch")
    assert step["data"]["notices"] == ["numpy-abi"]
    assert "compiled using NumPy 1.x" in step["data"]["stderr"]
    assert any("compiled using NumPy 1.x" in line["text"] for line in live["log"])  # still in the log too
    assert "numpy-abi" in ids(data) and code == 1


def test_running_inside_a_torchvision_source_checkout(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    checkout = tmp_path / "vision"
    (checkout / "torchvision").mkdir(parents=True)
    (checkout / "setup.py").write_text("from setuptools import setup\n")
    (checkout / "torchvision" / "__init__.py").write_text("import torch\n")
    code, data = check_json(site, checkout)
    shadow = next(f for f in data["findings"] if f["id"] == "shadowed-module")
    assert shadow["title"].startswith(f"{checkout} is a `torchvision` source checkout")
    assert [f["id"] for f in shadow["fixes"]] == ["leave-checkout", "build-checkout"]
    assert code == 1


def test_crash_at_interpreter_exit_is_a_warning(tmp_path):
    """Everything works, then Python dies on its way out: scripts 'fail' with a signal."""
    site = FakeEnv(
        torch_extra="import atexit as _ax, os as _os, signal as _sg\n"
        "_ax.register(lambda: _os.kill(_os.getpid(), _sg.SIGSEGV))"
    ).build(tmp_path / "site")
    code, data = check_json(site, tmp_path)
    live = live_probe(data)
    assert live["status"] == "crashed" and live["signal"] == "SIGSEGV"
    assert all(s["status"] in ("ok", "skipped") for s in live["steps"])
    crash = next(f for f in data["findings"] if f["id"] == "exit-crash")
    assert crash["severity"] == "warning" and crash["title"].startswith("Python crashes (SIGSEGV) when it exits")
    assert "op-failed" not in ids(data) and "import-crash" not in ids(data)
    assert code == 0 and data["verdict"] == "works"  # torchvision works; the warning says the exit does not


def test_why_the_wizard_does_not_open_is_honest(monkeypatch):
    """TERM=dumb in a real terminal is not "no terminal here": say what is wrong and how to fix it."""
    import io

    from tvwizard.cli import no_wizard_reason

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.setenv("TERM", "dumb")
    assert "TERM=dumb cannot draw the wizard" in no_wizard_reason()
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    assert "no terminal here" in no_wizard_reason()
