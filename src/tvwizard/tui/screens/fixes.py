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
from tvwizard.inert import inert_line
from tvwizard.model import Finding, Fix
from tvwizard.tui import palette
from tvwizard.tui.screens.base import WizardScreen
from tvwizard.tui.widgets.detail import fix_detail


class CommandBlock(TextArea):
    """One command: unwrapped (scroll sideways with the arrows), focusable, copied alone by c."""

    DEFAULT_CSS = """
    CommandBlock {
        height: 2;
        border: none;
        padding: 0 1;
        margin-bottom: 1;
        scrollbar-size-horizontal: 1;
    }
    CommandBlock:focus {
        border: none;
        background: $boost;
    }
    """

    def __init__(self, command: str, number: int) -> None:
        # Shown with its control characters visible; `c` copies the command itself.
        super().__init__(inert_line(command), read_only=True, soft_wrap=False, show_cursor=False, classes="command")
        self.command = command
        self.number = number
        self.cursor_blink = False


class FixScreen(WizardScreen):
    STEP = 4
    HELP = (
        "c copies the commands: it sends them to the terminal's clipboard (OSC 52: works over SSH "
        "when your terminal allows it) and, inside tmux, to tmux's paste buffer. Each command is "
        "its own block: tab to one and c copies only that one; the arrows scroll a long one. a runs "
        "the fix for you, after showing the exact command; then every probe runs again to check it "
        "worked. s switches the shell env-var lines are written for. n goes on to the report."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Report"),
        Binding("c", "copy", "Copy"),
        Binding("a", "apply", "Apply..."),
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
        head.append(palette.text(self.finding.title))
        yield Static(head, id="fix-for")
        yield OptionList(
            *[
                Option(Text(f"{i}. {palette.text(f.title)}"), id=str(i - 1))
                for i, f in enumerate(self.finding.fixes, 1)
            ],
            id="fix-choices",
        )
        with VerticalScroll(id="fix-info"):
            yield Static("", id="fix-why")
        yield VerticalScroll(id="fix-commands")
        yield Static("", id="fix-status")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        self.query_one("#fix-choices", OptionList).highlighted = 0
        self._show()

    def lines(self) -> list[str]:
        return fix_lines(self.fix, self.wizard.state.shell)

    def _show(self) -> None:
        fix = self.fix
        self.query_one("#fix-why", Static).update(fix_detail(fix))
        box = self.query_one("#fix-commands", VerticalScroll)
        box.remove_children()
        lines = self.lines()
        if lines:
            box.mount_all(CommandBlock(line, n) for n, line in enumerate(lines, 1))
        else:
            box.mount(Static("(nothing to run: follow the steps above by hand)"))
        if fix.kind == "env":
            box.border_title = f"For {LABELS[self.wizard.state.shell]} (s: other shells)"
        else:
            box.border_title = "Commands" + (" (one per block; tab to one, c copies it)" if len(lines) > 1 else "")
        self.refusal = None
        target = self.wizard.state.target
        if fix.kind != "env" or not fix.env:
            try:
                self.wizard.deps.check_runnable(fix, (target.executable or target.python) if target else "")
            except Exception as exc:
                self.refusal = str(exc)
        self._status()
        self.refresh_bindings()

    def _status(self, done: str = "") -> None:
        fix = self.fix
        status = Text()
        if done:
            status.append(done + "\n", style=palette.style("ok"))
        if self.wizard.state.report is None:
            status.append("The probes still run: a (apply and check) comes when they are done. ")
        elif fix.kind == "env" and fix.env:
            status.append(
                "Run these lines in your shell, then start Python again; a checks them first (nothing is changed). "
            )
        elif self.refusal is None:
            status.append("a runs it for you (after you confirm), then checks again. ")
        else:
            status.append(f"tvwizard does not run this one ({palette.text(self.refusal)}): run it yourself. ")
        if self.lines():
            status.append("c copies it.", style=palette.style("muted"))
        self.query_one("#fix-status", Static).update(status)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index != self.index:
            self.index = event.option_index
            self._show()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.index = event.option_index
        self._show()
        blocks = self.query(CommandBlock)
        if blocks:
            blocks.first().focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply":
            if self.wizard.state.report is None:
                return False
            return (self.fix.kind == "env" and bool(self.fix.env)) or self.refusal is None
        if action == "shell":
            return self.fix.kind == "env"
        if action == "copy":
            return bool(self.lines())
        return True

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.finding.fixes):
            self.query_one("#fix-choices", OptionList).highlighted = n - 1

    def action_copy(self) -> None:
        from tvwizard.tui.clipboard import send

        lines = self.lines()
        if not lines:
            return
        focused = self.focused
        if isinstance(focused, CommandBlock) and len(lines) > 1:
            text, what = focused.command, f"Command {focused.number} of {len(lines)}"
        else:
            text = "\n".join(lines)
            what = "The command" if len(lines) == 1 else f"All {len(lines)} lines"
        where = send(self.app, text, self.wizard.deps.environ)
        self._status(f"{what} {'was' if what.startswith(('The', 'Command')) else 'were'} {where}. Or select the text.")

    def action_shell(self) -> None:
        if self.fix.kind == "env":
            self.wizard.state.shell = next_shell(self.wizard.state.shell)
            self._show()

    def action_apply(self) -> None:
        if not self.check_action("apply", ()):
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
