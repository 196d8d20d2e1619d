"""The wizard, driven with Pilot against fake engines that replay real (captured) reports.

The reports in ``data/`` were captured with ``tvwizard check --json`` from the real test
envs (``cpu-torch-cuda-tv``: broken; ``healthy``: works), with home paths rewritten.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import textwrap
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Log, OptionList, Static, TextArea, Tree

from tvwizard.engine.events import FindingsUpdated, ProbeFinished, ProbeLog, ProbeStarted, ProbeStep
from tvwizard.envs import EnvCandidate
from tvwizard.fixes.apply import ApplyResult, FixRefused, check_runnable
from tvwizard.model import Fact, Finding, Fix, LogLine, Report, Severity, Target
from tvwizard.report.redact import Redactor
from tvwizard.target import TargetError
from tvwizard.tui.app import WizardApp, make_app
from tvwizard.tui.screens.apply import ApplyScreen
from tvwizard.tui.screens.dialogs import OverwriteDialog
from tvwizard.tui.screens.discovery import DiscoveryScreen
from tvwizard.tui.screens.findings import FindingsScreen
from tvwizard.tui.screens.fixes import CommandBlock, FixScreen
from tvwizard.tui.screens.help import HelpScreen
from tvwizard.tui.screens.report import ReportScreen
from tvwizard.tui.screens.target import TargetScreen

DATA = Path(__file__).parent / "data"
PROBES = [
    ("interpreter", "Python interpreter"),
    ("distributions", "Installed packages"),
    ("resolution", "Where imports come from"),
    ("native", "Native libraries"),
    ("envvars", "Environment variables"),
    ("toolchain", "Compilers and CUDA toolkit"),
    ("live", "Import torch and torchvision, run nms"),
]


def load(name: str) -> Report:
    return Report.from_dict(json.loads((DATA / f"report-{name}.json").read_text()))


BROKEN_PY = "/home/alice/.cache/tvwizard/test-envs/cpu-torch-cuda-tv/bin/python"


@dataclass
class FakeEngine:
    """Replays reports as a session would: static probes first, then the slow import.

    ``gate``: while not set, the live probe stays "running" inside its first step.
    ``reports``: what each call returns, in turn (the last one repeats).
    """

    reports: list[Report]
    gate: asyncio.Event | None = None
    calls: int = 0
    cancelled: int = 0
    reruns: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    apply_ok: bool = True
    targets: list[str | None] = field(default_factory=list)

    def next_report(self) -> Report:
        report = self.reports[min(self.calls, len(self.reports) - 1)]
        self.calls += 1
        return report

    async def run_session(self, target: Target, on_event) -> Report:
        report = self.next_report()
        try:
            await self._replay(report, on_event)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return report

    async def _replay(self, report: Report, on_event) -> None:
        static = [p for p in report.probes if p.name != "live"]
        live = report.probe("live")
        on_event(ProbeStarted("live"))
        for p in static:
            on_event(ProbeStarted(p.name))
        for p in static:
            for s in p.steps:
                on_event(ProbeStep(p.name, s.name, "start", None))
                on_event(ProbeStep(p.name, s.name, "end", s))
            on_event(ProbeFinished(p.name, p))
        early = tuple(f for f in report.findings if f.id != "import-failed")  # as the real engine
        on_event(FindingsUpdated(early, False))
        await asyncio.sleep(0)
        for i, s in enumerate(live.steps):
            on_event(ProbeStep("live", s.name, "start", None))
            if i == 0:
                on_event(ProbeLog("live", LogLine("stderr", "UserWarning: a line the import printed")))
                if self.gate is not None:
                    await self.gate.wait()
            on_event(ProbeStep("live", s.name, "end", s))
        on_event(ProbeFinished("live", live))
        on_event(FindingsUpdated(tuple(report.findings), True))

    async def rerun_probe(self, target: Target, name: str, previous: Report, on_event) -> Report:
        self.reruns.append(name)
        run = previous.probe(name)
        on_event(ProbeStarted(name))
        on_event(ProbeLog(name, LogLine("stdout", f"re-run of {name}")))
        on_event(ProbeFinished(name, run))
        return previous

    async def apply_fix(self, fix: Fix, python: str, on_line) -> ApplyResult:
        self.applied.append(fix.id)
        for argv in fix.argv:
            on_line("$ " + " ".join(argv))
        on_line("Successfully installed torchvision-0.28.0+cpu")
        return ApplyResult(self.apply_ok, 0 if self.apply_ok else 1)

    def resolve(self, python: str | None) -> Target:
        self.targets.append(python)
        if python and "missing" in python:
            raise TargetError(f"{python}: no such file")
        return self.reports[0].target


CANDIDATES = [
    EnvCandidate(
        python="/home/alice/proj/.venv/bin/python",
        prefix="/home/alice/proj/.venv",
        kind="venv",
        name=".venv",
        source="working folder",
        version="3.11.7",
    ),
    EnvCandidate(
        python="/home/alice/miniconda3/envs/nb/bin/python",
        prefix="/home/alice/miniconda3/envs/nb",
        kind="conda",
        name="nb",
        source="conda",
        version="3.10.13",
        kernels=("Python (nb)",),
    ),
]


def build(engine: FakeEngine, **kw) -> WizardApp:
    args = dict(
        resolve_target=engine.resolve,
        run_session=engine.run_session,
        rerun_probe=engine.rerun_probe,
        apply_fix=engine.apply_fix,
        discover_envs=lambda: list(CANDIDATES),
        clock=lambda: 100.0,
        probes=PROBES,
        preselected=(BROKEN_PY, "--python"),
        limits={"live": 180.0},
        unicode=True,  # not this process's locale: tests draw the same everywhere
        examine_now=False,  # not this process's VIRTUAL_ENV either
        cwd="/home/alice/proj",
        environ={"SHELL": "/bin/bash", "HOME": "/home/alice"},
        redactor=Redactor(home="/home/alice", user="alice", host="gpubox"),
    )
    args.update(kw)
    return make_app(**args)


async def wait_for(pilot, predicate, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def to_findings(pilot, app: WizardApp) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, TargetScreen), "the target step")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
    await wait_for(pilot, lambda: app.state.report is not None and not app.screen.running, "the report")
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), "the findings")


class EnvEngine(FakeEngine):
    """A FakeEngine whose sessions take the environment an env-var fix describes (kept in ``envs``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.envs: list[dict | None] = []

    async def run_session(self, target, on_event, env=None):
        self.envs.append(env)
        return await super().run_session(target, on_event)


async def apply_first_fix(pilot, app: WizardApp):
    """Findings → the first finding's fixes → a (apply); returns the apply step once it is done."""
    from tvwizard.tui.screens.apply import ApplyScreen

    await to_findings(pilot, app)
    await pilot.press("f")
    await pilot.pause()
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen) and app.screen.phase == "done", "the check")
    return app.screen


def commands_of(screen) -> str:
    """The fix step's commands, one block each, as lines."""
    return "\n".join(block.command for block in screen.query(CommandBlock))


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (Rich renderables rendered wide, no wrapping)."""
    from rich.console import Console

    content = widget.content
    if isinstance(content, str):
        return content
    console = Console(width=400, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()


# -- step 1: target ---------------------------------------------------------------------------


async def test_target_step_lists_preselected_then_discovered_envs():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#envs", OptionList).option_count == 3, "envs")
        ol = app.screen.query_one("#envs", OptionList)
        prompts = [str(ol.get_option_at_index(i).prompt) for i in range(3)]
        assert "cpu-torch-cuda-tv/bin/python" in prompts[0] and "--python" in prompts[0]
        assert ".venv" in prompts[1]
        assert 'kernel "Python (nb)"' in prompts[2]
        assert ol.highlighted == 0


async def test_target_choose_other_env_and_path_entry_errors():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#envs", OptionList).option_count == 3, "envs")
        # a typed path that does not work: the message stays on this step
        await pilot.press("slash")
        assert app.screen.query_one("#path", Input).has_focus
        await pilot.press(*"/nope/missing/python", "enter")
        await wait_for(pilot, lambda: "no such file" in text_of(app.screen.query_one("#target-status")), "error")
        assert isinstance(app.screen, TargetScreen)
        assert app.exit_code() == 2  # quitting now: unusable target
        # pick the notebook's env from the list instead
        app.screen.query_one("#envs", OptionList).focus()
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        assert engine.targets[-1] == "/home/alice/miniconda3/envs/nb/bin/python"
        assert "Jupyter kernel Python (nb)" in app.state.target.how_chosen


async def test_python_named_on_the_command_line_is_examined_at_once():
    """`tvwizard --python X`: the user already chose; the list is one step back."""
    engine = FakeEngine([load("broken")])
    app = build(engine, examine_now=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery without a key")
        assert engine.targets == [BROKEN_PY]
        await wait_for(pilot, lambda: app.state.report is not None and not app.screen.running, "the report")
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, TargetScreen), "the target step, one step back")
        await wait_for(pilot, lambda: app.screen.query_one("#envs", OptionList).option_count == 3, "envs")
        assert engine.targets == [BROKEN_PY]  # coming back does not examine it again


async def test_python_named_on_the_command_line_that_is_unusable_stays_on_the_target_step():
    engine = FakeEngine([load("broken")])
    app = build(engine, examine_now=True, preselected=("/nope/missing/python", "--python"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "no such file" in text_of(app.screen.query_one("#target-status")), "error")
        assert isinstance(app.screen, TargetScreen)
        assert app.exit_code() == 2


async def test_preselected_default_is_resolved_as_default():
    engine = FakeEngine([load("broken")])
    app = build(engine, preselected=("/usr/bin/python3", "python3 on PATH"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        assert engine.targets == [None]  # resolve_target(None): the report says how it was chosen


# -- step 2: discovery ------------------------------------------------------------------------


async def test_discovery_shows_live_states_early_findings_and_log():
    gate = asyncio.Event()
    engine = FakeEngine([load("broken")], gate=gate)
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        screen = app.screen
        await wait_for(pilot, lambda: screen.states["live"].step == "import_torch", "the import step")
        # static probes done, the slow one still running
        assert screen.states["native"].phase == "done"
        assert screen.states["native"].outcome == "error"
        assert screen.states["live"].phase == "running"
        table = screen.query_one("#probes", DataTable)
        assert "running" in str(table.get_cell("live", "state"))
        assert "import torch" in str(table.get_cell("live", "state"))
        assert screen.query_one("#progress").progress == 6
        early = text_of(screen.query_one("#early"))
        assert "Found so far" in early and "your torch is 2.13.0+cpu" in early
        # the log pane follows the selected probe (live is selected first), as it arrives
        log = screen.query_one("#log", Log)
        assert "UserWarning: a line the import printed" in log.lines
        assert app.state.report is None
        # the wait is shown with its limit and the way out
        assert "import torch: 0 s of 180 s; c cancels" in early
        # n while the import runs: the findings so far, which follow the run to its end
        await pilot.press("n")
        assert isinstance(app.screen, FindingsScreen)
        assert "Still checking" in text_of(app.screen.query_one("#verdict"))
        assert "your torch is 2.13.0+cpu" in text_of(app.screen.query_one("#detail"))
        assert app.screen.check_action("report", ()) is False  # no report before the verdict
        gate.set()
        await wait_for(pilot, lambda: app.state.report is not None, "the report")
        await wait_for(
            pilot, lambda: "broken here" in text_of(app.screen.query_one("#verdict")), "the findings to follow"
        )
        await pilot.press("b")
        assert app.screen is screen
        await pilot.pause()
        assert screen.states["live"].outcome == "error"
        assert "import torchvision" in screen.states["live"].summary
        assert screen.states["interpreter"].outcome == "ok"
        assert screen.query_one("#progress").progress == 7
        # one count everywhere: the findings step says the same
        assert "2 root causes" in text_of(screen.query_one("#early"))
        # the log ends with the conclusion's lines for the probe: the checklist's words
        assert "  ✗ second import: operator torchvision::nms does not exist" in "\n".join(log.lines) or any(
            line.startswith("  ✗ Second import") for line in log.lines
        )
        assert not any("second import: ok" in line for line in log.lines)
        # choosing another probe shows its log
        await pilot.press("up")
        assert screen.selected == "toolchain"
        assert "→ which" in log.lines and log.border_title == "Log · Compilers and CUDA toolkit"


async def test_cancel_and_restart_discovery():
    gate = asyncio.Event()
    engine = FakeEngine([load("broken")], gate=gate)
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        screen = app.screen
        await wait_for(pilot, lambda: screen.states["live"].phase == "running" and screen.running, "running")
        await pilot.press("c")
        await wait_for(pilot, lambda: engine.cancelled == 1, "the session to be cancelled")
        await wait_for(pilot, lambda: not screen.running, "the worker to stop")
        assert screen.states["live"].outcome == "cancelled"
        assert "Cancelled" in text_of(screen.query_one("#early"))
        assert app.state.report is None
        gate.set()
        await pilot.press("a")  # run all again
        await wait_for(pilot, lambda: app.state.report is not None, "the second run")
        assert engine.calls == 2
        assert screen.states["live"].outcome == "error"


async def test_leaving_discovery_cancels_the_session():
    engine = FakeEngine([load("broken")], gate=asyncio.Event())
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        await wait_for(pilot, lambda: app.screen.running, "running")
        await pilot.press("b")
        await wait_for(pilot, lambda: engine.cancelled == 1, "cancellation")
        assert isinstance(app.screen, TargetScreen)


async def test_rerun_one_probe():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
        screen = app.screen
        await wait_for(pilot, lambda: app.state.report is not None and not screen.running, "report")
        await pilot.press("up", "up", "up")  # live → native
        assert screen.selected == "native"
        await pilot.press("r")
        await wait_for(pilot, lambda: engine.reruns == ["native"] and not screen.running, "the re-run")
        assert "re-run of native" in screen.query_one("#log", Log).lines
        assert screen.states["native"].outcome == "error"
        assert engine.calls == 1  # only that probe ran again


async def test_leaving_discovery_kills_real_probe_processes(tmp_path):
    """The real engine: a probe that hangs is killed when the user goes Back."""
    import shutil

    from tvwizard.engine.runner import PROBES_DIR, ProbeSpec
    from tvwizard.engine.session import SessionOptions, run_session
    from tvwizard.target import resolve_target

    pkg = tmp_path / "probes"
    pkg.mkdir()
    for name in ("__init__.py", "_api.py"):
        shutil.copy(Path(PROBES_DIR) / name, pkg / name)
    pidfile = tmp_path / "pid"
    (pkg / "hang.py").write_text(
        textwrap.dedent(f"""
        import os, time
        def run(ctx):
            open({str(pidfile)!r}, "w").write(str(os.getpid()))
            with ctx.step("forever"):
                time.sleep(300)
            return {{}}
    """)
    )
    spec = ProbeSpec("live", "Hangs", "hang", timeout=120, live=True)

    async def session(target, on_event):
        opts = SessionOptions(probes=[spec], probes_dir=str(pkg), collect_host=False, cwd=str(tmp_path))
        return await run_session(target, opts, on_event)

    app = make_app(
        resolve_target=lambda py: resolve_target(sys.executable, cwd=str(tmp_path)),
        run_session=session,
        discover_envs=list,
        probes=[("live", "Hangs")],
        preselected=(sys.executable, "--python"),
        cwd=str(tmp_path),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: pidfile.exists() and pidfile.read_text(), "the probe to start", 30)
        pid = int(pidfile.read_text())
        os.kill(pid, 0)  # alive
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, TargetScreen), "back on the target step")

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            # a zombie not yet reaped counts as gone
            try:
                return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
            except OSError:
                return True

        await wait_for(pilot, gone, "the probe process to be killed", 10)


# -- step 3: findings --------------------------------------------------------------------------


async def test_findings_root_causes_first_with_symptoms_folded():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        tree = app.screen.query_one("#findings", Tree)
        roots = tree.root.children
        assert [n.data.id for n in roots] == ["version-mismatch", "build-variant-mismatch"]
        bvm = roots[1]
        assert [n.data.id for n in bvm.children] == ["import-failed", "missing-shared-library"]
        assert not bvm.is_expanded  # folded
        detail = text_of(app.screen.query_one("#detail"))
        assert "torchvision 0.29.1 is made for torch 2.14.1" in detail
        assert "Evidence" in detail and "torchvision 0.29.1 requires torch>=2.14.0" in detail
        await pilot.press("down")
        detail = text_of(app.screen.query_one("#detail"))
        assert "CUDA 13.0 build" in detail and "What it causes" in detail
        assert "libc10_cuda.so cannot be found" in detail
        await pilot.press("enter")  # unfold
        assert bvm.is_expanded
        await pilot.press("down")
        detail = text_of(app.screen.query_one("#detail"))
        assert "Symptom of:" in detail and "operator torchvision::nms does not exist" in detail
        # f on a symptom opens its cause's fixes
        await pilot.press("f")
        assert isinstance(app.screen, FixScreen)
        assert app.screen.finding.id == "build-variant-mismatch"
        assert app.exit_code() == 1


async def test_healthy_env_says_torchvision_works():
    engine = FakeEngine([load("healthy")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        verdict = text_of(app.screen.query_one("#verdict"))
        assert "✓ torchvision works" in verdict
        checks = text_of(app.screen.query_one("#detail"))
        assert "nms on cpu" in checks and "correct in" in checks
        assert app.screen.has_class("works")
        assert app.exit_code() == 0
        await pilot.press("q")
    assert app.return_code == 0


async def test_text_from_the_target_is_shown_inert():
    """A finding's title and evidence quote the target's error output: an ESC in them must not
    reach the terminal (Textual passes it through), it is shown as \\x1b."""
    report = load("broken")
    root = next(f for f in report.findings if f.id == "build-variant-mismatch")
    root.title += " \x1b[2K\rpip install torch"
    root.evidence.append(Fact("live", "import_torchvision", "boom \x1b]52;c;ZXZpbA==\x07 \u202eevil"))
    app = build(FakeEngine([report]))
    async with app.run_test(size=(120, 40)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("down")
        detail = text_of(app.screen.query_one("#detail"))
        assert "\\x1b[2K\\rpip install torch" in detail and "\\u202eevil" in detail
        screen = app.export_screenshot()
        assert "\x1b" not in screen and "\x07" not in screen and "\u202e" not in screen


# -- step 4: fixes -----------------------------------------------------------------------------


async def test_fix_commands_copy_and_choose():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("n")  # n: the next step, the fixes of the selected root cause
        assert isinstance(app.screen, FixScreen)
        assert commands_of(app.screen).startswith(BROKEN_PY + " -m pip install --no-deps torchvision==0.28.0+cpu")
        block = app.screen.query_one(CommandBlock)
        assert block.read_only and not block.soft_wrap  # one line, scrolled sideways, never wrapped
        await pilot.press("c")
        assert app.clipboard == commands_of(app.screen)
        # honest: sent, not "copied" (the terminal may drop OSC 52); no tmux here, so no buffer
        status = text_of(app.screen.query_one("#fix-status"))
        assert "sent to the terminal's clipboard (OSC 52" in status and "tmux" not in status
        await pilot.press("2")
        await pilot.pause()
        assert "torch==2.14.1+cpu torchvision==0.29.1+cpu" in commands_of(app.screen)
        await pilot.press("c")
        assert "torch==2.14.1+cpu" in app.clipboard


async def test_env_fix_rendered_for_the_users_shell_and_others():
    report = load("broken")
    fix = Fix(
        id="unset-ld-preload",
        title="Unset LD_PRELOAD for Python",
        kind="env",
        env={"LD_PRELOAD": None, "LD_LIBRARY_PATH": "/opt/a"},
        restart=True,
    )
    finding = Finding(
        id="library-path-override",
        severity=Severity.ERROR,
        title="LD_PRELOAD wins",
        evidence=[Fact("native", "overrides", "LD_PRELOAD=/x.so")],
        fixes=[fix],
    )
    report = replace(report, findings=[finding])
    engine = FakeEngine([report])
    app = build(engine, environ={"SHELL": "/usr/bin/fish"})
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("f")
        await pilot.pause()
        assert commands_of(app.screen) == "set -e LD_PRELOAD\nset -gx LD_LIBRARY_PATH '/opt/a'"
        assert "fish" in app.screen.query_one("#fix-commands").border_title
        await pilot.press("s")  # fish → powershell
        await pilot.pause()
        assert commands_of(app.screen).startswith("Remove-Item Env:LD_PRELOAD")
        await pilot.press("s", "c")  # → bash
        assert app.clipboard == "unset LD_PRELOAD\nexport LD_LIBRARY_PATH=/opt/a"
        # one command alone: tab to its block, c copies just that one
        app.screen.query(CommandBlock)[1].focus()
        await pilot.press("c")
        assert app.clipboard == "export LD_LIBRARY_PATH=/opt/a"
        assert "Command 2 of 2" in text_of(app.screen.query_one("#fix-status"))
        # env fixes are never run for you; a checks them by probing with that env (test below)
        assert app.screen.check_action("apply", ()) is True


async def test_broken_env_fix_apply_verified():
    """The whole flow: broken env → fix (confirmed) → output streamed → checked again → gone."""
    broken = load("broken")
    fixed = replace(load("healthy"), target=broken.target)
    engine = FakeEngine([broken, fixed])
    app = build(engine, resolve_target=engine.resolve)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("down", "f")  # build-variant-mismatch
        fix_screen = app.screen
        assert isinstance(fix_screen, FixScreen) and fix_screen.finding.id == "build-variant-mismatch"
        # the fix would run the target's own pip: tvwizard may apply it
        assert fix_screen.refusal is None
        await pilot.press("a")
        dialog = app.screen
        assert "--no-deps torchvision==0.28.0+cpu" in text_of(dialog.query_one("#confirm-commands"))
        await pilot.press("n")  # no: nothing runs
        assert app.screen is fix_screen and engine.applied == []
        await pilot.press("a", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen), "the apply screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.phase == "done", "the fix and the new check")
        assert engine.applied == ["install-paired-torchvision"]
        assert "Successfully installed torchvision-0.28.0+cpu" in screen.query_one("#apply-log", Log).lines
        assert screen.outcome == "gone"
        status = text_of(screen.query_one("#apply-status"))
        assert "build-variant-mismatch is gone" in status and "torchvision works now" in status
        # n: the report, which says what was changed (command, time, result, verdict before → after)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), "the report")
        preview = app.screen.query_one("#report-preview", TextArea).text
        changed = preview[preview.index("## What was changed") :]
        assert "pip install --no-deps torchvision==0.28.0+cpu" in changed
        assert "ok; finding gone" in changed and "broken → works" in changed
        assert "/home/alice" not in changed  # redacted like the rest
        # b, b: the findings, re-checked; and Discovery shows the re-checked state too
        await pilot.press("b", "b")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), "back to findings")
        assert "torchvision works" in text_of(app.screen.query_one("#verdict"))
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, DiscoveryScreen)
        assert "torchvision works" in text_of(app.screen.query_one("#early"))
        assert app.screen.states["live"].outcome == "ok"
        assert app.exit_code() == 0


async def test_failed_fix_says_so():
    engine = FakeEngine([load("broken")], apply_ok=False)
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("f", "a", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen) and app.screen.phase == "done", "done")
        assert app.screen.outcome == "failed"
        assert "The fix failed" in text_of(app.screen.query_one("#apply-status"))
        assert engine.calls == 1  # no re-check after a failure


async def test_fix_that_is_not_runnable_cannot_be_applied():
    report = load("broken")
    f = report.findings[0]
    manual = replace(f.fixes[0], argv=[["sudo", "apt", "install", "x"]], commands=["sudo apt install x"])
    report = replace(report, findings=[replace(f, fixes=[manual])])
    engine = FakeEngine([report])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("f")
        with pytest.raises(FixRefused):
            check_runnable(manual, report.target.python)
        assert "sudo" in app.screen.refusal
        # a is not offered (hidden, not a dead key), and the status says why and what to do
        assert app.screen.check_action("apply", ()) is False
        assert "tvwizard does not run this one" in text_of(app.screen.query_one("#fix-status"))
        await pilot.press("a")
        assert isinstance(app.screen, FixScreen)  # no dialog
        assert engine.applied == []


# -- step 5: report ----------------------------------------------------------------------------


async def test_report_preview_is_redacted_and_export_writes_the_file(tmp_path):
    engine = FakeEngine([load("broken")])
    app = build(engine, cwd=str(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("r")  # r: straight to the report
        assert isinstance(app.screen, ReportScreen)
        preview = app.screen.query_one("#report-preview", TextArea).text
        assert "/home/alice" not in preview
        assert "~/.cache/tvwizard/test-envs/cpu-torch-cuda-tv/bin/python" in preview
        assert "build-variant-mismatch" in preview
        assert "Redaction: on" in text_of(app.screen.query_one("#redaction"))
        await pilot.press("e")
        path_input = app.screen.query_one("#export-path", Input)
        assert path_input.value == str(tmp_path / "tvwizard-report.md")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "tvwizard-report.md").exists(), "the file")
        written = (tmp_path / "tvwizard-report.md").read_text()
        assert written.rstrip("\n") == preview.rstrip("\n")
        assert str(tmp_path / "tvwizard-report.md") in text_of(app.screen.query_one("#export-status"))
        # another name, another format
        await pilot.press("e")
        path_input = app.screen.query_one("#export-path", Input)
        path_input.value = str(tmp_path / "out" / "r.json")
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "out" / "r.json").exists(), "the json file")
        data = json.loads((tmp_path / "out" / "r.json").read_text())
        assert data["schema"] == "tvwizard.report/1" and data["redaction"]["enabled"] is True
        # escape cancels
        await pilot.press("e", "escape")
        assert isinstance(app.screen, ReportScreen)
        # a file that is there already (not written here) is replaced only after a yes
        other = tmp_path / "mine.md"
        other.write_text("my notes\n")
        for answer, kept in (("n", True), ("y", False)):
            await pilot.press("e")
            app.screen.query_one("#export-path", Input).value = str(other)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, OverwriteDialog), "the overwrite question")
            await pilot.press(answer)
            await pilot.pause()
            assert (other.read_text() == "my notes\n") is kept
        assert "Written to" in text_of(app.screen.query_one("#export-status"))


async def test_export_error_is_shown(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    engine = FakeEngine([load("broken")])
    app = build(engine, cwd=str(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("r", "e")
        app.screen.query_one("#export-path", Input).value = str(blocker / "x.md")
        await pilot.press("enter")
        await pilot.pause()
        assert "Could not write" in text_of(app.screen.query_one("#export-status"))


# -- everywhere --------------------------------------------------------------------------------


async def test_back_and_next_walk_every_step():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("f")
        assert isinstance(app.screen, FixScreen)
        await pilot.press("n")
        assert isinstance(app.screen, ReportScreen)
        for expected in (FixScreen, FindingsScreen, DiscoveryScreen, TargetScreen):
            await pilot.press("b")
            assert isinstance(app.screen, expected)
        await pilot.press("b")  # nothing before the first step
        assert isinstance(app.screen, TargetScreen)


async def test_help_and_command_palette():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        body = text_of(app.screen.query_one("#help-scroll Static"))
        assert "Fixes" in body and "Report" in body and "ctrl+p" in body
        await pilot.press("escape")
        assert isinstance(app.screen, FindingsScreen)
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Fixes" in commands and "Report" in commands and "Help" in commands
        await pilot.press("ctrl+p")
        await pilot.press(*"Fixes")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, FixScreen), "the palette to open the fixes")


async def test_quit_exit_codes():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("q")
    assert app.return_code == 1


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (60, 20)])
async def test_layout_holds_at_each_size(size):
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=size) as pilot:
        await to_findings(pilot, app)
        tree = app.screen.query_one("#findings", Tree)
        detail = app.screen.query_one("#detail-scroll")
        assert tree.region.height >= 3 and detail.region.height >= 3
        assert detail.region.right <= size[0] and detail.region.bottom <= size[1]
        assert detail.region.y > tree.region.y  # stacked: finding titles are long
        assert tree.region.width >= size[0] - 4
        if size[1] >= 40:
            assert detail.region.height >= 20  # more room, more detail
        # a title too long for the pane ends in an ellipsis and keeps its "(+N)", never cut silently
        from rich.style import Style

        labels = [tree.render_label(n, Style(), Style()).plain for n in tree.root.children]
        for label in labels:
            assert len(label) <= tree.scrollable_content_region.width, label
        if size[0] <= 80:
            assert labels[1].endswith("… (+2)") or labels[1].endswith("…  (+2)"), labels


def test_cli_wizard_import_is_lazy_and_never_imports_torch():
    import subprocess

    code = (
        "import sys, tvwizard.cli, tvwizard.cli.wizard\n"
        "assert 'textual' not in sys.modules, 'textual imported by the CLI'\n"
        "import tvwizard.tui.app\n"
        "bad = [m for m in ('torch', 'torchvision', 'numpy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_run_wizard_returns_the_apps_exit_code(monkeypatch):
    import argparse

    import tvwizard.tui.app as tui_app
    from tvwizard.cli.wizard import run_wizard

    seen = {}

    class Stub:
        return_code = None

        def run(self):
            return 2

    def fake_make_app(**kw):
        seen.update(kw)
        return Stub()

    monkeypatch.setattr(tui_app, "make_app", fake_make_app)
    assert run_wizard(argparse.Namespace(python="/x/python", timeout=30.0)) == 2
    assert seen == {"python": "/x/python", "timeout": 30.0}


async def test_theme_from_environment():
    app = build(FakeEngine([load("broken")]), environ={"TVWIZARD_THEME": "textual-light"})
    async with app.run_test(size=(80, 24)):
        assert app.theme == "textual-light"


async def test_env_fix_is_checked_with_that_environment_and_nothing_is_changed():
    """a on an env-var fix: no dialog, no command; the probes run with the env it describes."""
    from tvwizard.model import Fact, Finding, Severity

    broken = load("broken")
    env_fix = Fix(
        id="trim-pythonpath",
        title="Take /old/stuff out of PYTHONPATH",
        kind="env",
        env={"PYTHONPATH": None},
        restart=True,
    )
    stray = Finding(
        "duplicate-install",
        Severity.ERROR,
        "torchvision 0.28.0 on PYTHONPATH hides 0.29.1",
        evidence=[Fact("distributions", "torchvision", "0.28.0 in /old/stuff")],
        fixes=[env_fix],
    )
    broken = replace(broken, findings=[stray])
    healthy = load("healthy")
    engine = EnvEngine([broken, healthy])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await apply_first_fix(pilot, app)
        assert screen.outcome == "gone" and engine.applied == []  # nothing was run
        assert engine.envs[-1] is not None and "PYTHONPATH" not in engine.envs[-1]
        assert app.state.report is broken  # the user's env has not changed yet
        assert "unset PYTHONPATH" in "\n".join(screen.query_one("#apply-log").lines)


async def test_env_fix_that_takes_away_its_reason_while_another_remains_says_so():
    """cuda-unavailable because CUDA_VISIBLE_DEVICES='' hides every GPU; without it, CUDA still
    finds no device nodes.  The fix did its part: not "still there", but "for another reason"."""
    from tvwizard.model import Finding, Severity

    unset = Fix(
        id="unset-cuda-visible-devices",
        title="Unset CUDA_VISIBLE_DEVICES",
        kind="env",
        env={"CUDA_VISIBLE_DEVICES": None},
    )
    hidden = Finding(
        "cuda-unavailable",
        Severity.ERROR,
        "The GPU is there but torch cannot use it: CUDA_VISIBLE_DEVICES='' hides every GPU",
        fixes=[unset],
    )
    no_nodes = Finding(
        "cuda-unavailable",
        Severity.ERROR,
        "The GPU is there but torch cannot use it: the GPU device nodes are not in this process's view",
    )
    before = replace(load("broken"), findings=[hidden])
    after = replace(load("broken"), findings=[no_nodes])
    app = build(EnvEngine([before, after]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await apply_first_fix(pilot, app)
        assert screen.outcome == "other-reason"
        status = text_of(screen.query_one("#apply-status"))
        assert "remains for another reason" in status and "device nodes" in status


# -- no dead ends: every key the footer shows does something ----------------------------------


def footer_keys(screen) -> list[str]:
    """The keys the footer shows on ``screen`` now (shown and enabled bindings)."""
    keys = []
    for key, active in screen.active_bindings.items():
        if active.binding.show and active.enabled and key not in keys:
            keys.append(key)
    return keys


APP_KEYS = ("question_mark", "q")  # the app's own, the same on every step: tried on the first


def signature(app: WizardApp) -> tuple:
    """What a key can change: the screen (stack), the clipboard, any text, focus, the exit."""
    screen = app.screen
    texts = tuple(text_of(w) for w in screen.query(Static))
    logs = tuple(len(log.lines) for log in screen.query(Log))
    running = getattr(screen, "running", None), getattr(screen, "cancelled", None)
    return (
        tuple(id(s) for s in app.screen_stack),
        app.clipboard,
        texts,
        logs,
        running,
        id(screen.focused),
        app.return_code,
        app._exit_renderables is not None and bool(app._exit_renderables),
    )


async def _to_discovery_running(pilot, app):
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen) and app.screen.running, "discovery")
    await wait_for(pilot, lambda: app.screen.states["live"].step == "import_torch", "the import step")


async def _to_discovery_done(pilot, app):
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DiscoveryScreen), "discovery")
    await wait_for(pilot, lambda: app.state.report is not None and not app.screen.running, "the report")


async def _to_findings_early(pilot, app):
    await _to_discovery_running(pilot, app)
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), "the findings so far")


async def _to_fixes(pilot, app):
    await to_findings(pilot, app)
    await pilot.press("down", "n")
    await wait_for(pilot, lambda: isinstance(app.screen, FixScreen), "the fixes")


async def _to_applied(pilot, app):
    await _to_fixes(pilot, app)
    await pilot.press("a", "y")
    await wait_for(pilot, lambda: isinstance(app.screen, ApplyScreen) and app.screen.phase == "done", "the check")


async def _to_report(pilot, app):
    await to_findings(pilot, app)
    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, ReportScreen), "the report")


async def _to_target(pilot, app):
    await wait_for(pilot, lambda: app.screen.query_one("#envs", OptionList).option_count == 3, "the env list")


STATES = {
    "target": (_to_target, TargetScreen),
    "discovery running": (_to_discovery_running, DiscoveryScreen),
    "discovery done": (_to_discovery_done, DiscoveryScreen),
    "findings so far": (_to_findings_early, FindingsScreen),
    "findings": (to_findings, FindingsScreen),
    "fixes": (_to_fixes, FixScreen),
    "applied": (_to_applied, ApplyScreen),
    "report": (_to_report, ReportScreen),
}


@pytest.mark.parametrize("state", list(STATES))
async def test_every_footer_key_does_something(state, tmp_path):
    """On each step, in each state: every key in the footer changes something (the screen, the
    clipboard, a text, the focus, or quits); keys that would do nothing are not shown."""
    go, screen_type = STATES[state]

    def fresh() -> tuple[WizardApp, FakeEngine]:
        broken = load("broken")
        healthy = replace(load("healthy"), target=broken.target)
        gate = asyncio.Event() if "running" in state or "so far" in state else None
        engine = FakeEngine([broken, healthy], gate=gate)
        return build(engine, cwd=str(tmp_path)), engine

    app, _engine = fresh()
    async with app.run_test(size=(100, 30)) as pilot:
        await go(pilot, app)
        assert isinstance(app.screen, screen_type)
        keys = footer_keys(app.screen)
    assert keys, state
    if state != "target":
        assert set(APP_KEYS) <= set(keys), keys
        keys = [k for k in keys if k not in APP_KEYS]
    dead = []
    app = None
    for key in keys:
        # a key that opened a screen is undone by closing it; after any other, a fresh app
        if app is None:
            app, _engine = fresh()
            context = app.run_test(size=(100, 30))
            pilot = await context.__aenter__()
            await go(pilot, app)
            await pilot.pause()
            home = app.screen
        before = signature(app)
        stack = list(app.screen_stack)
        await pilot.press(key)
        await pilot.pause(0.1)
        if signature(app) == before:
            dead.append(key)
        grew = app.is_running and app.screen_stack[: len(stack)] == stack and len(app.screen_stack) > len(stack)
        if grew:
            while app.screen is not home:
                app.pop_screen()
            await pilot.pause()
        else:
            await context.__aexit__(None, None, None)
            app = None
    if app is not None:
        await context.__aexit__(None, None, None)
    assert dead == [], f"{state}: footer keys that did nothing: {dead} (of {keys})"


@pytest.mark.parametrize(
    ("environ", "ansi"),
    [
        ({"TERM": "xterm"}, True),
        ({"TERM": "linux"}, True),
        ({"TERM": "xterm-256color"}, False),
        ({"TERM": "xterm", "COLORTERM": "truecolor"}, False),
        ({}, False),
    ],
)
async def test_eight_and_sixteen_colour_terminals_keep_ansi_red_and_yellow(environ, ansi):
    """On TERM=xterm Textual mapped red to magenta and yellow to bright red: the app keeps the
    terminal's own ANSI colours there, so an error (bold red) outranks a warning (yellow)."""
    app = build(FakeEngine([load("broken")]), environ={"HOME": "/home/alice", **environ})
    async with app.run_test(size=(80, 24)):
        assert bool(app.ansi_color) is ansi


# -- keys, layout, targets (issue 17) ------------------------------------------------------------


async def test_palette_lists_each_action_once_without_widget_internals():
    app = build(FakeEngine([load("broken")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_findings(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert len(titles) == len(set(titles)), titles
        assert titles.count("Quit") == 1 and "Keys" not in titles
        # the focused tree's own bindings (cursor moves, toggles) are not actions of the wizard
        assert not {"Cursor Up", "Cursor Down", "Toggle", "Expand or collapse"} & set(titles), titles
        assert not {"Focus Next", "Focus Previous", "Copy selected text"} & set(titles), titles
        await pilot.press("question_mark")
        body = text_of(app.screen.query_one("#help-scroll Static"))
        assert "Focus Next" not in body and "Copy selected text" not in body and "ctrl+c" in body


async def test_ctrl_c_quits_and_quitting_before_a_verdict_is_not_a_failure():
    gate = asyncio.Event()
    app = build(FakeEngine([load("broken")], gate=gate))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_discovery_running(pilot, app)
        await pilot.press("ctrl+c")  # mid-probe: the user asked nothing of the verdict yet
    assert app.return_code == 0
    app = build(FakeEngine([load("broken")]))
    async with app.run_test(size=(80, 24)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("ctrl+c")  # with a verdict: its exit code, the same as q
    assert app.return_code == 1


async def test_escape_leaves_the_path_field_and_old_pythons_are_not_offered():
    old = EnvCandidate(
        python="/home/alice/.pyenv/versions/3.7.16/bin/python",
        prefix="/home/alice/.pyenv/versions/3.7.16",
        kind="pyenv",
        name="3.7.16",
        source="pyenv",
        version="3.7.16",
    )
    engine = FakeEngine([load("broken")])
    app = build(engine, discover_envs=lambda: [*CANDIDATES, old])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#envs", OptionList).option_count == 4, "envs")
        await pilot.press("slash")
        assert app.screen.query_one("#path", Input).has_focus
        await pilot.press("escape")
        assert app.screen.query_one("#envs", OptionList).has_focus and isinstance(app.screen, TargetScreen)
        ol = app.screen.query_one("#envs", OptionList)
        last = ol.get_option_at_index(3)
        assert last.disabled and "not supported" in str(last.prompt) and "3.8+" in str(last.prompt)
        app.screen.examine_entry(3)  # chosen anyway (a click): said, not examined
        await pilot.pause()
        assert "not supported" in text_of(app.screen.query_one("#target-status"))
        assert engine.targets == [] and isinstance(app.screen, TargetScreen)


async def test_a_root_cause_without_a_fix_says_why_and_what_next():
    report = load("broken")
    lone = Finding(id="duplicate-install", severity=Severity.ERROR, title="two torchvisions on sys.path")
    app = build(FakeEngine([replace(report, findings=[lone])]))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        detail = text_of(app.screen.query_one("#detail"))
        assert "No fix here" in detail and "Next:" in detail
        assert app.screen.check_action("next", ()) is False  # no "n Fixes" that would do nothing
        assert "n" in footer_keys(app.screen)  # n is the report instead
        await pilot.press("n")
        assert isinstance(app.screen, ReportScreen)


async def test_discovery_uses_the_width_at_120x40_and_keeps_sentences_whole_at_80x24():
    app = build(FakeEngine([load("broken")]))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.state.report is not None and not app.screen.running, "the report")
        await pilot.pause()
        table = app.screen.query_one("#probes", DataTable)
        assert table.region.width >= 116  # the whole width: no empty pane beside it
        assert app.screen.query_one("#log").region.y > table.region.bottom  # the log below, not beside
    gate = asyncio.Event()
    app = build(FakeEngine([load("broken")], gate=gate))
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_discovery_running(pilot, app)
        await pilot.pause()
        early = app.screen.query_one("#early", Static)
        # everything "Found so far" says fits: its text, wrapped at the widget's width, is no taller
        from rich.console import Console

        lines = early.content.wrap(Console(width=200), early.content_region.width)
        assert "Found so far" in early.content.plain and len(lines) >= 3
        assert len(lines) <= early.content_region.height, (len(lines), early.content_region)
