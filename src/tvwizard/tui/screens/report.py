"""Step 5: the shareable report, redacted, as it will be written; export to a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, TextArea

from tvwizard.tui import palette
from tvwizard.tui.screens.base import WizardScreen

DEFAULT_NAME = "tvwizard-report.md"


class ReportScreen(WizardScreen):
    STEP = 5
    HELP = (
        "This is the report as it will be shared: your home folder, user and host names, GPU "
        "UUIDs and anything that looks like a token are taken out. e writes it to a file "
        "(.md, .json or .html; an existing file is replaced only after you say so); c copies "
        "the Markdown. After a fix tvwizard ran, the report says what was changed."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", "Export…"),
        Binding("c", "copy", "Copy"),
    ]
    AUTO_FOCUS = "#report-preview"

    def __init__(self) -> None:
        super().__init__()
        self.markdown = ""
        self.shared: dict = {}
        self.written: str | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static("", id="redaction")
        yield TextArea("", id="report-preview", read_only=True, soft_wrap=True, show_cursor=False)
        yield Static("", id="export-status")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        from tvwizard.report import prepare_report, render_markdown, summary_lines

        report = self.wizard.shared_report()
        assert report is not None
        self.shared, summary = prepare_report(report.to_dict(), redactor=self.wizard.deps.redactor)
        self.markdown = render_markdown(self.shared)
        area = self.query_one("#report-preview", TextArea)
        area.cursor_blink = False
        area.load_text(self.markdown)
        area.border_title = "Preview (Markdown, redacted)"
        words = " ".join(summary_lines(summary)[:2])
        if report.changes:
            words += f" It says what was changed: {len(report.changes)} fix(es) run here."
        self.query_one("#redaction", Static).update(Text(words, style=palette.style("muted")))
        self._status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "next"  # the last step: q quits

    def default_path(self) -> str:
        return os.path.join(self.wizard.deps.cwd, DEFAULT_NAME)

    def _status(self, text: Text | None = None) -> None:
        if text is None:
            text = Text("Not written yet: ", style=palette.style("muted"))
            text.append("e", style="bold")
            text.append(f" writes it (default {self.default_path()}).", style=palette.style("muted"))
        self.query_one("#export-status", Static).update(text)

    def action_export(self) -> None:
        from tvwizard.tui.screens.dialogs import ExportDialog

        self.app.push_screen(ExportDialog(self.written or self.default_path()), self.write)

    def write(self, path: str | None) -> None:
        """Write to ``path``; an existing file (other than the one written here) only after a yes."""
        if not path:
            return
        p = Path(path)
        if not p.is_absolute():
            p = Path(self.wizard.deps.cwd) / p
        if p.is_dir():
            p = p / DEFAULT_NAME
        if p.is_file() and str(p) != self.written:
            from tvwizard.tui.screens.dialogs import OverwriteDialog

            def answered(yes: bool | None) -> None:
                if yes:
                    self._write(p)
                else:
                    self._status(Text(f"Not written: {p} is kept as it was.", style=palette.style("warning")))

            self.app.push_screen(OverwriteDialog(str(p)), answered)
            return
        self._write(p)

    def _write(self, p: Path) -> None:
        from tvwizard.report import format_for_path, render_html, render_json

        fmt = format_for_path(str(p))
        text = {
            "md": lambda: self.markdown,
            "json": lambda: render_json(self.shared),
            "html": lambda: render_html(self.shared),
        }[fmt]()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            self._status(
                Text(
                    f"{palette.mark('error')} Could not write {p}: {exc.strerror or exc}", style=palette.style("error")
                )
            )
            return
        self.written = str(p)
        size = p.stat().st_size
        self._status(
            Text.assemble(
                (f"{palette.mark('ok')} Written to ", palette.style("ok")),
                (str(p), "bold"),
                (f"  ({size:,} bytes, {fmt})", palette.style("muted")),
            )
        )
        self.notify(f"Report written to {p}", timeout=4)

    def action_copy(self) -> None:
        from tvwizard.tui.clipboard import send

        where = send(self.app, self.markdown, self.wizard.deps.environ)
        self._status(Text(f"The Markdown report was {where}.", style=palette.style("ok")))
