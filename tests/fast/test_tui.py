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
from tvwizard.tui.screens.discovery import DiscoveryScreen
from tvwizard.tui.screens.findings import FindingsScreen
from tvwizard.tui.screens.fixes import FixScreen
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
        # Next is not possible yet
        await pilot.press("n")
        assert isinstance(app.screen, DiscoveryScreen)
        gate.set()
        await wait_for(pilot, lambda: app.state.report is not None, "the report")
        await pilot.pause()
        assert screen.states["live"].outcome == "error"
        assert "import torchvision" in screen.states["live"].summary
        assert screen.states["interpreter"].outcome == "ok"
        assert screen.query_one("#progress").progress == 7
        assert "2 root cause(s) found" in text_of(screen.query_one("#early"))
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


# -- step 4: fixes -----------------------------------------------------------------------------


async def test_fix_commands_copy_and_choose():
    engine = FakeEngine([load("broken")])
    app = build(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("f")
        assert isinstance(app.screen, FixScreen)
        area = app.screen.query_one("#fix-commands", TextArea)
        assert area.text.startswith(BROKEN_PY + " -m pip install --no-deps torchvision==0.28.0+cpu")
        assert area.read_only
        await pilot.press("c")
        assert app.clipboard == area.text
        await pilot.press("2")
        assert "torch==2.14.1+cpu torchvision==0.29.1+cpu" in area.text
        await pilot.press("c")
        assert "torch==2.14.1+cpu" in app.clipboard
        assert "Copied 1 line" in text_of(app.screen.query_one("#fix-status"))


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
        area = app.screen.query_one("#fix-commands", TextArea)
        assert area.text == "set -e LD_PRELOAD\nset -gx LD_LIBRARY_PATH '/opt/a'"
        assert "fish" in area.border_title
        await pilot.press("s")  # fish → powershell
        assert area.text.startswith("Remove-Item Env:LD_PRELOAD")
        await pilot.press("s", "c")  # → bash
        assert app.clipboard == "unset LD_PRELOAD\nexport LD_LIBRARY_PATH=/opt/a"
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
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FindingsScreen), "back to findings")
        assert "torchvision works" in text_of(app.screen.query_one("#verdict"))
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
        await pilot.press("a")
        assert isinstance(app.screen, FixScreen)  # no dialog
        assert engine.applied == []


# -- step 5: report ----------------------------------------------------------------------------


async def test_report_preview_is_redacted_and_export_writes_the_file(tmp_path):
    engine = FakeEngine([load("broken")])
    app = build(engine, cwd=str(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("n")
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


async def test_export_error_is_shown(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    engine = FakeEngine([load("broken")])
    app = build(engine, cwd=str(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("n", "e")
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
