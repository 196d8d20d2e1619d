"""The fleet view's app and its factory: ``tvwizard fleet DIR`` in a terminal.

``make_fleet_app(summary)`` builds a :class:`FleetApp` over an already aggregated
:class:`tvwizard.fleet.FleetSummary`; it reads no file and runs nothing, so tests give it
any summary.  Quitting returns the fleet's exit code (0 all healthy, 1 some broken or
unreadable, 2 none readable), the same as ``tvwizard fleet --plain``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from textual.binding import Binding, BindingType

from tvwizard.fleet import FleetSummary
from tvwizard.tui.base_app import ExitCodeApp


class FleetApp(ExitCodeApp):
    TITLE = "tvwizard fleet"
    CSS_PATH: ClassVar[list[str]] = ["app.tcss", "fleet.tcss"]  # the wizard's look, plus the fleet's panes
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, summary: FleetSummary, *, ascii: bool = False, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.summary = summary
        self.ascii = ascii
        theme = (os.environ if environ is None else environ).get("TVWIZARD_THEME", "")
        if theme in self.available_themes:
            self.theme = theme

    def on_mount(self) -> None:
        from tvwizard.tui.screens.fleet import FleetScreen

        self.push_screen(FleetScreen(self.summary, ascii=self.ascii))

    def exit_code(self) -> int:
        return self.summary.exit_code

    def action_help(self) -> None:
        from tvwizard.tui.screens.fleet import FleetHelpScreen
        from tvwizard.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(FleetHelpScreen(self.screen))


def make_fleet_app(summary: FleetSummary, *, ascii: bool = False, environ: Mapping[str, str] | None = None) -> FleetApp:
    """The fleet view over ``summary`` (from :func:`tvwizard.fleet.aggregate`).

    ``ascii``: ASCII status marks (``--ascii``); ``environ``: where ``TVWIZARD_THEME`` is
    read (default ``os.environ``).
    """
    return FleetApp(summary, ascii=ascii, environ=environ)


def run_fleet_app(summary: FleetSummary, *, ascii: bool = False) -> int:
    """Run the view in this terminal; the fleet's exit code."""
    app = make_fleet_app(summary, ascii=ascii)
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code if app.return_code is not None else summary.exit_code


__all__ = ["FleetApp", "make_fleet_app", "run_fleet_app"]
