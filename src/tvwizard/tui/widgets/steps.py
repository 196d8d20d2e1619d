"""The step bar at the top of every screen: where you are in the wizard."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tvwizard.tui import palette

STEPS = ("Target", "Discovery", "Findings", "Fixes", "Report")


def step_text(current: int, width: int = 200) -> Text:
    """``tvwizard  1 Target › 2 Discovery › …`` with step ``current`` (1-based) marked."""
    text = Text("tvwizard ", style="bold")
    short = width < 70
    for i, name in enumerate(STEPS, 1):
        if i > 1:
            text.append(f" {palette.mark('next')} ", style=palette.style("muted"))
        label = f"{i} {name}" if not short or i == current else str(i)
        if i == current:
            text.append(f" {label} ", style="bold reverse")
        elif i < current:
            text.append(label, style="")
        else:
            text.append(label, style=palette.style("muted"))
    return text


class StepBar(Static):
    """One line; ``step`` is 1-based."""

    def __init__(self, step: int, **kwargs) -> None:
        super().__init__(step_text(step), **kwargs)
        self.step = step

    def on_resize(self) -> None:
        self.update(step_text(self.step, self.size.width))
