"""What every step screen has: the step bar, Back/Next, help, and the footer."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer

from tvwizard.tui.widgets.steps import StepBar

if TYPE_CHECKING:
    from tvwizard.tui.app import WizardApp


class WizardScreen(Screen):
    STEP: ClassVar[int] = 1
    #: what each key does on this screen, for the help screen (key, words)
    HELP: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b,escape", "back", "Back", key_display="b"),
        Binding("n", "next", "Next"),
    ]
    WIDE = 110  # at this width and more, panes go side by side

    @property
    def wizard(self) -> WizardApp:
        return self.app  # type: ignore[return-value]

    def compose_top(self):
        yield StepBar(self.STEP, id="steps")

    def compose_bottom(self):
        yield Footer()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= self.WIDE, "wide")
        self.set_class(self.size.height >= 34, "tall")

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()

    def action_next(self) -> None:  # overridden by each step
        pass
