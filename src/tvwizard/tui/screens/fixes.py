"""Step 4: the fix for the selected finding.  The commands (or env-var lines for the user's
shell) are shown as selectable text and copied with OSC 52, which reaches the local
terminal over SSH.  `a` runs an applicable fix, after a confirmation showing the exact
command."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static, TextArea
from textual.widgets.option_list import Option

from tvwizard.fixes.shell import LABELS, fix_lines, next_shell
from tvwizard.model import Finding, Fix
from tvwizard.tui.screens.base import WizardScreen
from tvwizard.tui.widgets.detail import fix_detail


class FixScreen(WizardScreen):
    STEP = 4
    HELP = (
        "c copies the commands to your clipboard through the terminal (OSC 52: works over SSH "
        "when your terminal allows it); they are also plain text you can select. a runs the fix "
        "for you, after showing the exact command; then every probe runs again to check it "
        "worked. s switches the shell env-var lines are written for."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Report"),
        Binding("c", "copy", "Copy"),
        Binding("a", "apply", "Apply…"),
        Binding("s", "shell", "Shell"),
        *[Binding(str(i), f"choose({i})", f"Fix {i}", show=False) for i in range(1, 10)],
    ]
    AUTO_FOCUS = "#fix-choices"

    def __init__(self, finding: Finding) -> None:
        super().__init__()
        self.finding = finding
        self.index = 0
        self.refusal: str | None = None

    @property
    def fix(self) -> Fix:
        return self.finding.fixes[self.index]

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        head = Text("Fix: ", style="bold")
        head.append(self.finding.title)
        yield Static(head, id="fix-for")
        yield OptionList(
            *[Option(Text(f"{i}. {f.title}"), id=str(i - 1)) for i, f in enumerate(self.finding.fixes, 1)],
            id="fix-choices",
        )
        with VerticalScroll(id="fix-info"):
            yield Static("", id="fix-why")
        yield TextArea("", id="fix-commands", read_only=True, soft_wrap=True, show_cursor=False)
        yield Static("", id="fix-status")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        area = self.query_one("#fix-commands", TextArea)
        area.cursor_blink = False
        self.query_one("#fix-choices", OptionList).highlighted = 0
        self._show()

    def lines(self) -> list[str]:
        return fix_lines(self.fix, self.wizard.state.shell)

    def _show(self) -> None:
        fix = self.fix
        self.query_one("#fix-why", Static).update(fix_detail(fix))
        area = self.query_one("#fix-commands", TextArea)
        lines = self.lines()
        area.load_text("\n".join(lines) if lines else "(nothing to run: follow the steps above by hand)")
        if fix.kind == "env":
            area.border_title = f"For {LABELS[self.wizard.state.shell]} (s: other shells)"
        else:
            area.border_title = "Commands"
        self.refusal = None
        target = self.wizard.state.target
        if fix.kind != "env" or not fix.env:
            try:
                self.wizard.deps.check_runnable(fix, (target.executable or target.python) if target else "")
            except Exception as exc:
                self.refusal = str(exc)
        status = Text()
        if fix.kind == "env" and fix.env:
            status.append(
                "Run these lines in your shell, then start Python again; a checks them first (nothing is changed). ",
                style="",
            )
        elif self.refusal is None:
            status.append("a runs it for you (after you confirm). ", style="")
        status.append("c copies it.", style="dim")
        self.query_one("#fix-status", Static).update(status)
        self.refresh_bindings()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.index:
            self.index = event.option_index
            self._show()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.index = event.option_index
        self._show()
        self.query_one("#fix-commands", TextArea).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            return True if self.refusal is None else None
        if action == "shell":
            return self.fix.kind == "env"
        if action == "copy":
            return True if self.lines() else None
        if action == "choose":
            return True
        return True

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.finding.fixes):
            self.query_one("#fix-choices", OptionList).highlighted = n - 1

    def action_copy(self) -> None:
        lines = self.lines()
        if not lines:
            return
        text = "\n".join(lines)
        self.app.copy_to_clipboard(text)
        what = "line" if len(lines) == 1 else "lines"
        self.query_one("#fix-status", Static).update(
            Text(f"Copied {len(lines)} {what} to the clipboard (via your terminal; or select the text).", style="green")
        )
        self.notify("Copied to the clipboard", timeout=2)

    def action_shell(self) -> None:
        if self.fix.kind == "env":
            self.wizard.state.shell = next_shell(self.wizard.state.shell)
            self._show()

    def action_apply(self) -> None:
        if self.refusal is not None:
            self.notify(self.refusal, severity="warning")
            return
        from tvwizard.tui.screens.dialogs import ConfirmDialog

        fix = self.fix
        if fix.kind == "env" and fix.env:  # changes nothing: no confirmation needed
            self.wizard.apply(self.finding, fix)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.wizard.apply(self.finding, fix)

        self.app.push_screen(ConfirmDialog(fix), answered)

    def action_next(self) -> None:
        self.wizard.show_report()
