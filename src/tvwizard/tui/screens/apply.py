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
from tvwizard.tui import palette
from tvwizard.tui.screens.base import WizardScreen


class ApplyScreen(WizardScreen):
    STEP = 4
    HELP = (
        "The fix runs here with its output shown as it comes. When it succeeds, every probe runs "
        "again, and this screen says whether the finding is gone. n goes on to the report (it "
        "says what was changed); b goes back to the findings of the new check."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Report"),
        Binding("b,escape", "back", "Findings", key_display="b"),
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
        self.verified = None  # the flow's tvwizard.fixes.verify.Verified, once done

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        verb = "Checking with the environment of: " if self.verify_only else "Applying: "
        yield Static(Text.assemble((verb, "bold"), palette.text(self.fix.title)), id="apply-title")
        yield Log(id="apply-log", max_lines=5000)
        yield ProgressBar(id="apply-progress", show_eta=False, show_bar=not palette.ascii_only())  # the bar is Unicode
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
        from tvwizard.fixes.shell import render_env
        from tvwizard.fixes.verify import apply_and_verify

        app = self.wizard
        target = app.state.target
        before = app.state.report
        assert target is not None and before is not None
        log = self.query_one("#apply-log", Log)
        bar = self.query_one("#apply-progress", ProgressBar)
        done: set[str] = set()

        def on_event(ev: ProbeEvent) -> None:
            if isinstance(ev, ProbeFinished):
                done.add(ev.probe)
                bar.update(progress=len(done))

        async def recheck(env) -> Report:
            if env is None:
                return await app.deps.run_session(target, on_event)
            return await app.deps.run_session(target, on_event, env=env)

        def on_phase(phase: str) -> None:
            self.phase = phase
            self.refresh_bindings()
            if phase == "applying":
                self._status(Text("Running the fix... (c cancels)", style=palette.style("running")))
                return
            bar.display = True
            bar.update(total=len(app.deps.probes), progress=0)
            if self.verify_only:
                log.write_line("Nothing is changed: every probe runs again with this environment:")
                for line in render_env(self.fix.env, app.state.shell):
                    log.write_line(f"  {line}")
                self._status(Text("Checking with that environment... (c cancels)", style=palette.style("running")))
            else:
                log.write_line("")
                log.write_line(f"{palette.mark('ok')} done. Checking again: every probe runs once more...")
                self._status(Text("Fix applied. Checking again... (c cancels)", style=palette.style("running")))

        try:
            # Fix commands name the interpreter itself (Target.executable), not a shim.
            verified = await apply_and_verify(
                self.fix,
                self.finding.id,
                before,
                apply=app.deps.apply_fix,
                recheck=recheck,
                target_python=target.executable or target.python,
                on_line=log.write_line,
                on_phase=on_phase,
                environ=app.deps.environ,
            )
        except asyncio.CancelledError:
            words = (
                "Cancelled: the fix was stopped part way." if self.phase == "applying" else "Cancelled while checking."
            )
            self._end("cancelled", Text(words, style=palette.style("warning")))
            raise
        self.verified = verified
        if verified.change is not None:
            app.record_change(verified.change)
        if verified.after is not None and not self.verify_only:
            self.after = verified.after
            app.set_report(verified.after)
        self._end(verified.outcome, self._words(verified))

    def _words(self, verified) -> Text:
        from tvwizard.fixes.shell import LABELS

        fid = self.finding.id
        err, warn, ok = palette.style("error"), palette.style("warning"), palette.style("ok")
        after = verified.after
        shell = self.wizard.state.shell
        if verified.outcome == "error":
            return Text.assemble((f"{palette.mark('error')} Could not finish: {verified.reason}", err))
        if verified.outcome == "failed":
            return Text.assemble(
                (f"{palette.mark('error')} The fix failed ({verified.reason}). Its output is above.", err)
            )
        if self.verify_only:
            if verified.outcome == "other-reason":
                text = Text.assemble(
                    (
                        f"! With that environment what this fix is for is gone, but {fid} remains for another "
                        f"reason: {verified.reason}",
                        warn,
                    )
                )
                text.append(
                    f"\nKeep this fix (the lines above, in {LABELS.get(shell, shell)}); with it in place, run "
                    "tvwizard again for the new reason's own fix.",
                )
                return text
            if verified.outcome == "gone":
                text = Text.assemble((f"{palette.mark('ok')} With that environment {fid} is gone", ok))
                text.append(" and torchvision works." if after.verdict == "works" else ".", style=ok)
                text.append(
                    f"\nMake it yours: run the lines above in {LABELS.get(shell, shell)} (b, then c copies "
                    "them), then start Python again.",
                )
                return text
            return Text.assemble((f"{palette.mark('error')} With that environment {fid} is still there.", err))
        if verified.outcome == "other-reason":
            return Text.assemble((f"! {fid} is still there, for another reason now: {verified.reason}", warn))
        if verified.outcome == "gone":
            text = Text.assemble((f"{palette.mark('ok')} Fixed: {fid} is gone.", ok))
            if after.verdict == "works":
                text.append(" torchvision works now.", style=ok)
            else:
                text.append(" Other problems remain: b shows them.", style=warn)
            if self.fix.restart:
                text.append("\nRestart Python (or the notebook kernel) to use it.")
            text.append("\nn: the report (with what was changed)  b: the findings", style=palette.style("muted"))
            return text
        return Text.assemble((f"{palette.mark('error')} {fid} is still there. b shows the new findings.", err))

    def _end(self, outcome: str, text: Text) -> None:
        self.phase, self.outcome = "done", outcome
        if self.is_attached:
            self._status(text)
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next", "back"):
            return self.phase == "done"
        if action == "cancel":
            return self.phase != "done"
        return True

    def action_cancel(self) -> None:
        if self.phase != "done":
            self.workers.cancel_group(self, "apply")

    def action_back(self) -> None:
        if self.phase == "done":
            self.wizard.back_to_findings()

    def action_next(self) -> None:
        if self.phase == "done":
            self.wizard.show_report()
