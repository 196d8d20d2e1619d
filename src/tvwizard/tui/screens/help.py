"""`?`: what this step is for and every key it answers to."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tvwizard.tui.base_app import TEXTUAL_OWN

GENERAL = (
    ("?", "this help"),
    ("ctrl+p", "command palette: every action, the steps, themes"),
    ("tab", "next pane; ↑↓ move; enter chooses"),
    ("q / ctrl+c / ctrl+q", "quit (exit code 0 works, 1 problems, 2 unusable target; 0 before a verdict)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close", key_display="esc"),
    ]
    #: keys that work everywhere, listed after the screen's own (the fleet view has its own)
    GENERAL_KEYS: ClassVar[tuple[tuple[str, str], ...]] = GENERAL

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.for_screen = screen

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static(
                Text(f"Help · {type(self.for_screen).__name__.replace('Screen', '')}", style="bold"),
                classes="dialog-title",
            )
            about = getattr(self.for_screen, "HELP", "")
            if about:
                yield Static(Text(about), id="help-about")
            with VerticalScroll(id="help-scroll"):
                yield Static(self._body())

    def _body(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        seen: set[str] = set()
        for key, binding in self.for_screen.active_bindings.items():
            b = binding.binding
            # the step's and the app's keys, not Textual's own focus/copy bindings
            if binding.node not in (self.for_screen, self.app) or not b.description or b.action in TEXTUAL_OWN:
                continue
            if b.action in seen or not binding.enabled:
                continue
            seen.add(b.action)
            table.add_row(b.key_display or key, b.description)
        for key, words in self.GENERAL_KEYS:
            table.add_row(key, words)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
