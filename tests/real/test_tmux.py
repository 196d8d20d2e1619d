"""The real ``tvwizard`` in a real terminal (tmux) against a real broken env.

Starts the installed console script in a detached tmux session (120×32 or 100×30), walks the wizard
with send-keys (discovery → findings → fixes) and reads the root cause off the screen
with capture-pane.  Run with ``.venv/bin/pytest -m real tests/real/test_tmux.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real, pytest.mark.tmux]

TVWIZARD = Path(sys.executable).parent / "tvwizard"
ROOT_CAUSE = re.compile(
    r"torchvision 0\.29\.1\+cu130 is a CUDA 13\.0 build made for torch 2\.14\.1; your torch is 2\.13\.0\+cpu"
)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=20).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def flat(text: str) -> str:
    """The screen as one line of words: box characters gone, wrapped lines joined."""
    text = re.sub(r"[│╭╮╰╯─▶▼▏▎▊▔▁▅▆▇█▄]", " ", text)
    return " ".join(text.split())


def start(session: str, command: str, width: int, height: int) -> None:
    """``command`` in a new detached tmux session of ``width``×``height``.

    tmux gives the pane its size a moment after the shell starts; the shell exports the
    80×24 it saw as COLUMNS/LINES, and Textual takes those over the terminal's own size: the
    wizard ran at 80 columns in these tests whatever the window.  So: forget them, wait for
    the real size, then start.
    """
    wait = f'unset COLUMNS LINES; until [ "$(stty size)" = "{height} {width}" ]; do sleep 0.05; done; '
    tmux("new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), wait + command)


def wait_screen(session: str, predicate, what: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = screen(session)
        if predicate(text):
            return text
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")


@pytest.fixture
def broken_env():
    import realenvs

    try:
        return realenvs.build("cpu-torch-cuda-tv")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env unavailable: {exc}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_wizard_in_tmux_shows_the_root_cause(broken_env, tmp_path):
    assert TVWIZARD.exists(), f"no console script at {TVWIZARD}"
    python = Path(broken_env) / "bin" / "python"
    session = f"tvwizard-test-{uuid.uuid4().hex[:8]}"
    command = f"cd {tmp_path} && TERM=xterm-256color {TVWIZARD} --python {python}; echo tvwizard-exit=$?; sleep 30"
    start(session, command, 120, 32)  # the wide layout: the probe table shares the screen with the log
    try:
        # named with --python: examined at once, no target step to pass
        wait_screen(session, lambda s: "Examining" in s and "Probe" in s, "the discovery step", 30)
        done = wait_screen(session, lambda s: "root cause(s) found" in s, "the probes to finish", 240)
        assert "✗" in done
        assert re.search(r"Installed packages +[\d.]+ m?s +\S +torch 2\.13", done), done
        tmux("send-keys", "-t", session, "n")
        findings = wait_screen(session, lambda s: "torchvision is broken here" in s, "the findings step", 30)
        # Select the build-variant root cause; its full title is in the detail pane.
        for _ in range(3):
            if ROOT_CAUSE.search(flat(screen(session))) and "build-variant-mismatch" in screen(session):
                break
            tmux("send-keys", "-t", session, "Down")
            time.sleep(0.5)
        findings = wait_screen(
            session,
            lambda s: ROOT_CAUSE.search(flat(s)) is not None and "build-variant-mismatch" in s,
            "the build-variant-mismatch root cause",
            10,
        )
        assert "What it causes" in findings
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, lambda s: "tvwizard-exit=1" in s, "exit code 1 (problems found)", 15)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_wizard_in_tmux_shows_each_probes_state_in_a_healthy_env(tmp_path):
    """Every probe ✓ and nothing else on the screen changing: the states must still be
    readable beside the log pane.  DataTable widens a column only when it idles, and here
    nothing made it idle: the states stayed cut to the width of the word "State"."""
    import realenvs

    try:
        env = realenvs.build("healthy")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env unavailable: {exc}")
    session = f"tvwizard-test-{uuid.uuid4().hex[:8]}"
    python = Path(env) / "bin" / "python"
    command = f"cd {tmp_path} && TERM=xterm-256color {TVWIZARD} --python {python}; echo tvwizard-exit=$?; sleep 30"
    start(session, command, 120, 32)
    try:
        done = wait_screen(session, lambda s: "torchvision works" in s, "the probes to finish", 240)
        time.sleep(1)
        done = screen(session)
        assert "╭─ Log" in done  # the wide layout: the table shares the width with the log
        row = r" +[\d.]+ m?s +✓ +"
        assert re.search(r"Python interpreter" + row + r"3\.11\.\d+ \(venv\)", done), done
        assert re.search(r"Installed packages" + row + r"torch 2\.14", done), done
        assert re.search(r"Import torch and torchvision, run nms" + row + r"2\.14\.1\+cu130", done), done
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, lambda s: "tvwizard-exit=0" in s, "exit code 0 (works)", 15)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_wizard_in_tmux_applies_a_fix_and_verifies_it(tmp_path):
    """Broken env → findings → fixes → apply (after the dialog) → checked again → fixed.

    On a private hard-linked copy of the torch 2.14.1 + torchvision 0.28.0 env; pip takes
    torchvision 0.29.1 from the local wheels, so no network is needed.
    """
    import realenvs

    try:
        env = realenvs.clone("tv028-on-torch2141", tmp_path / "env")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env unavailable: {exc}")
    work = tmp_path / "work"
    work.mkdir()
    session = f"tvwizard-test-{uuid.uuid4().hex[:8]}"
    command = f"cd {work} && TERM=xterm-256color {TVWIZARD} --python {env}/bin/python; echo tvwizard-exit=$?; sleep 30"
    start(session, command, 100, 30)
    try:
        wait_screen(session, lambda s: "root cause(s) found" in s, "the probes to finish", 240)
        tmux("send-keys", "-t", session, "n")
        wait_screen(session, lambda s: "version-mismatch" in s, "the version-mismatch finding", 30)
        tmux("send-keys", "-t", session, "f")
        fixes = wait_screen(session, lambda s: "Commands" in s, "the fixes step", 30)
        assert "-m pip install --no-deps torchvision==0.29.1" in flat(fixes)  # the path may wrap
        tmux("send-keys", "-t", session, "a")
        dialog = wait_screen(session, lambda s: "Run it (y)" in s, "the confirmation dialog", 15)
        assert "never with sudo" in flat(dialog)
        tmux("send-keys", "-t", session, "y")
        done = wait_screen(session, lambda s: "is gone" in s, "the fix to be applied and verified", 300)
        assert "Successfully installed torchvision-0.29.1" in flat(done)
        assert "version-mismatch is gone" in flat(done) and "torchvision works now" in flat(done)
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, lambda s: "tvwizard-exit=0" in s, "exit code 0 (works)", 15)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=20)
