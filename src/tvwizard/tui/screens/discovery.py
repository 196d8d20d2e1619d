"""Step 2: run every probe, live.  One line per probe with its state, a progress bar, the
selected probe's log as it arrives, and the findings known so far (static ones come while
the slow import still runs).  A probe can be re-run; the run can be cancelled and started
again; leaving the screen cancels the worker, which kills the probes' processes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.widgets import DataTable, Log, ProgressBar, Static
from textual.widgets.data_table import ColumnKey

from tvwizard.engine.events import FindingsUpdated, ProbeEvent, ProbeFinished, ProbeLog, ProbeStarted, ProbeStep
from tvwizard.facts.steps import read_step
from tvwizard.model import Finding, Report, Severity, StepResult, Target
from tvwizard.tui import palette
from tvwizard.tui.format import (
    LOG_LINES,
    ProbeState,
    check_mark,
    duration,
    outcome_of,
    roots_first,
    roots_summary,
    state_text,
)
from tvwizard.tui.screens.base import WizardScreen


def step_words(res: StepResult) -> tuple[str, str]:
    """(mark, word) for a step that ended: "failed" when it or its data says so, never a ✓ for
    a step whose import failed; whether it *matters* is the conclusion's (logged at the end)."""
    failed = res.status in ("error", "crashed", "timeout") or read_step(res).ok is False
    if failed:
        return palette.mark("error"), "failed" if res.status in ("ok", "error") else res.status
    if res.status == "skipped":
        return "-", "skipped"
    return palette.mark("dot"), "ran"


class DiscoveryScreen(WizardScreen):
    STEP = 2
    HELP = (
        "Every probe runs in its own subprocess of the target Python; tvwizard never imports "
        "torch itself. Move through the probes to see each one's log as it arrives. Findings "
        "that need no import show up while the import still runs."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Findings"),
        Binding("r", "rerun", "Re-run probe"),
        Binding("c", "cancel", "Cancel"),
        Binding("a", "restart", "Run all again"),
    ]
    AUTO_FOCUS = "#probes"
    WIDE = 150  # up to here the probe table gets the whole width (its State column needs it)

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target
        self.states: dict[str, ProbeState] = {}
        self.selected: str | None = None
        self.findings: tuple[Finding, ...] = ()
        self.running = False
        self.cancelled = False
        self.error: str | None = None
        self.shown_report: Report | None = None

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        t = self.target
        yield from self.compose_top()
        line = Text.assemble(("Examining ", palette.style("muted")))
        line.append(t.python, style="bold")
        extra = ", ".join(x for x in (f"Python {t.version}" if t.version else "", t.env_kind, t.how_chosen) if x)
        if extra:
            line.append(f"  ({extra})", style=palette.style("muted"))
        yield Static(line, id="target-line")
        with Container(id="disc-body"):
            with Vertical(id="disc-left"):
                yield DataTable(id="probes", cursor_type="row", show_cursor=True)
                yield ProgressBar(
                    id="progress", show_eta=False, show_bar=not palette.ascii_only()
                )  # the bar is Unicode
                yield Static("", id="early")
            yield Log(id="log", max_lines=LOG_LINES)
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        table = self.query_one("#probes", DataTable)
        table.add_column("Probe", key="probe")
        table.add_column("Time", key="time", width=8)
        table.add_column("State", key="state")
        rows = list(self.wizard.deps.probes)
        if self.wizard.state.user_way_in:  # "What failed for you?" was answered: its probe runs last
            rows.append(("user", "What failed for you"))
        for name, title in rows:
            self.states[name] = ProbeState(name, title)
            table.add_row(title, "", state_text(self.states[name]), key=name)
        self.query_one("#progress", ProgressBar).update(total=len(self.states), progress=0)
        if "live" in self.states:
            table.move_cursor(row=list(self.states).index("live"))
        self.selected = self.selected or next(iter(self.states), None)
        self.set_interval(0.5, self._tick)
        self.run_all()

    # -- rendering ---------------------------------------------------------------------------

    def _row(self, name: str) -> None:
        st = self.states[name]
        try:
            table = self.query_one("#probes", DataTable)
        except Exception:
            return
        if st.phase == "running" and st.started_at is not None:
            time = duration(max(0.0, self.wizard.deps.clock() - st.started_at))
        elif st.run is not None:
            time = duration(st.run.duration)
        else:
            time = ""
        text = state_text(st)
        room = self._state_room(table)
        if room is not None:
            # The State column gets every cell the pane has left, set here, not measured by
            # DataTable: it re-measures only when it idles, and a table nobody touches while the
            # probes finish never idles, so in a real terminal the states stayed cut to the
            # width of the word "State" until a key was pressed.
            column = table.columns[ColumnKey("state")]
            column.auto_width, column.width = False, room
            if text.cell_len > room:
                if palette.ascii_only():
                    text.truncate(max(1, room - 3))
                    text.append("...")
                else:
                    text.truncate(room, overflow="ellipsis")
        table.update_cell(name, "state", text)
        table.update_cell(name, "time", Text(time, justify="right"))

    @staticmethod
    def _state_room(table: DataTable) -> int | None:
        """Cells left for the State column: a summary wider than the table is cut with "…",
        not clipped to its first letters by the pane's edge."""
        width = table.scrollable_content_region.width
        if width <= 0:
            return None
        used = sum(col.get_render_width(table) for key, col in table.columns.items() if key.value in ("probe", "time"))
        return max(8, width - used - 2 * table.cell_padding)

    def on_resize(self) -> None:
        for name in self.states:
            self._row(name)

    def _tick(self) -> None:
        for name, st in self.states.items():
            if st.phase == "running":
                self._row(name)
        if self.running:
            self.wizard.state.waiting = self.waiting()
            self._early()

    def waiting(self) -> str:
        """What the user waits for, with its limit: "import torchvision: 7 s of 180 s"."""
        running = [st for st in self.states.values() if st.phase == "running" and st.started_at is not None]
        if not running:
            return ""
        st = max(running, key=lambda s: self.wizard.deps.limits.get(s.name, 0))  # the slow one: the import
        elapsed = max(0.0, self.wizard.deps.clock() - st.started_at)
        what = st.step.replace("_", " ") if st.step else st.title
        limit = self.wizard.deps.limits.get(st.name)
        return f"{what}: {elapsed:.0f} s" + (f" of {limit:.0f} s" if limit else "")

    def _progress(self) -> None:
        done = sum(1 for s in self.states.values() if s.phase == "done")
        self.query_one("#progress", ProgressBar).update(total=len(self.states), progress=done)

    def _log(self, name: str, line: str) -> None:
        st = self.states.get(name)
        if st is None:
            return
        st.log.append(line)
        if name == self.selected:
            self.query_one("#log", Log).write_line(line)

    def _show_log(self) -> None:
        log = self.query_one("#log", Log)
        log.clear()
        st = self.states.get(self.selected or "")
        if st is None:
            return
        log.border_title = f"Log {palette.mark('dot')} {st.title}"
        log.write_lines(st.log or ["(no output yet)" if st.phase != "done" else "(no output)"])
        # the end (the conclusion) in view once the lines are laid out: a scrollbar that appears
        # with a long line would otherwise hide the last ones
        self.call_after_refresh(log.scroll_end, animate=False)

    def _early(self) -> None:
        early = self.query_one("#early", Static)
        report = self.wizard.state.report if not self.running else None
        muted, err = palette.style("muted"), palette.style("error")
        text = Text()
        if self.error:
            text.append(f"{palette.mark('error')} The run failed: {self.error}", style=err)
        elif self.cancelled:
            text.append("Cancelled. ", style=palette.style("warning"))
            text.append("a runs every probe again; b goes back.")
        elif report is not None and report.verdict == "works":
            text.append(f"{palette.mark('ok')} torchvision works", style="bold " + palette.style("ok"))
            text.append(" - n shows the details", style=muted)
        elif report is not None:
            _errors, _warnings, words = roots_summary(report.findings)
            if report.verdict == "broken":
                text.append(f"{palette.mark('error')} torchvision is broken here: ", style=err)
            text.append(f"{words}", style="bold")
            text.append(". n shows them and their fixes.")
            self._roots(text, report.findings)
        else:
            waiting = self.waiting()
            if waiting:
                text.append(f"{waiting}; c cancels", style=palette.style("running"))
            else:
                text.append("Probing...", style=muted)
            roots = [r for r, _ in roots_first(list(self.findings)) if r.severity is not Severity.INFO]
            if roots:
                text.append("\nFound so far", style="bold")
                text.append(" (n shows them now):")
                self._roots(text, self.findings)
        early.update(text)

    def _roots(self, text: Text, findings) -> None:
        roots = [r for r, _ in roots_first(list(findings)) if r.severity is not Severity.INFO]
        for r in roots[:3]:
            role = "error" if r.severity is Severity.ERROR else "warning"
            text.append(f"\n {palette.mark(role)} ", style=palette.style(role))
            text.append(palette.text(r.title))
        if len(roots) > 3:
            text.append(f"\n {palette.mark('more')} {len(roots) - 3} more: n shows them all")

    # -- events from the engine --------------------------------------------------------------

    def on_probe_event(self, ev: ProbeEvent) -> None:
        """Called by the session runner, on the app's event loop, for every event."""
        clock = self.wizard.deps.clock
        if isinstance(ev, ProbeStarted):
            st = self.states.get(ev.probe)
            if st is None:
                return
            again = st.phase == "done"
            st.phase, st.started_at, st.outcome, st.step, st.summary = "running", clock(), "running", "", ""
            start = palette.mark("start")
            self._log(ev.probe, f"{start} started again without the step that failed" if again else f"{start} started")
            self._row(ev.probe)
            self._progress()
        elif isinstance(ev, ProbeLog):
            prefix = {"stderr": "", "stdout": "", "probe": "» "}.get(ev.line.stream, "")
            self._log(ev.probe, prefix + ev.line.text)
        elif isinstance(ev, ProbeStep):
            st = self.states.get(ev.probe)
            if st is None:
                return
            if ev.phase == "start":
                st.step = ev.step
                self._log(ev.probe, f"{palette.mark('arrow')} {ev.step.replace('_', ' ')}")
            else:
                st.step = ""
                res = ev.result
                if res is not None:
                    mark, word = step_words(res)
                    self._log(ev.probe, f"  {mark} {ev.step.replace('_', ' ')}: {word} ({duration(res.duration)})")
            self._row(ev.probe)
            if self.running:
                self._early()
        elif isinstance(ev, ProbeFinished):
            st = self.states.get(ev.probe)
            if st is None:
                return
            st.phase, st.run, st.step = "done", ev.run, ""
            st.outcome, st.summary = outcome_of(ev.run, None, self.findings)
            how = "" if ev.run.status == "ok" else f" ({ev.run.status})"
            self._log(ev.probe, f"{palette.mark('end')} probe finished{how} in {duration(ev.run.duration)}")
            if ev.run.error:
                self._log(ev.probe, f"  {ev.run.error}")
            for line in (ev.run.fault or "").strip().splitlines():
                self._log(ev.probe, "  " + line)
            self._row(ev.probe)
            self._progress()
        elif isinstance(ev, FindingsUpdated):
            self.findings = ev.findings
            self.wizard.state.findings_so_far = ev.findings
            for name, st in self.states.items():
                if st.phase == "done" and st.run is not None:
                    st.outcome, st.summary = outcome_of(st.run, None, self.findings)
                    self._row(name)
            self._early()

    def _finish(self, report: Report, *, elsewhere: bool = False) -> None:
        """Show ``report``: each probe's state, and at the end of its log the conclusion's
        checklist lines for it, the same lines the findings step and the report show.

        ``elsewhere``: the report came from a check made on another step (after a fix): the
        logs are that check's."""
        self.wizard.state.report = report
        self.shown_report = report
        self.findings = tuple(report.findings)
        for run in report.probes:
            st = self.states.get(run.name)
            if st is None:
                continue
            st.phase, st.run, st.step = "done", run, ""
            st.outcome, st.summary = outcome_of(run, report, report.findings)
            if elsewhere:
                st.log = ["(checked again after a fix)", *(line.text for line in run.log)]
            if "Conclusion:" in st.log:  # a re-run: the new conclusion replaces the old
                del st.log[st.log.index("Conclusion:") :]
            st.log.append("Conclusion:")
            for check in (c for c in report.checks if c.probe == run.name):
                mark, _style = check_mark(check.status)
                st.log.append(f"  {mark} {check.title}: {palette.text(check.summary)}")
            self._row(run.name)
        self._progress()
        self._show_log()
        self._early()

    def on_screen_resume(self) -> None:
        report = self.wizard.state.report
        if report is not None and report is not self.shown_report and not self.running:
            self._finish(report, elsewhere=True)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.refresh_bindings()
        self._early()

    def _mark_cancelled(self) -> None:
        self.cancelled = True
        for name, st in self.states.items():
            if st.phase in ("running", "waiting"):
                st.phase, st.outcome, st.step = "cancelled", "cancelled", ""
                self._log(name, "■ cancelled")
                self._row(name)

    # -- workers ---------------------------------------------------------------------------

    async def _session(self, start: Callable[[], Awaitable[Report]]) -> None:
        """Await a session (all probes, or one re-run) and show how it ended: its report, an
        error, or the probes left running marked cancelled."""
        self._set_running(True)
        try:
            report = await start()
        except asyncio.CancelledError:
            if self.is_attached:
                self._mark_cancelled()
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        else:
            self._finish(report)
        finally:
            if self.is_attached:
                self._set_running(False)

    @work(exclusive=True, group="discovery", exit_on_error=False)
    async def run_all(self) -> None:
        self.cancelled, self.error = False, None
        self.wizard.state.report = None
        self.wizard.state.findings_so_far = ()
        self.findings = ()
        for name, st in self.states.items():
            st.reset()
            self._row(name)
        self._progress()
        self._show_log()
        way_in = self.wizard.state.user_way_in  # "What failed for you?" (w), when answered
        await self._session(
            lambda: (
                self.wizard.deps.run_session(self.target, self.on_probe_event, user=way_in)
                if way_in
                else self.wizard.deps.run_session(self.target, self.on_probe_event)
            )
        )

    @work(exclusive=True, group="discovery", exit_on_error=False)
    async def rerun(self, name: str) -> None:
        previous = self.wizard.state.report
        if previous is None:
            return
        self.cancelled, self.error = False, None
        st = self.states[name]
        st.reset()
        self._row(name)
        self._progress()
        if name == self.selected:
            self._show_log()
        await self._session(lambda: self.wizard.deps.rerun_probe(self.target, name, previous, self.on_probe_event))

    # -- actions ---------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # hidden, not greyed: the footer lists only what works now
        if action == "next":
            return self.running or self.wizard.state.report is not None
        if action == "rerun":
            return not self.running and self.wizard.state.report is not None
        if action == "cancel":
            return self.running
        if action == "restart":
            return not self.running
        return True

    @on(DataTable.RowHighlighted, "#probes")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.selected = event.row_key.value
        self._show_log()

    def action_next(self) -> None:
        """The findings: the conclusion, or (while the import runs) the findings so far."""
        if self.running or self.wizard.state.report is not None:
            self.wizard.show_findings()

    def action_rerun(self) -> None:
        if self.selected and not self.running and self.wizard.state.report is not None:
            self.rerun(self.selected)

    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "discovery")

    def action_restart(self) -> None:
        if not self.running:
            self.run_all()
