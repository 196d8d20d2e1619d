"""Targets and environments that fight back, on purpose (issue 16).

A target that floods its output, forks a daemon that keeps the pipes open, prints at exit,
lives at a path that is not UTF-8, or an environment whose PYTHONPATH carries a hostile
``sitecustomize``: tvwizard's memory stays bounded, the exit of a process is its answer, a
probe that failed is "unknown" (never "not installed"), and tvwizard's own interpreter is
not the user's to break.  Signals (SIGTERM, SIGHUP, SIGINT) end tvwizard cleanly: no probe
process, no temp file left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import processes
import pytest
from fakes import FakeEnv, fake_env_vars, live_probe, run_tvwizard
from processes import descendants, group_members, probe_groups, survivors, wait_for

from tvwizard.target import TargetError, resolve_target

MB = 1024 * 1024


tvwizard = run_tvwizard


def peak_rss_of(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of ``argv``, measured by a parent of its own
    (RUSAGE_CHILDREN of a fresh process counts that one run and what it waited for)."""
    meter = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-E", "-c", meter, *argv], capture_output=True, text=True, env=env, timeout=timeout
    )
    rc, rss = out.stdout.split()
    return int(rc), int(rss)


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def sitecustomize(site: Path, body: str) -> None:
    (site / "sitecustomize.py").write_text(textwrap.dedent(body).lstrip("\n"))


# -- output without end ---------------------------------------------------------------------


def test_a_target_that_streams_for_ever_keeps_tvwizard_small(tmp_path):
    """`yes` as the interpreter: the query is cut at --timeout, and what it kept is bounded."""
    flood = script(tmp_path / "python", "exec yes 'a line that never ends, again and again'")
    start = time.monotonic()
    rc, rss = peak_rss_of([sys.executable, "-m", "tvwizard", "--python", str(flood), "--timeout", "3", "check"])
    assert rc == 2
    assert time.monotonic() - start < 30
    assert rss < 150 * MB, f"tvwizard grew to {rss // MB} MB on a flooding target"


FLOOD = """
import os, threading
def _flood():
    line = b"x" * (1 << 20) + b"\\n"
    while True:
        os.write(1, line)
threading.Thread(target=_flood, daemon=True).start()
"""


def test_a_python_whose_every_process_floods_stdout_is_diagnosed_in_bounded_memory(tmp_path):
    """A sitecustomize that writes 1 MB lines for as long as the process lives: the query
    and every probe flood their stdout; tvwizard keeps what its limits say and finishes."""
    site = FakeEnv().build(tmp_path / "site")
    sitecustomize(site, FLOOD)
    start = time.monotonic()
    rc, rss = peak_rss_of(
        [sys.executable, "-m", "tvwizard", "--python", sys.executable, "check", "--json"], env=fake_env_vars(site)
    )
    assert rc == 0
    assert time.monotonic() - start < 90
    assert rss < 200 * MB, f"tvwizard grew to {rss // MB} MB"


def test_a_flood_that_ends_without_an_answer_is_no_interpreter(tmp_path):
    flood = script(tmp_path / "python", "yes 'x' | head -c 50000000; exit 0")
    with pytest.raises(TargetError, match="not a working Python interpreter"):
        resolve_target(str(flood), timeout=20)


def test_a_probe_that_sends_events_without_end_is_cut(tmp_path):
    from conftest import run_probe_sync

    from tvwizard.engine.runner import PROBES_DIR

    pkg = tmp_path / "probes"
    pkg.mkdir()
    for name in ("__init__.py", "_api.py"):
        (pkg / name).write_bytes((Path(PROBES_DIR) / name).read_bytes())
    (pkg / "chatty.py").write_text(
        textwrap.dedent(
            """
            def run(ctx):
                blob = "y" * 100000
                for i in range(1500):   # 150 MB of facts
                    ctx.fact("k%d" % i, blob)
                ctx.log("z" * 1000000)   # one log line of 1 MB
                return {"done": True}
            """
        )
    )
    run = run_probe_sync("chatty", probes_dir=str(pkg), timeout=60)
    assert run.data["done"] is True  # the result still arrives
    kept = sum(len(v) for v in run.data.values() if isinstance(v, str))
    assert kept <= 64 * MB
    assert any("later ones were dropped" in line.text for line in run.log)
    assert max(len(line.text) for line in run.log) <= 5000


# -- daemons holding the pipes ----------------------------------------------------------------

DAEMON = """
import os, sys
pid = os.fork()
if pid == 0:
    os.setsid()                       # out of the probe's process group: killpg cannot reach it
    with open({pids!r}, "a") as fh:
        fh.write("%d\\n" % os.getpid())
    import time
    time.sleep(60)                    # holds stdout, stderr (and every inherited fd) open
    os._exit(0)
"""


@pytest.fixture
def daemon_site(tmp_path):
    """A fake install whose sitecustomize leaves a daemon behind in every Python that starts."""
    site = FakeEnv().build(tmp_path / "site")
    pids = tmp_path / "daemons.pid"
    sitecustomize(site, DAEMON.format(pids=str(pids)))
    yield site
    if pids.exists():
        for pid in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def test_the_interpreter_query_takes_the_exit_as_the_answer(daemon_site):
    start = time.monotonic()
    target = resolve_target(sys.executable, env=fake_env_vars(daemon_site))
    assert target.version.startswith("3.")
    assert time.monotonic() - start < 5


def test_probes_that_exit_while_a_daemon_holds_their_pipes_are_not_timeouts(daemon_site, tmp_path):
    start = time.monotonic()
    proc = tvwizard("--python", sys.executable, "check", "--json", env=fake_env_vars(daemon_site), cwd=tmp_path)
    assert time.monotonic() - start < 60
    data = json.loads(proc.stdout)
    statuses = {p["name"]: p["status"] for p in data["probes"]}
    assert "timeout" not in statuses.values(), statuses
    assert live_probe(data)["status"] == "ok"
    assert proc.returncode == 0, [f["id"] for f in data["findings"]]


# -- printing at exit --------------------------------------------------------------------------


def test_a_target_that_prints_at_exit_is_a_working_interpreter(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    sitecustomize(site, "import atexit\natexit.register(lambda: print('goodbye from atexit'))\n")
    target = resolve_target(sys.executable, env=fake_env_vars(site))
    assert target.version.startswith("3.")
    proc = tvwizard("--python", sys.executable, "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "works"


# -- odd --python and --timeout values -----------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "soon"])
def test_timeout_must_be_a_finite_number_above_zero(value):
    proc = tvwizard("--timeout", value, "check")
    assert proc.returncode == 2
    assert "--timeout" in proc.stderr and "Traceback" not in proc.stderr


def test_an_empty_python_is_an_error_not_the_default():
    proc = tvwizard("--python", "", "check")
    assert proc.returncode == 2
    assert "--python is empty" in proc.stderr


def test_a_symlink_loop_is_named(tmp_path):
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    proc = tvwizard("--python", str(tmp_path / "a"), "check")
    assert proc.returncode == 2
    assert "symlink loop" in proc.stderr


def test_a_hanging_target_is_given_up_on_at_the_timeout(tmp_path):
    hang = script(tmp_path / "python", "exec sleep 100")
    start = time.monotonic()
    proc = tvwizard("--python", str(hang), "--timeout", "2", "check")
    assert proc.returncode == 2
    assert "did not answer within 2 s" in proc.stderr
    assert time.monotonic() - start < 15


# -- the user's PYTHONPATH is the target's, not tvwizard's ----------------------------------------


def _console_script() -> str:
    script = Path(sys.executable).parent / "tvwizard"
    if not script.exists():
        pytest.skip("tvwizard is not installed as a console script here")
    return str(script)


@pytest.mark.parametrize("how", ["console script", "-m"])
def test_a_sitecustomize_that_exits_cannot_make_tvwizard_say_nothing(tmp_path, how):
    """Before: tvwizard's own interpreter ran it, printed nothing and exited 0 ("works")."""
    site = FakeEnv().build(tmp_path / "site")
    sitecustomize(site, "import os\nos._exit(0)\n")
    argv = [_console_script()] if how == "console script" else [sys.executable, "-m", "tvwizard"]
    proc = subprocess.run(
        [*argv, "--python", sys.executable, "check"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=fake_env_vars(site),
        cwd=tmp_path,
        timeout=60,
    )
    # the target runs the same sitecustomize, so it is no working interpreter: said, exit 2
    assert proc.returncode == 2
    assert "not a working Python interpreter" in proc.stderr
    assert "exited with code 0 without answering" in proc.stderr


def test_a_broken_package_on_pythonpath_does_not_break_tvwizard_but_the_probes_see_pythonpath(tmp_path):
    site = FakeEnv().build(tmp_path / "site")
    (site / "packaging").mkdir()
    (site / "packaging" / "__init__.py").write_text("raise ImportError('this packaging is broken on purpose')\n")
    (site / "rich").mkdir()
    (site / "rich" / "__init__.py").write_text("raise SystemExit(0)\n")
    proc = tvwizard("--python", sys.executable, "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    # the fake torch and torchvision come from PYTHONPATH: the probes saw it
    assert data["verdict"] == "works", [f["id"] for f in data["findings"]]
    assert proc.returncode == 0
    proc = tvwizard("--python", sys.executable, "check", env=fake_env_vars(site), cwd=tmp_path)  # rich's output
    assert proc.returncode == 0 and "torchvision" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/v/bin/python3", "/v/bin/tvwizard", "check"], True),
        (["python", "-m", "tvwizard"], True),
        (["python", "-X", "dev", "-mtvwizard", "check"], True),
        (["python", "-E", "-m", "tvwizard.cli._help"], False),
        (["python", "-c", "import tvwizard", "tvwizard"], False),
        (["python", "/home/me/train.py", "tvwizard"], False),
        (["python"], False),
    ],
)
def test_which_command_lines_are_tvwizards(argv, expected):
    from tvwizard._isolate import is_tvwizard

    assert is_tvwizard(argv) is expected


# -- a probe that failed is "unknown", never "not installed" ---------------------------------------

KILL_PROBES = """
import os, signal, sys
if len(sys.argv) > 2 and sys.argv[2] in {probes!r}:
    os.kill(os.getpid(), signal.{sig})
"""


@pytest.mark.parametrize(
    ("probes", "sig"),
    [
        (("distributions", "resolution", "live"), "SIGKILL"),  # every probe that could tell
        (("distributions", "live"), "SIGTERM"),  # resolution knows where torchvision is
        (("distributions",), "SIGKILL"),  # only the metadata probe: the import says the rest
    ],
)
def test_probes_that_died_do_not_make_torch_or_torchvision_missing(tmp_path, probes, sig):
    site = FakeEnv().build(tmp_path / "site")
    sitecustomize(site, KILL_PROBES.format(probes=probes, sig=sig))
    proc = tvwizard("--python", sys.executable, "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    data = json.loads(proc.stdout)
    found = [f["id"] for f in data["findings"]]
    assert "torch-missing" not in found and "torchvision-missing" not in found, found
    assert {p["name"]: p["status"] for p in data["probes"]}["distributions"] == "crashed"
    fix = tvwizard("--python", sys.executable, "fix", "--apply", "--yes", env=fake_env_vars(site), cwd=tmp_path)
    assert "Install torch" not in fix.stdout and "install torchvision" not in fix.stdout.lower(), fix.stdout


def test_a_missing_torchvision_is_still_found_when_the_probes_finished(tmp_path):
    site = FakeEnv(torchvision=None).build(tmp_path / "site")
    proc = tvwizard("--python", sys.executable, "check", "--json", env=fake_env_vars(site), cwd=tmp_path)
    assert "torchvision-missing" in [f["id"] for f in json.loads(proc.stdout)["findings"]]


# -- signals: nothing left behind --------------------------------------------------------------

HANGING_IMPORT = "import subprocess as _s, time as _t\n_s.Popen(['sleep', '300'])\n_t.sleep(300)\n"


@pytest.mark.parametrize("moment", ["in the import", "while the probes start"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_ends_check_its_probes_and_their_temp_files(tmp_path, sig, moment):
    """The live probe hangs in `import torch`, with a child of its own, when the signal comes
    (or the probes are still being started, pipes not yet connected)."""
    site = FakeEnv(torch_extra=HANGING_IMPORT).build(tmp_path / "site")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**fake_env_vars(site), "TMPDIR": str(tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tvwizard", "--python", sys.executable, "check"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    pgids: set[int] = set()

    def probes_seen() -> bool:
        pgids.update(probe_groups(proc.pid))
        if moment == "in the import":
            return any(processes.name(pid) == "sleep" for pid in group_members(pgids))
        return bool(pgids)

    try:
        wait_for(probes_seen, "the probes")
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = err.decode()
    assert proc.returncode == 128 + sig
    assert f"stopped by {signal.Signals(sig).name}" in err and "Traceback" not in err
    left = survivors(pgids)
    assert not left, f"probe processes outlived tvwizard: {left}"
    assert not list(tmp.glob("tvwizard-fault-*"))


def test_a_signal_during_the_interpreter_query_ends_it_too(tmp_path):
    slow = script(tmp_path / "python", "sleep 300 & wait")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tvwizard", "--python", str(slow), "check"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(descendants(proc.pid)) >= 2, "the query and its child")
        groups = probe_groups(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Traceback" not in err
    left = survivors(groups)
    assert groups and not left, left


# -- answers that never come, files that cannot be written ----------------------------------------


def _at_the_prompt(tmp_path):
    """`fix --apply` with a terminal on stdin, waiting at "Apply it? [y/N]"; (process, pty master)."""
    import pty

    site = FakeEnv(torchvision=None).build(tmp_path / "site")  # its fix installs torchvision: it asks first
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tvwizard", "--python", sys.executable, "fix", "--apply"],
        env=fake_env_vars(site),
        cwd=tmp_path,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    out = b""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    deadline = time.monotonic() + 60
    while b"Apply it? [y/N]" not in out and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        out += proc.stdout.read() or b""
    assert b"Apply it? [y/N]" in out, out
    return proc, master


def test_end_of_input_at_the_prompt_is_one_line_and_exit_2(tmp_path):
    proc, master = _at_the_prompt(tmp_path)
    try:
        os.write(master, b"\x04")  # Ctrl-D
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        proc.kill()
    assert proc.returncode == 2
    text = err.decode()
    assert "nothing was changed" in text and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


def test_ctrl_c_at_the_prompt_is_one_line_and_exit_2(tmp_path):
    proc, master = _at_the_prompt(tmp_path)
    try:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        _out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        proc.kill()
    assert proc.returncode == 2
    text = err.decode()
    assert "cancelled; nothing was changed" in text and "Traceback" not in text and "KeyboardInterrupt" not in text


def test_apply_without_a_terminal_refuses_before_the_diagnosis(tmp_path):
    # a target that does not exist: refusing first means it is never even looked at
    proc = tvwizard("--python", str(tmp_path / "nowhere"), "fix", "--apply")
    assert proc.returncode == 2
    assert "no terminal to ask for confirmation" in proc.stderr and "no such file" not in proc.stderr


@pytest.mark.parametrize("where", ["directory", "missing folder", "/dev/full"])
def test_env_file_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, where):
    """The plan (with an env-var fix) is test_fix_plan's; writing the file is real."""
    import argparse

    from test_fix_plan import report

    import tvwizard.cli.common as common
    from tvwizard.cli.fix import run_fix

    monkeypatch.setattr(common, "resolve_or_exit", lambda args: report().target)
    monkeypatch.setattr(common, "diagnose_with_progress", lambda target, args, **kw: report())
    path = {"directory": str(tmp_path), "missing folder": str(tmp_path / "no" / "such" / "x.sh")}.get(where, where)
    args = argparse.Namespace(
        python=None, timeout=None, apply=False, yes=False, finding=None, choice=1, shell="bash", env_file=path
    )
    assert run_fix(args) == 2
    err = capsys.readouterr().err
    assert f"cannot write --env-file {path}" in err
    assert len(err.strip().splitlines()) == 1


def test_the_progress_line_of_an_applied_fix_is_shell_quoted():
    import asyncio

    from tvwizard.fixes.apply import apply_fix
    from tvwizard.model import Fix

    argv = [sys.executable, "-c", "print('a; b')", "$(touch /tmp/x)"]
    fix = Fix(id="t", title="t", kind="command", argv=[argv], commands=[], applicable=True)
    lines: list[str] = []
    result = asyncio.run(apply_fix(fix, sys.executable, lines.append))
    assert result.ok
    assert lines[0] == f"$ {sys.executable} -c 'print('\"'\"'a; b'\"'\"')' '$(touch /tmp/x)'"


# -- paths that are not UTF-8 ---------------------------------------------------------------------


@pytest.fixture
def odd_python(tmp_path):
    """``<tmp>/caf\\xe9-env/bin/python``: a path whose bytes are not UTF-8, linking to this Python."""
    bindir = os.fsencode(tmp_path) + b"/caf\xe9-env/bin"
    os.makedirs(bindir)
    os.symlink(os.fsencode(sys.executable), bindir + b"/python")
    return os.fsdecode(bindir + b"/python")


def test_a_python_at_a_path_that_is_not_utf8_is_exact_in_json_and_in_fix_commands(tmp_path, odd_python):
    site = FakeEnv(torchvision=None).build(tmp_path / "site")
    env = {**fake_env_vars(site), "LC_ALL": "C.UTF-8"}
    run = subprocess.run(
        [sys.executable, "-m", "tvwizard", "--python", odd_python, "check", "--json"],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    text = run.stdout.decode("utf-8")  # strict: valid UTF-8
    data = json.loads(text)
    assert data["target"]["python"] == odd_python  # the escape reads back as the same bytes
    saved = tmp_path / "a.json"
    saved.write_bytes(run.stdout)
    compared = tvwizard("compare", str(saved), str(saved))
    assert compared.returncode == 0, compared.stderr
    fix = subprocess.run(
        [sys.executable, "-m", "tvwizard", "--python", odd_python, "fix"], capture_output=True, env=env, cwd=tmp_path
    )
    lines = [line for line in fix.stdout.decode("utf-8").splitlines() if "-m pip install torchvision" in line]
    assert lines and "\ufffd" not in lines[0]
    command = lines[0].split("$ ", 1)[1].split(" -m pip")[0]  # the interpreter, as printed
    ran = subprocess.run(["bash", "-c", command + " -c 'import sys; print(sys.version_info[0])'"], capture_output=True)
    assert ran.stdout.strip() == b"3", ran.stderr  # it points at the real path


def test_report_for_a_target_and_working_folder_that_are_not_utf8(tmp_path, odd_python):
    site = FakeEnv().build(tmp_path / "site")
    work = os.fsencode(tmp_path) + b"/work\xff"
    os.mkdir(work)
    run = subprocess.run(
        [sys.executable, "-m", "tvwizard", "--python", odd_python, "report"],
        capture_output=True,
        env={**fake_env_vars(site), "LC_ALL": "C.UTF-8"},
        cwd=work,
        timeout=120,
    )
    assert b"Traceback" not in run.stderr
    assert run.returncode == 0, run.stderr
    with open(work + b"/tvwizard-report.md", "rb") as fh:
        fh.read().decode("utf-8")  # valid UTF-8


async def test_quitting_the_wizard_while_it_probes_exits_0():
    import asyncio

    from test_tui import FakeEngine, build, load, wait_for

    from tvwizard.tui.screens.discovery import DiscoveryScreen

    gate = asyncio.Event()  # never set: the import stays running
    engine = FakeEngine([load("broken")], gate=gate)
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        await wait_for(pilot, lambda: app.screen.states["live"].step == "import_torch", "the import step")
        await pilot.press("q")
    assert app.return_code == 0
    assert engine.cancelled == 1
