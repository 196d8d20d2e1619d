"""SIGTERM and SIGHUP to a running tvwizard, against a real env: nothing is left behind.

A Slurm time limit or ``timeout`` sends SIGTERM, a closed SSH session or ``tmux
kill-session`` SIGHUP.  The probes run in sessions of their own, so only tvwizard can end
them.  Each test signals tvwizard while the real ``import torch`` runs in the live probe,
then asserts that no process of any probe's group and no ``tvwizard-fault-*`` file is left.
Run with ``.venv/bin/pytest -m real tests/real/test_signals_real.py``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import realenvs
from processes import cmdline, descendants, probe_groups, survivors, wait_for

pytestmark = pytest.mark.real

TVWIZARD = Path(sys.executable).parent / "tvwizard"


@pytest.fixture
def healthy() -> str:
    try:
        return str(realenvs.build("healthy") / "bin" / "python")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env healthy unavailable here: {exc}")


def _live_probe_running(pid: int, groups: set[int]) -> bool:
    groups.update(probe_groups(pid))
    return any(" live " in cmdline(g) for g in groups)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_to_check_leaves_no_probe_and_no_temp_file(healthy, tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tvwizard", "--python", healthy, "check"],
        env={**os.environ, "TMPDIR": str(tmp)},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    groups: set[int] = set()
    try:
        wait_for(lambda: _live_probe_running(proc.pid, groups), "the live probe", seconds=60)
        time.sleep(0.5)  # inside `import torch` (seconds long here)
        assert proc.poll() is None, "check ended before the signal; the import was too fast to catch"
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    left = survivors(groups)
    assert not left, f"outlived tvwizard: {left}"
    assert not list(tmp.glob("tvwizard-fault-*"))


# A tmux server of this module's own: other tests' sessions neither disturb nor get hurt.
SOCKET = f"tvwizard-signals-{uuid.uuid4().hex[:8]}"


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, check=True, timeout=20).stdout


def _wizard_pid(pane_shell: int) -> int | None:
    return next((p for p in descendants(pane_shell) if "tvwizard" in cmdline(p) and " -c " not in cmdline(p)), None)


@pytest.mark.tmux
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("how", ["kill-session", "SIGTERM", "terminal gone"])
def test_the_wizard_in_tmux_leaves_no_probe_and_no_temp_file(healthy, tmp_path, how):
    """`tmux kill-session` (SIGHUP to the pane), SIGTERM to the wizard, or its shell killed
    and then the terminal closed under it (Textual's shutdown then waited for ever on the
    dead terminal), mid-probe."""
    assert TVWIZARD.exists(), f"no console script at {TVWIZARD}"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    status = tmp_path / "status"
    session = f"tvwizard-signal-{uuid.uuid4().hex[:8]}"
    command = (
        f"cd {tmp_path} && TMPDIR={tmp} TERM=xterm-256color {TVWIZARD} --python {healthy}; echo $? > {status}; sleep 30"
    )
    _tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32", command)
    groups: set[int] = set()
    try:
        shell = int(_tmux("list-panes", "-t", session, "-F", "#{pane_pid}").split()[0])
        wizard = wait_for(lambda: _wizard_pid(shell), "the wizard's process", seconds=30)
        wait_for(lambda: _live_probe_running(wizard, groups), "the live probe", seconds=60)
        time.sleep(0.5)
        assert any(" live " in cmdline(g) for g in groups)
        if how == "kill-session":
            _tmux("kill-session", "-t", session)
        elif how == "terminal gone":
            os.kill(shell, signal.SIGKILL)  # tmux closes the pane, so the terminal, after it
            time.sleep(0.3)
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True, timeout=20)
        else:
            os.kill(wizard, signal.SIGTERM)
            wait_for(status.exists, "the wizard's exit", seconds=30)
            assert status.read_text().strip() == "143"
        wait_for(lambda: not os.path.exists(f"/proc/{wizard}"), "the wizard to end", seconds=30)
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True, timeout=20)
    left = survivors(groups)
    assert not left, f"outlived the wizard: {left}"
    assert not list(tmp.glob("tvwizard-fault-*"))
