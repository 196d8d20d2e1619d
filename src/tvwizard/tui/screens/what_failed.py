""" "What failed for you?": the wizard's optional way in from the user's own error (issue 18).

Asked when the user presses ``w`` (any step before the fixes); skipping costs one key (Esc, or
Enter on nothing).  A module name means "import it in the target after the standard probes"
(``check --import``); anything else is a command to run there (``check -- COMMAND``), and it
runs only because the user typed it here.  The answer lives in the app's state and goes with
every diagnosis from then on.
"""

from __future__ import annotations

import re
import shlex
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

_MODULE = re.compile(r"^(?:import\s+)?([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)$")


def parse_answer(text: str) -> dict[str, list[str]] | None:
    """``{"imports": [...]}`` for a module (``basicsr``, ``import basicsr``), ``{"command": argv}``
    for anything else (``python train.py --epochs 1``), None for nothing (skipped)."""
    text = text.strip()
    if not text:
        return None
    module = _MODULE.match(text)
    if module:
        return {"imports": [module.group(1)]}
    try:
        argv = shlex.split(text)
    except ValueError:  # an unclosed quote: take it word by word rather than refuse
        argv = text.split()
    return {"command": argv} if argv else None


class WhatFailedScreen(ModalScreen[dict[str, list[str]] | None]):
    """One optional question; the answer (or None) is what the dialog returns."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "skip", "Skip")]
    AUTO_FOCUS = "#what-failed"

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("What failed for you? (optional)", style="bold"), classes="dialog-title")
            yield Static(
                Text(
                    "A module whose import fails (basicsr), or the command that failed (python train.py). "
                    "tvwizard imports or runs it in the Python being examined, after its own probes, "
                    "isolated like them. Enter on nothing or Esc skips."
                )
            )
            yield Input(placeholder="basicsr   or   python train.py --epochs 1", id="what-failed")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(parse_answer(event.value))

    def action_skip(self) -> None:
        self.dismiss(None)
