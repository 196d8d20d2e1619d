"""Step 4, applying: run the confirmed fix with its output streamed, then run every probe
again and say whether the finding is gone."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Log, ProgressBar, Static

from tvwizard.engine.events import ProbeEvent, ProbeFinished
from tvwizard.model import Finding, Fix, Report
from tvwizard.tui.screens.base import WizardScreen


class ApplyScreen(WizardScreen):
    STEP = 4
    HELP = (
        "The fix runs here with its output shown as it comes. When it succeeds, every probe runs "
        "again, and this screen says whether the finding is gone. n goes to the findings of the "
        "new check."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Findings"),
        Binding("c", "cancel", "Cancel"),
    ]
    AUTO_FOCUS = "#apply-log"

    def __init__(self, finding: Finding, fix: Fix) -> None:
        super().__init__()
        self.finding = finding
        self.fix = fix
        self.verify_only = fix.kind == "env" and bool(fix.env)  # nothing to run: probe with the env
        self.phase = "applying"  # applying | checking | done
        self.outcome: str | None = None  # gone | other-reason | still-there | failed | cancelled | error
        self.after: Report | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        verb = "Checking with the environment of: " if self.verify_only else "Applying: "
        yield Static(Text.assemble((verb, "bold"), self.fix.title), id="apply-title")
        yield Log(id="apply-log", max_lines=5000)
        yield ProgressBar(id="apply-progress", show_eta=False)
        yield Static("", id="apply-status")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        self.query_one("#apply-log", Log).border_title = "Output"
        self.query_one("#apply-progress", ProgressBar).display = False
        self.run_fix()

    def _status(self, text: Text) -> None:
        self.query_one("#apply-status", Static).update(text)

    @work(exclusive=True, group="apply", exit_on_error=False)
    async def run_fix(self) -> None:
        app = self.wizard
        target = app.state.target
        before = app.state.report
        assert target is not None and before is not None
        log = self.query_one("#apply-log", Log)
        if self.verify_only:
            await self._verify_env(target, before, log)
            return
        self._status(Text("Running the fix…", style="bold cyan"))
        try:
            # Fix commands name the interpreter itself (Target.executable), not a shim.
            result = await app.deps.apply_fix(self.fix, target.executable or target.python, log.write_line)
        except asyncio.CancelledError:
            self._end("cancelled", Text("Cancelled: the fix was stopped part way.", style="bold yellow"))
            raise
        except Exception as exc:
            self._end("error", Text(f"✗ Could not run the fix: {exc}", style="bold red"))
            return
        if not getattr(result, "ok", False):
            rc = getattr(result, "returncode", None)
            self._end("failed", Text(f"✗ The fix failed (exit code {rc}). Its output is above.", style="bold red"))
            return
        self.phase = "checking"
        self.refresh_bindings()
        log.write_line("")
        log.write_line("✓ done. Checking again: every probe runs once more…")
        self._status(Text("Fix applied. Checking again…", style="bold cyan"))
        bar = self.query_one("#apply-progress", ProgressBar)
        bar.display = True
        bar.update(total=len(app.deps.probes), progress=0)
        done: set[str] = set()

        def on_event(ev: ProbeEvent) -> None:
            if isinstance(ev, ProbeFinished):
                done.add(ev.probe)
                bar.update(progress=len(done))

        try:
            after = await app.deps.run_session(target, on_event)
        except asyncio.CancelledError:
            self._end("cancelled", Text("Cancelled while checking again.", style="bold yellow"))
            raise
        except Exception as exc:
            self._end("error", Text(f"✗ Checking again failed: {exc}", style="bold red"))
            return
        self.after = after
        app.state.report = after
        from tvwizard.fixes.apply import finding_gone, other_reason

        if reason := other_reason(before, after, self.finding.id):
            self._end(
                "other-reason",
                Text(f"! {self.finding.id} is still there, for another reason now: {reason}", style="bold yellow"),
            )
        elif finding_gone(before, after, self.finding.id):
            text = Text(f"✓ Fixed: {self.finding.id} is gone.", style="bold green")
            if after.verdict == "works":
                text.append(" torchvision works now.", style="bold green")
            else:
                text.append(" Other problems remain: n shows them.", style="yellow")
            if self.fix.restart:
                text.append("\nRestart Python (or the notebook kernel) to use it.", style="dim")
            self._end("gone", text)
        else:
            self._end(
                "still-there", Text(f"✗ {self.finding.id} is still there. n shows the new findings.", style="bold red")
            )

    async def _verify_env(self, target, before: Report, log: Log) -> None:
        """An env-var fix is the user's shell's to make: prove it first, change nothing."""
        import os

        from tvwizard.fixes.apply import finding_gone, other_reason
        from tvwizard.fixes.shell import LABELS, render_env

        app = self.wizard
        env = dict(app.deps.environ or os.environ)
        for name, value in self.fix.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        log.write_line("Nothing is changed: every probe runs again with this environment:")
        shell = app.state.shell
        for line in render_env(self.fix.env, shell):
            log.write_line(f"  {line}")
        self.phase = "checking"
        self.refresh_bindings()
        self._status(Text("Checking with that environment…", style="bold cyan"))
        try:
            after = await app.deps.run_session(target, lambda _ev: None, env=env)
        except asyncio.CancelledError:
            self._end("cancelled", Text("Cancelled while checking.", style="bold yellow"))
            raise
        except Exception as exc:
            self._end("error", Text(f"✗ Checking failed: {exc}", style="bold red"))
            return
        if reason := other_reason(before, after, self.finding.id):
            text = Text(
                f"! With that environment what this fix is for is gone, but {self.finding.id} remains for another "
                f"reason: {reason}",
                style="bold yellow",
            )
            text.append(
                f"\nKeep this fix (the lines above, in {LABELS.get(shell, shell)}); with it in place, run tvwizard "
                "again for the new reason's own fix.",
                style="",
            )
            self._end("other-reason", text)
        elif finding_gone(before, after, self.finding.id):
            text = Text(f"✓ With that environment {self.finding.id} is gone", style="bold green")
            text.append(" and torchvision works." if after.verdict == "works" else ".", style="bold green")
            text.append(
                f"\nMake it yours: run the lines above in {LABELS.get(shell, shell)} (c on the fixes "
                "step copies them), then start Python again.",
                style="",
            )
            self._end("gone", text)
        else:
            self._end(
                "still-there", Text(f"✗ With that environment {self.finding.id} is still there.", style="bold red")
            )

    def _end(self, outcome: str, text: Text) -> None:
        self.phase, self.outcome = "done", outcome
        if self.is_attached:
            self._status(text)
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next", "back"):
            return True if self.phase == "done" else None
        if action == "cancel":
            return True if self.phase != "done" else None
        return True

    def action_cancel(self) -> None:
        if self.phase != "done":
            self.workers.cancel_group(self, "apply")

    def action_back(self) -> None:
        if self.phase == "done":
            self.app.pop_screen()

    def action_next(self) -> None:
        if self.phase == "done":
            self.wizard.back_to_findings()
