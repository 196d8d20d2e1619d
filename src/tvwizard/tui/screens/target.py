"""Step 1: which Python to examine.  The likely one is preselected; the others found on
this machine are listed (venvs, conda, pyenv, Jupyter kernels), and any path can be typed."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tvwizard.envs import EnvCandidate
from tvwizard.target import TargetError
from tvwizard.tui import palette
from tvwizard.tui.screens.base import WizardScreen

MIN_PYTHON = "3.8"


def too_old(cand: EnvCandidate) -> bool:
    """A Python older than 3.8: the probes cannot run there, so it is listed, not offered."""
    parts = cand.version.split(".")
    try:
        return (int(parts[0]), int(parts[1])) < (3, 8)
    except (IndexError, ValueError):
        return False


def _short(path: str, home: str) -> str:
    h = home.rstrip("/")
    if h and (path == h or path.startswith(h + "/")):
        return "~" + path[len(h) :]
    return path


class TargetScreen(WizardScreen):
    STEP = 1
    HELP = (
        "Choose the Python whose torchvision you want checked. The active virtualenv or conda "
        "env (else python3 on PATH, or --python) is preselected. Jupyter kernels are listed with "
        "the interpreter each one runs: a notebook often runs another Python than your terminal."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Examine"),
        Binding("slash,p", "focus_path", "Type a path", key_display="/"),
    ]
    AUTO_FOCUS = "#envs"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[tuple[str, str | None, EnvCandidate | None]] = []  # (python, how, candidate)
        self.home = os.path.expanduser("~")

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static("Which Python should tvwizard examine?", id="question", classes="title")
        yield Static(
            palette.text("↑↓ choose, enter (or n) examines it; / types a path to an interpreter or env folder."),
            id="hint",
            classes="hint",
        )
        yield OptionList(id="envs")
        with Horizontal(id="path-row"):
            yield Label("Path ", id="path-label")
            yield Input(placeholder="/path/to/python or an env folder", id="path")
        yield Static("", id="target-status")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        self.query_one("#path", Input).cursor_blink = False
        deps = self.wizard.deps
        if deps.preselected is not None:
            python, how = deps.preselected
            self.entries.append((python, how, None))
        self._refresh_options()
        self.find_envs()
        if deps.examine_now and deps.preselected is not None:
            # named on the command line: no need to ask; `b` from discovery comes back here
            python, how = deps.preselected
            self.examine(python, how, preselected=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":  # nothing before the first step; Esc only leaves the Path field
            return self.query_one("#path", Input).has_focus
        return True

    def action_back(self) -> None:
        path = self.query_one("#path", Input)
        if path.has_focus:
            self.query_one("#envs", OptionList).focus()

    # -- the list --------------------------------------------------------------------------

    def _prompt(self, python: str, how: str | None, cand: EnvCandidate | None) -> Text:
        muted = palette.style("muted")
        text = Text()
        if cand is None:
            text.append(f"{palette.mark('selected')} ", style=palette.style("ok"))
            text.append(_short(python, self.home), style="bold")
            text.append(f"  {how}", style=muted)
            return text
        text.append("  ")
        text.append(cand.name, style="bold")
        version = f" {cand.version}" if cand.version and cand.version != cand.name else ""
        text.append(f"  {cand.kind}{version}", style=muted)
        if too_old(cand):
            text.append(f"  not supported: tvwizard's probes need Python {MIN_PYTHON}+", style=palette.style("warning"))
        if cand.kernels:
            text.append("  kernel " + ", ".join(f'"{k}"' for k in cand.kernels), style="magenta")
        text.append(f"\n    {_short(cand.python, self.home)}", style=muted)
        if cand.source and cand.kind != "jupyter":
            text.append(f"  ({cand.source})", style=muted)
        return text

    def _refresh_options(self) -> None:
        ol = self.query_one("#envs", OptionList)
        highlighted = ol.highlighted
        ol.clear_options()
        ol.add_options(
            [
                Option(self._prompt(*e), id=str(i), disabled=bool(e[2] and too_old(e[2])))
                for i, e in enumerate(self.entries)
            ]
        )
        if self.entries:
            ol.highlighted = highlighted if highlighted is not None and highlighted < len(self.entries) else 0
        else:
            self._status("No Python found on PATH; type a path below.", "warning")

    @work(exclusive=True, group="envs")
    async def find_envs(self) -> None:
        deps = self.wizard.deps
        try:
            found = await asyncio.to_thread(deps.discover_envs)
        except Exception as exc:  # discovery is a convenience; never fatal
            self._status(f"Could not list environments: {exc}", "warning")
            return
        pre = deps.preselected[0] if deps.preselected else None
        pre_real = os.path.realpath(pre) if pre else None
        for cand in found:
            if pre is not None and (cand.python == pre or os.path.realpath(cand.python) == pre_real):
                if cand.kernels or cand.prefix:
                    python, how, _ = self.entries[0]
                    kern = f"; kernel {', '.join(cand.kernels)}" if cand.kernels else ""
                    self.entries[0] = (python, f"{how}{kern}", None)
                continue
            self.entries.append((cand.python, None, cand))
        self._refresh_options()

    # -- choosing ----------------------------------------------------------------------------

    def _status(self, message: str, kind: str = "") -> None:
        status = self.query_one("#target-status", Static)
        status.update(Text(message))
        status.set_classes(kind)

    @on(OptionList.OptionSelected, "#envs")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.examine_entry(event.option_index)

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if path:
            self.examine(os.path.expanduser(path), "typed in the wizard")

    def action_focus_path(self) -> None:
        self.query_one("#path", Input).focus()

    def action_next(self) -> None:
        path = self.query_one("#path", Input)
        if path.has_focus and path.value.strip():
            self.examine(os.path.expanduser(path.value.strip()), "typed in the wizard")
            return
        index = self.query_one("#envs", OptionList).highlighted
        if index is not None:
            self.examine_entry(index)

    def examine_entry(self, index: int) -> None:
        python, how, cand = self.entries[index]
        if cand is not None and too_old(cand):
            self._status(
                f"Python {cand.version} is not supported: tvwizard's probes need Python {MIN_PYTHON}+.", "warning"
            )
            return
        if cand is None:
            self.examine(python, how or "", preselected=True)
        else:
            words = f"chosen in the wizard ({cand.kind}"
            if cand.kernels:
                words += ", Jupyter kernel " + ", ".join(cand.kernels)
            self.examine(python, words + ")")

    @work(exclusive=True, group="resolve")
    async def examine(self, python: str, how: str, preselected: bool = False) -> None:
        deps = self.wizard.deps
        self._status(f"Checking {python} …")
        # The preselected one (when not --python) is resolved as the default, so the
        # report says how it was chosen (active venv, python3 on PATH …).
        arg = None if preselected and how != "--python" else python
        try:
            target = await asyncio.to_thread(deps.resolve_target, arg)
        except TargetError as exc:
            self.wizard.state.target_error = str(exc)
            self._status(f"✗ {exc}", "error")
            return
        if arg is not None and how != "--python":
            target = replace(target, how_chosen=how)
        self.wizard.state.target_error = None
        self._status("")
        self.wizard.start_discovery(target)
