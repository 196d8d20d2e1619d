"""The probe engine against child programs that misbehave on purpose.

Each test writes a tiny probe module next to a copy of the real probe package (its
``__init__`` and ``_api``), runs it for real in a subprocess, and checks what tvwizard
made of it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import run_probe_sync

from tvwizard.engine.runner import PROBES_DIR
from tvwizard.model import RunStatus


@pytest.fixture
def probes(tmp_path: Path):
    """A probes package with the real channel code; ``add(name, body)`` adds a probe."""
    pkg = tmp_path / "probes"
    pkg.mkdir()
    for name in ("__init__.py", "_api.py"):
        shutil.copy(Path(PROBES_DIR) / name, pkg / name)

    def add(name: str, body: str) -> str:
        (pkg / f"{name}.py").write_text(textwrap.dedent(body))
        return str(pkg)

    return add


def test_ok_probe_sends_data_steps_and_log(probes):
    d = probes(
        "good",
        """
        def run(ctx):
            ctx.log("hello from the probe")
            ctx.fact("early", 1)
            with ctx.step("one") as s:
                s["x"] = 42
            with ctx.step("two") as s:
                raise ValueError("step failed but probe goes on")
            print("stdout line")
            return {"answer": 42}
        """,
    )
    run = run_probe_sync("good", probes_dir=d)
    assert run.status is RunStatus.OK
    assert run.data == {"early": 1, "answer": 42}
    assert [(s.name, s.status) for s in run.steps] == [("one", "ok"), ("two", "error")]
    assert run.step("one").data == {"x": 42}
    assert "step failed but probe goes on" in run.step("two").data["error"]["message"]
    assert ("probe", "hello from the probe") in [(line.stream, line.text) for line in run.log]
    assert ("stdout", "stdout line") in [(line.stream, line.text) for line in run.log]


def test_stdout_noise_cannot_corrupt_the_channel(probes):
    d = probes(
        "noisy",
        """
        import os, sys
        def run(ctx):
            # Libraries print whatever they like, JSON-looking lines included.
            print('{"t": "result", "data": {"forged": true}}')
            os.write(1, b'{"t": "result"}\\n')
            os.write(2, b'{"t": "step", "name": "x", "phase": "start"}\\n')
            return {"real": True}
        """,
    )
    run = run_probe_sync("noisy", probes_dir=d)
    assert run.status is RunStatus.OK
    assert run.data == {"real": True}
    assert run.steps == []


@pytest.mark.parametrize(
    ("code", "sig"),
    [
        ("import ctypes; ctypes.string_at(0)", "SIGSEGV"),
        ("import os; os.abort()", "SIGABRT"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGBUS)", "SIGBUS"),
    ],
)
def test_crash_by_signal_is_named_with_traceback_and_earlier_steps_kept(probes, code, sig):
    d = probes(
        "crash",
        f"""
        def boom():
            {code}

        def run(ctx):
            with ctx.step("before") as s:
                s["ok"] = True
            with ctx.step("dies"):
                boom()
            return {{}}
        """,
    )
    run = run_probe_sync("crash", probes_dir=d)
    assert run.status is RunStatus.CRASHED
    assert run.signal == sig
    assert run.step("before").status == "ok"
    assert run.step("dies").status == "crashed"
    assert "in boom" in run.fault  # faulthandler's Python traceback at the crash


def test_timeout_kills_process_group_and_keeps_what_arrived(probes, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    d = probes(
        "hang",
        f"""
        import subprocess, sys, time
        def run(ctx):
            with ctx.step("fast") as s:
                s["done"] = True
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
            open({str(pidfile)!r}, "w").write(str(child.pid))
            with ctx.step("slow"):
                time.sleep(300)
            return {{}}
        """,
    )
    start = time.monotonic()
    run = run_probe_sync("hang", probes_dir=d, timeout=2)
    assert time.monotonic() - start < 15
    assert run.status is RunStatus.TIMEOUT
    assert run.step("fast").status == "ok"
    assert run.step("slow").status == "timeout"
    assert "time.sleep" in run.fault or "in run" in run.fault  # the dump shows where it hung
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(grandchild, signal.SIGKILL)
        pytest.fail("the probe's grandchild survived the timeout")


def test_flood_of_output_is_bounded(probes):
    d = probes(
        "flood",
        """
        import sys
        def run(ctx):
            for i in range(100000):
                print("line %d" % i)
            sys.stdout.write("x" * 5000000 + "\\n")   # one 5 MB line
            sys.stdout.flush()
            return {"survived": True}
        """,
    )
    run = run_probe_sync("flood", probes_dir=d)
    assert run.status is RunStatus.OK and run.data == {"survived": True}
    assert len(run.log) < 3000
    assert run.log_dropped > 0
    assert any("log lines not kept" in line.text for line in run.log)
    longest = max(len(line.text) for line in run.log)
    assert longest < 5000
    assert any("more bytes on this line" in line.text for line in run.log)
    assert run.log[-1].text.startswith("x")  # the tail is kept


def test_invalid_utf8_everywhere_is_survived(probes):
    d = probes(
        "badbytes",
        """
        import os
        def run(ctx):
            os.write(1, b"bad \\xff\\xfe bytes\\n")
            os.write(2, b"\\x80\\x81 on stderr\\n")
            name = os.fsdecode(b"caf\\xe9")           # a surrogate-escaped path
            ctx.log("path " + name)
            return {"path": name}
        """,
    )
    run = run_probe_sync("badbytes", probes_dir=d)
    assert run.status is RunStatus.OK
    assert run.data["path"] == "caf\ufffd"
    texts = [line.text for line in run.log]
    assert "bad \ufffd\ufffd bytes" in texts
    assert "\ufffd\ufffd on stderr" in texts
    assert "path caf\ufffd" in texts


def test_exit_before_result_is_failed_with_stderr(probes):
    d = probes(
        "early",
        """
        import sys
        def run(ctx):
            sys.stderr.write("fatal: something broke\\n")
            sys.stderr.flush()
            import os; os._exit(7)
        """,
    )
    run = run_probe_sync("early", probes_dir=d)
    assert run.status is RunStatus.FAILED
    assert run.returncode == 7
    assert "fatal: something broke" in run.error


def test_probe_exception_is_failed_with_traceback(probes):
    d = probes("raises", "def run(ctx):\n    raise KeyError('nope')\n")
    run = run_probe_sync("raises", probes_dir=d)
    assert run.status is RunStatus.FAILED
    assert "KeyError" in run.error and "nope" in run.fault


def test_missing_interpreter_is_error_not_exception(probes):
    d = probes("good", "def run(ctx):\n    return {}\n")
    run = run_probe_sync("good", "/nonexistent/python", probes_dir=d)
    assert run.status is RunStatus.ERROR
    assert "could not start" in run.error


def test_probe_runs_like_python_c_in_the_users_folder(probes, tmp_path):
    """sys.path[0] is the working folder, env vars pass through: a user's shadowing file shadows."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "shadowme.py").write_text("WHO = 'the working folder'\n")
    d = probes(
        "where",
        """
        import os, sys
        def run(ctx):
            import shadowme
            return {"path0": sys.path[0], "cwd": os.getcwd(), "who": shadowme.WHO,
                    "env": os.environ.get("TVW_TEST_VAR"), "argv": sys.argv}
        """,
    )
    run = run_probe_sync("where", cwd=work, env={**os.environ, "TVW_TEST_VAR": "kept"}, probes_dir=d)
    assert run.status is RunStatus.OK, run.error
    assert run.data["path0"] == ""
    assert run.data["cwd"] == str(work)
    assert run.data["who"] == "the working folder"
    assert run.data["env"] == "kept"
    assert run.data["argv"] == ["-c"]


def test_old_python_fails_clearly(probes):
    from conftest import pyenv_python

    py27 = pyenv_python("2.7")
    if py27 is None:
        pytest.skip("no Python 2.7 under pyenv here")
    d = probes("good", "def run(ctx):\n    return {}\n")
    run = run_probe_sync("good", py27, probes_dir=d)
    assert run.status is RunStatus.FAILED
    assert "probes need Python 3.8 or newer" in run.error


def test_probes_run_on_python38(probes, py38):
    d = probes("good", "def run(ctx):\n    with ctx.step('s') as s:\n        s['v'] = 1\n    return {'ok': 1}\n")
    run = run_probe_sync("good", py38, probes_dir=d)
    assert run.status is RunStatus.OK, run.error
    assert run.data == {"ok": 1}


def test_concurrent_probes_keep_registry_order(probes, tmp_path):
    import asyncio

    from tvwizard.engine.runner import ProbeSpec
    from tvwizard.engine.session import SessionOptions, run_session
    from tvwizard.target import resolve_target

    d = probes("slow", "import time\ndef run(ctx):\n    time.sleep(0.6)\n    return {'n': 'slow'}\n")
    probes("quick", "def run(ctx):\n    return {'n': 'quick'}\n")
    specs = [ProbeSpec("slow", "Slow", "slow"), ProbeSpec("quick", "Quick", "quick")]
    target = resolve_target(sys.executable, cwd=str(tmp_path))
    start = time.monotonic()
    report = asyncio.run(
        run_session(target, SessionOptions(probes=specs, probes_dir=d, collect_host=False, cwd=str(tmp_path)))
    )
    assert [p.name for p in report.probes] == ["slow", "quick"]
    assert [p.data["n"] for p in report.probes] == ["slow", "quick"]
    quick = report.probe("quick")
    assert quick.started < 0.5 and time.monotonic() - start < 5  # ran beside the slow one


def test_tracebacks_start_at_the_probed_code(probes, tmp_path):
    """Users read the import's traceback; tvwizard's own probe frames are left out of it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "broken_pkg.py").write_text("raise RuntimeError('the real error')\n")
    d = probes(
        "imports",
        """
        def run(ctx):
            with ctx.step("import") as s:
                import broken_pkg  # noqa
            return {}
        """,
    )
    run = run_probe_sync("imports", cwd=work, probes_dir=d)
    tb = run.step("import").data["error"]["traceback"]
    assert "broken_pkg.py" in tb and "the real error" in tb
    assert "imports.py" not in tb and "_api.py" not in tb


def test_a_step_past_its_own_limit_ends_the_probe_early(probes):
    """A hung CUDA call must not cost the whole probe budget: its step has its own limit."""
    import asyncio

    from tvwizard.engine.runner import ProbeSpec, run_probe

    d = probes(
        "stephang",
        """
        import time
        def run(ctx):
            for i in range(3):  # each within the limit, together past it: no timeout
                with ctx.step("slow_op:%d" % i):
                    time.sleep(0.6)
            with ctx.step("slow_op:3"):
                time.sleep(300)
            return {}
        """,
    )
    spec = ProbeSpec("stephang", "t", "stephang", timeout=120, step_timeouts={"slow_op": 1.0})
    start = time.monotonic()
    run = asyncio.run(run_probe(spec, sys.executable, probes_dir=d))
    assert time.monotonic() - start < 20
    assert run.status is RunStatus.TIMEOUT
    assert [s.status for s in run.steps] == ["ok", "ok", "ok", "timeout"]
    assert run.error == "no answer after 1 s in step slow_op:3; the probe was killed"
    assert "time.sleep" in run.fault or "in run" in run.fault  # the dump shows where


def test_session_goes_on_after_a_hung_cuda_step(probes, tmp_path):
    """The live probe's "cuda" step hangs: it times out alone, and nms_cpu still runs."""
    import asyncio

    from tvwizard.engine.runner import ProbeSpec
    from tvwizard.engine.session import SessionOptions, run_session
    from tvwizard.target import resolve_target

    d = probes(
        "fakelive",
        """
        import time
        def run(ctx):
            skip = set(ctx.options.get("skip") or ())
            for name in ("extensions", "cuda", "nms_cpu"):
                if name in skip:
                    ctx.skip(name, "skipped after it hung")
                    continue
                with ctx.step(name) as d:
                    if name == "cuda":
                        time.sleep(300)
                    d["correct"] = True
            return {}
        """,
    )
    spec = ProbeSpec("live", "Live", "fakelive", timeout=120, live=True, step_timeouts={"cuda": 1.5})
    from tvwizard.engine.events import ProbeFinished

    target = resolve_target(sys.executable, cwd=str(tmp_path))
    finished: list = []
    start = time.monotonic()
    report = asyncio.run(
        run_session(
            target,
            SessionOptions(probes=[spec], probes_dir=d, collect_host=False, cwd=str(tmp_path)),
            lambda e: finished.append(e.run) if isinstance(e, ProbeFinished) else None,
        )
    )
    assert time.monotonic() - start < 30
    live = report.probe("live")
    assert {s.name: s.status for s in live.steps} == {"extensions": "ok", "cuda": "timeout", "nms_cpu": "ok"}
    assert live.data["skipped_after_crash"] == ["cuda"]
    # the first run ends, then the merged one: the re-run alone never reads as the probe finishing "ok"
    assert [r.status for r in finished] == [RunStatus.TIMEOUT, RunStatus.TIMEOUT]
    assert len(finished[-1].steps) == 3


def test_a_hung_call_that_returns_when_dumped_is_still_the_hang(probes):
    """The thread dump (SIGUSR1) wakes a blocking C call, as it woke a sleeping cuInit in a real
    run: what the step reports after that is the interruption's doing, not an answer."""
    import asyncio

    from tvwizard.engine.runner import ProbeSpec, run_probe

    d = probes(
        "wakes",
        """
        import ctypes
        def run(ctx):
            with ctx.step("cuda") as d:
                ctypes.CDLL(None).sleep(300)  # C sleep(): a signal ends it early
                d["error"] = {"type": "RuntimeError", "message": "Error 500: named symbol not found"}
            with ctx.step("nms_cpu") as d:
                d["correct"] = True
            return {"finished": True}
        """,
    )
    spec = ProbeSpec("wakes", "t", "wakes", timeout=120, step_timeouts={"cuda": 1.0})
    run = asyncio.run(run_probe(spec, sys.executable, probes_dir=d))
    assert run.status is RunStatus.TIMEOUT
    assert [(s.name, s.status) for s in run.steps] == [("cuda", "timeout")]
    assert "Error 500" not in str(run.step("cuda").data) and "finished" not in run.data


_SESSION_THAT_FAILS = """
import asyncio, sys
import psutil
from tvwizard.engine.events import ProbeStarted
from tvwizard.engine.session import SessionOptions, run_session
from tvwizard.target import resolve_target

where = sys.argv[1]

def boom(*_a, **_k):
    raise RuntimeError("boom")

def on_event(ev):
    if where == "event" and isinstance(ev, ProbeStarted) and ev.probe != "live":
        boom()

if where == "evidence":  # fails in the session itself, while the live probe's process starts
    import tvwizard.facts.evidence as evidence
    evidence.Evidence = boom
try:
    asyncio.run(run_session(resolve_target(sys.executable), SessionOptions(collect_host=False), on_event))
except RuntimeError as exc:
    left = psutil.Process().children(recursive=True)
    print("raised", exc, "children left", len(left))
"""


@pytest.mark.parametrize("where", ["evidence", "event"])
def test_an_error_inside_the_session_ends_it_and_its_probes(tmp_path, where):
    """An exception while probes are starting surfaces at once, their processes gone.

    It hung for good on Python 3.11+: asyncio.run's teardown cancelled asyncio's own
    pipe-connecting task too, and a process whose pipes never connected is never "done".
    """
    import subprocess

    try:
        proc = subprocess.run(
            [sys.executable, "-c", _SESSION_THAT_FAILS, where],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the session hung after an error instead of raising it")
    assert proc.stdout.strip() == "raised boom children left 0", proc.stderr
