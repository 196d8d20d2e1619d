"""The wizard app and its factory.

``make_app(...)`` builds a :class:`WizardApp` from its dependencies (a target resolver, a
session runner, a probe re-runner, a fix applier, environment discovery, a clock); every
one can be replaced, so tests drive the whole wizard with canned reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from textual.binding import Binding, BindingType

from tvwizard.fixes.shell import detect_shell
from tvwizard.model import Change, Finding, Fix, Report, Target
from tvwizard.tui import palette
from tvwizard.tui.base_app import ExitCodeApp
from tvwizard.tui.services import (
    Clock,
    EnvDiscoverer,
    FixApplier,
    ProbeRerunner,
    SessionRunner,
    TargetResolver,
    WizardDeps,
)

EXIT_OK, EXIT_PROBLEMS, EXIT_UNUSABLE = 0, 1, 2
STOP_GRACE = 3.0  # seconds a signalled wizard has to exit in order before it is ended outright


@dataclass
class WizardState:
    target: Target | None = None
    target_error: str | None = None  # why the last target could not be used
    report: Report | None = None
    shell: str = "bash"  # the shell env-var fixes are written for
    user_way_in: dict | None = None  # "What failed for you?" (w): {"imports": [...]} or {"command": argv}
    #: while the probes run: the findings so far, and what is being waited for
    findings_so_far: tuple[Finding, ...] = ()
    waiting: str = ""
    #: fixes run in this session, for the report's "What was changed"
    changes: list[Change] = field(default_factory=list)


class WizardApp(ExitCodeApp):
    TITLE = "tvwizard"
    CSS_PATH: ClassVar[list[str]] = ["app.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        # Ctrl-C quits (Textual would only say "press ctrl+q"); the same exit code as q
        Binding("ctrl+q,ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("w", "what_failed", "What failed?", show=False),
    ]

    def __init__(self, deps: WizardDeps) -> None:
        palette.configure(deps.environ, deps.unicode)
        super().__init__()
        self.deps = deps
        if palette.few_colours(deps.environ):
            self.ansi_color = True  # red stays red, yellow yellow: warnings never look worse than errors
        self.state = WizardState(shell=detect_shell(deps.environ))
        theme = deps.environ.get("TVWIZARD_THEME", "")
        if theme in self.available_themes:  # e.g. textual-light; ctrl+p → "Change theme" too
            self.theme = theme

    # -- the flow ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        from tvwizard.tui.screens.target import TargetScreen

        self._end_on_signals()
        if palette.ascii_only():
            self.add_class("ascii")
        self.push_screen(TargetScreen())
        if self.stop_signal is not None:  # it came while the app was starting
            self._stop_by_signal(self.stop_signal)

    #: the signal that stops the wizard, once one came (see :func:`tvwizard.cli.wizard.run_wizard`)
    stop_signal: int | None = None

    def _end_on_signals(self) -> None:
        """SIGTERM, SIGHUP (the terminal closed, ``tmux kill-session``) and SIGINT end the
        wizard as quitting does: its workers are cancelled, so every probe ends its process
        group and removes its fault file.  The exit code is 128 + the signal's number."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stop_by_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests), no signals
                return

    def _stop_by_signal(self, sig: int) -> None:
        if not self._stopping:
            from tvwizard.cli.signals import exit_after

            self._stopping = True
            exit_after(STOP_GRACE, 128 + sig)  # should the orderly exit below hang (no terminal)
        self.stop_signal = self.stop_signal or sig
        self.exit(128 + sig, return_code=128 + sig)

    _stopping = False

    def signal_before_mount(self, sig: int) -> None:
        """A signal before :meth:`on_mount` took them over: noted, acted on when mounted.

        Raising there (as the CLI does) would leave Textual's threads behind, and the
        process waiting for them for ever."""
        self.stop_signal = self.stop_signal or sig
        if self.is_running:
            self.call_later(self._stop_by_signal, sig)

    def start_discovery(self, target: Target) -> None:
        from tvwizard.tui.screens.discovery import DiscoveryScreen

        self.state.target = target
        self.state.report = None
        self.state.findings_so_far = ()
        self.push_screen(DiscoveryScreen(target))

    def show_findings(self) -> None:
        from tvwizard.tui.screens.findings import FindingsScreen

        self.push_screen(FindingsScreen())

    def show_fixes(self, finding: Finding) -> None:
        from tvwizard.tui.screens.fixes import FixScreen

        self.push_screen(FixScreen(finding))

    def apply(self, finding: Finding, fix: Fix) -> None:
        from tvwizard.tui.screens.apply import ApplyScreen

        self.push_screen(ApplyScreen(finding, fix))

    def back_to_findings(self) -> None:
        from tvwizard.tui.screens.findings import FindingsScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, FindingsScreen):
            self.pop_screen()

    def show_report(self) -> None:
        from tvwizard.tui.screens.report import ReportScreen

        if self.state.report is not None:
            self.push_screen(ReportScreen())

    def set_report(self, report: Report) -> None:
        """A new diagnosis (after a fix): every screen shows it when it is shown again."""
        self.state.report = report

    def record_change(self, change: Change) -> None:
        self.state.changes.append(change)

    def shared_report(self) -> Report | None:
        """The report as the report step writes it: with the fixes run in this session."""
        report = self.state.report
        if report is None:
            return None
        return replace(report, changes=[*report.changes, *self.state.changes])

    # -- app-wide actions -------------------------------------------------------------------

    def exit_code(self) -> int:
        """The verdict's code once there is one (0 works, 1 problems); 2 when the Python the
        user chose is unusable; otherwise (quit before a verdict, mid-probe) not a failure: 0."""
        if self.state.report is not None:
            return self.state.report.exit_code
        if self.state.target is None and self.state.target_error:
            return EXIT_UNUSABLE
        return EXIT_OK

    def action_what_failed(self) -> None:
        """Ask "What failed for you?"; an answer re-examines the chosen Python with it."""
        from tvwizard.tui.screens.what_failed import WhatFailedScreen

        if isinstance(self.screen, WhatFailedScreen):
            return

        def answered(way_in: dict | None) -> None:
            if way_in is None:
                return
            self.state.user_way_in = way_in
            if self.state.target is not None:
                self.start_discovery(self.state.target)

        self.push_screen(WhatFailedScreen(), answered)

    def action_help(self) -> None:
        from tvwizard.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))


def make_app(
    *,
    python: str | None = None,
    timeout: float | None = None,
    resolve_target: TargetResolver | None = None,
    run_session: SessionRunner | None = None,
    rerun_probe: ProbeRerunner | None = None,
    apply_fix: FixApplier | None = None,
    discover_envs: EnvDiscoverer | None = None,
    clock: Clock | None = None,
    probes: Sequence[tuple[str, str]] | None = None,
    preselected: tuple[str, str] | None = None,
    examine_now: bool | None = None,
    cwd: str | None = None,
    environ: dict[str, str] | None = None,
    redactor: object | None = None,
    limits: dict[str, float] | None = None,
    unicode: bool | None = None,
    deps: WizardDeps | None = None,
) -> WizardApp:
    """The wizard, with the real engine for every dependency not given.

    ``python``/``timeout`` are the CLI's ``--python``/``--timeout``; a ``python`` named there
    is examined at once (``examine_now``), the target step one step back.  Tests pass fakes:
    ``run_session`` is ``async (target, on_event) -> Report``, ``rerun_probe`` is
    ``async (target, probe, previous_report, on_event) -> Report``, ``apply_fix`` is
    ``async (fix, target_python, on_line) -> ApplyResult``, ``discover_envs`` is
    ``() -> [EnvCandidate]``, ``clock`` is ``() -> seconds``.
    """
    if deps is None:
        from tvwizard.tui.services import default_deps

        deps = default_deps(python, timeout)
    overrides = {
        "resolve_target": resolve_target,
        "run_session": run_session,
        "rerun_probe": rerun_probe,
        "apply_fix": apply_fix,
        "discover_envs": discover_envs,
        "clock": clock,
        "probes": list(probes) if probes is not None else None,
        "preselected": preselected,
        "examine_now": examine_now,
        "cwd": cwd,
        "environ": environ,
        "redactor": redactor,
        "limits": limits,
        "unicode": unicode,
    }
    deps = replace(deps, **{k: v for k, v in overrides.items() if v is not None})
    return WizardApp(deps)


__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_UNUSABLE", "WizardApp", "WizardDeps", "make_app"]
