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
        done = wait_screen(session, lambda s: "n shows them and their fixes" in s, "the probes to finish", 240)
        assert "✗" in done
        assert re.search(r"Installed packages +[\d.]+ m?s +\S +torch 2\.13", done), done
        tmux("send-keys", "-t", session, "n")
        wait_screen(session, lambda s: "torchvision is broken here" in s, "the findings step", 30)
        # one root cause, preselected: its full title is in the detail pane
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
    readable.  DataTable widens a column only when it idles, and here
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
        assert "╭─ Log" in done
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
        wait_screen(session, lambda s: "n shows them and their fixes" in s, "the probes to finish", 240)
        tmux("send-keys", "-t", session, "n")
        wait_screen(session, lambda s: "version-mismatch" in s, "the version-mismatch finding", 30)
        tmux("send-keys", "-t", session, "f")
        wait_screen(session, lambda s: "Commands" in s, "the fixes step", 30)
        tmux("send-keys", "-t", session, "a")
        dialog = wait_screen(session, lambda s: "Run it (y)" in s, "the confirmation dialog", 15)
        assert "never with sudo" in flat(dialog)
        assert "-m pip install --no-deps torchvision==0.29.1" in flat(dialog)  # the path may wrap
        tmux("send-keys", "-t", session, "y")
        done = wait_screen(session, lambda s: "is gone" in s, "the fix to be applied and verified", 300)
        assert "Successfully installed torchvision-0.29.1" in flat(done)
        assert "version-mismatch is gone" in flat(done) and "torchvision works now" in flat(done)
        tmux("send-keys", "-t", session, "q")
        wait_screen(session, lambda s: "tvwizard-exit=0" in s, "exit code 0 (works)", 15)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=20)


# -- the goals of issue 17, counted in keys from launch, with the broken env activated ----------


def activated(env: Path) -> str:
    """What `source env/bin/activate` does that tvwizard reads: VIRTUAL_ENV and PATH."""
    return f"export VIRTUAL_ENV={env} PATH={env}/bin:$PATH; unset PYTHONHOME; "


class Keys:
    """send-keys that counts: the goals are in keys."""

    def __init__(self, session: str) -> None:
        self.session = session
        self.count = 0

    def press(self, *keys: str) -> None:
        for key in keys:
            tmux("send-keys", "-t", self.session, key)
            self.count += 1
            time.sleep(0.3)


def launch(env: Path, work: Path, width: int, height: int, extra: str = "") -> tuple[str, Keys]:
    session = f"tvwizard-test-{uuid.uuid4().hex[:8]}"
    command = f"cd {work} && {activated(env)}TERM=xterm-256color {extra} {TVWIZARD}; echo tvwizard-exit=$?; sleep 30"
    start(session, command, width, height)
    return session, Keys(session)


def kill(session: str) -> None:
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=20)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_goal_root_cause_on_screen_with_zero_keys(broken_env, tmp_path):
    """The activated env is examined at launch: the root cause is on the first screen, no key pressed."""
    session, keys = launch(Path(broken_env), tmp_path, 120, 40)
    try:
        done = wait_screen(session, lambda s: ROOT_CAUSE.search(flat(s)) is not None, "the root cause", 240)
        assert keys.count == 0
        assert "active virtualenv (VIRTUAL_ENV)" in flat(done)
        # one fact, one root cause (version-mismatch is folded under the build variant)
        wait_screen(session, lambda s: "broken here: 1 root cause." in flat(s), "the verdict", 240)
    finally:
        kill(session)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_goal_fix_copied_in_three_keys(broken_env, tmp_path):
    """n (findings), n (the root cause's fixes), c: the command is in tmux's paste buffer."""
    session, keys = launch(Path(broken_env), tmp_path, 100, 30)
    try:
        wait_screen(session, lambda s: "n shows them and their fixes" in s, "the probes to finish", 240)
        keys.press("n")
        wait_screen(session, lambda s: "broken here" in s, "the findings", 30)
        keys.press("n")
        wait_screen(session, lambda s: "Commands" in s, "the fixes", 30)
        keys.press("c")
        status = wait_screen(session, lambda s: "OSC 52" in s, "the copy", 15)
        assert keys.count <= 3
        assert "tmux load-buffer" in flat(status)  # honest: where it went
        buffer = tmux("show-buffer")
        assert buffer.startswith(f"{broken_env}/bin/python -m pip install --no-deps torchvision==0.28.0+cpu")
        keys.press("q")
        wait_screen(session, lambda s: "tvwizard-exit=1" in s, "exit code 1 (problems found)", 15)
    finally:
        kill(session)


def _apply_first_fix(tmp_path: Path) -> tuple[str, Keys, Path]:
    """On a private copy of the torch 2.14.1 + torchvision 0.28.0 env (pip takes 0.29.1 from the
    local wheels): launch activated, n n a y; returns once the check after the fix is done."""
    import realenvs

    try:
        env = realenvs.clone("tv028-on-torch2141", tmp_path / "env")
    except realenvs.Unavailable as exc:
        pytest.skip(f"real env unavailable: {exc}")
    work = tmp_path / "work"
    work.mkdir()
    session, keys = launch(Path(env), work, 100, 30)
    wait_screen(session, lambda s: "n shows them and their fixes" in s, "the probes to finish", 240)
    keys.press("n")
    wait_screen(session, lambda s: "version-mismatch" in s, "the findings", 30)
    keys.press("n")
    wait_screen(session, lambda s: "Commands" in s, "the fixes", 30)
    keys.press("a")
    wait_screen(session, lambda s: "Run it (y)" in s, "the confirmation", 15)
    keys.press("y")
    wait_screen(session, lambda s: "is gone" in s, "the fix to be applied and verified", 300)
    return session, keys, work


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_goal_fix_applied_and_verified_in_five_keys(tmp_path):
    session, keys, _work = _apply_first_fix(tmp_path)
    try:
        done = flat(screen(session))
        assert keys.count <= 5, keys.count
        assert "version-mismatch is gone" in done and "torchvision works now" in done
        keys.press("q")
        wait_screen(session, lambda s: "tvwizard-exit=0" in s, "exit code 0 (works)", 15)
    finally:
        kill(session)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_goal_report_with_the_applied_fix_exported_in_seven_keys(tmp_path):
    session, keys, work = _apply_first_fix(tmp_path)
    try:
        keys.press("n")
        wait_screen(session, lambda s: "Preview" in s, "the report step", 30)
        keys.press("e")
        wait_screen(session, lambda s: "Export the report" in s, "the export dialog", 15)
        keys.press("Enter")
        wait_screen(session, lambda s: "Written to" in s, "the report written", 15)
        assert keys.count <= 7, keys.count
        report = (work / "tvwizard-report.md").read_text()
        changed = report[report.index("## What was changed") :]
        assert "pip install --no-deps torchvision==0.29.1" in changed
        assert "ok; finding gone" in changed and "broken → works" in changed
    finally:
        kill(session)


def _styles_of(line: str) -> set[str]:
    """The SGR parameters used on a captured line (capture-pane -e)."""
    return {p for seq in re.findall(r"\x1b\[([0-9;]*)m", line) for p in seq.split(";")}


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_no_color_at_80x24_errors_stand_out(broken_env, tmp_path):
    """NO_COLOR: the verdict and the root cause are on screen, whole, and bold/reverse, never dim."""
    session, _keys = launch(Path(broken_env), tmp_path, 80, 24, "NO_COLOR=1")
    try:
        wait_screen(session, lambda s: "n shows them and their fixes" in s, "the verdict", 240)
        time.sleep(1)
        text = screen(session)
        assert "✗ torchvision is broken here: 1 root cause." in text
        assert ROOT_CAUSE.search(flat(text)), text
        colour = tmux("capture-pane", "-p", "-e", "-t", session)
        verdict = next(line for line in colour.splitlines() if "broken here" in line)
        styles = _styles_of(verdict.split("broken here")[0])
        assert {"1", "7"} <= styles and "2" not in styles, verdict  # bold reverse, not dim
        cause = next(line for line in colour.splitlines() if "is a CUDA 13.0 build" in line)
        assert "2" not in _styles_of(cause), cause
    finally:
        kill(session)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_lang_c_at_80x24_is_ascii(broken_env, tmp_path):
    """LANG=C: ASCII marks and borders; the verdict and the root cause on screen."""
    session, _keys = launch(Path(broken_env), tmp_path, 80, 24, "LC_ALL= LC_CTYPE= LANG=C")
    try:
        wait_screen(session, lambda s: "n shows them and their fixes" in s, "the verdict", 240)
        time.sleep(1)
        text = screen(session)
        assert "X torchvision is broken here: 1 root cause." in text
        assert ROOT_CAUSE.search(flat(text)), text
        assert not set("✓✗•↳…▶■●›━") & set(text), text  # tvwizard's marks and the progress bar
        assert "+--" in text or "+-" in text  # ASCII box lines
    finally:
        kill(session)
