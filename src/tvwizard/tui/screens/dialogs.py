"""Modal dialogs: confirm before running a fix; choose where to write the report."""

from __future__ import annotations

import os
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tvwizard.model import Fix
from tvwizard.tui import palette


class ConfirmDialog(ModalScreen[bool]):
    """Shows the exact commands; answers True only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Run it"),
        Binding("n,escape", "answer(False)", "Cancel", key_display="n"),
    ]
    AUTO_FOCUS = "#no"

    def __init__(self, fix: Fix) -> None:
        super().__init__()
        self.fix = fix

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Run this fix?", style="bold"), classes="dialog-title")
            # the body scrolls; the buttons stay on screen however small the terminal
            with VerticalScroll(classes="dialog-body"):
                yield Static(Text(palette.text(self.fix.title)))
                commands = Text()
                for i, command in enumerate(self.fix.commands):
                    commands.append(("\n" if i else "") + "$ " + command, style="bold")
                yield Static(commands, id="confirm-commands")
                notes = ["tvwizard runs exactly this, without a shell and never with sudo."]
                if self.fix.download:
                    notes.append(f"It downloads {self.fix.download}.")
                if self.fix.undo:
                    notes.append(f"Undo: {self.fix.undo}")
                yield Static(Text(palette.text(" ".join(notes))), id="confirm-notes")
            with Horizontal(classes="buttons"):
                yield Button("Run it (y)", id="yes", variant="warning")
                yield Button("Cancel (n)", id="no", variant="primary")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class OverwriteDialog(ModalScreen[bool]):
    """The export path names a file that exists: replace it only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Replace it"),
        Binding("n,escape", "answer(False)", "Keep it", key_display="n"),
    ]
    AUTO_FOCUS = "#no"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Replace the file?", style="bold"), classes="dialog-title")
            yield Static(Text(f"{self.path} exists. Replace it with this report?"))
            with Horizontal(classes="buttons"):
                yield Button("Replace (y)", id="yes", variant="warning")
                yield Button("Keep it (n)", id="no", variant="primary")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class ExportDialog(ModalScreen[str | None]):
    """Asks for the report's path; the format follows the extension (.md, .json, .html)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#export-path"

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text("Export the report", style="bold"), classes="dialog-title")
            yield Static(
                Text(
                    "The file gets the redacted report shown in the preview. "
                    "Ending in .md, .json or .html picks the format.",
                )
            )
            yield Input(self.default, id="export-path")
            with Horizontal(classes="buttons"):
                yield Button("Write (enter)", id="write", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).cursor_blink = False

    @on(Input.Submitted, "#export-path")
    def _submitted(self) -> None:
        self._done()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "write":
            self._done()
        else:
            self.dismiss(None)

    def _done(self) -> None:
        value = self.query_one("#export-path", Input).value.strip()
        self.dismiss(os.path.expanduser(value) if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
