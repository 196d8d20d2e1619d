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

import pytest
from fakes import FakeEnv, fake_env_vars, live_probe

from tvwizard.target import TargetError, resolve_target

MB = 1024 * 1024


def tvwizard(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "tvwizard", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


def peak_rss_of(argv: list[str], env: dict[str, str] | None = None, timeout: float = 120) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of ``argv``, measured by a parent of its own
    (RUSAGE_CHILDREN of a fresh process counts that one run and what it waited for)."""
    meter = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL).returncode\n"
        "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", meter, *argv], capture_output=True, text=True, env=env, timeout=timeout)
    rc, rss = out.stdout.split()
    return int(rc), int(rss)


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + textwrap.dedent(body).lstrip("\n"))
    path.chmod(0o755)
    return path


def sitecustomize(site: Path, body: str) -> None:
    (site / "sitecustomize.py").write_text(textwrap.dedent(body).lstrip("\n"))


def wait_gone(pids: list[int], seconds: float = 5.0) -> list[int]:
    """The pids of ``pids`` still alive after ``seconds`` (zombies count as gone)."""
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# -- output without end ---------------------------------------------------------------------


def test_a_target_that_streams_for_ever_keeps_tvwizard_small(tmp_path):
    """`yes` as the interpreter: the query is cut at --timeout, and what it kept is bounded."""
    flood = script(tmp_path / "python", "exec yes 'a line that never ends, again and again'")
    start = time.monotonic()
    rc, rss = peak_rss_of([sys.executable, "-m", "tvwizard", "--python", str(flood), "--timeout", "3", "check"])
    assert rc == 2
    assert time.monotonic() - start < 30
    assert rss < 150 * MB, f"tvwizard grew to {rss // MB} MB on a flooding target"


def test_the_query_keeps_only_the_start_of_a_flood(tmp_path):
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
        _kill_all([int(x) for x in pids.read_text().split()])


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
