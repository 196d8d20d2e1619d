"""What the wizard and the fleet view share: quitting with the right exit code, and a
command palette that lists the current screen's actions as the footer names them."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

#: Textual's own bindings on every screen (focus moves, copy): not actions of ours
TEXTUAL_OWN = frozenset({"app.focus_next", "app.focus_previous", "screen.copy_text", "help_quit"})


class ExitCodeApp(App[int]):
    """An app whose exit code is the product's (0 works / 1 problems / 2 unusable)."""

    def exit_code(self) -> int:
        raise NotImplementedError

    async def action_quit(self) -> None:
        code = self.exit_code()
        self.exit(code, return_code=code)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Each action once: the current screen's (as its footer names them), the app's, then
        Textual's theme and screenshot; no widget internals (cursor keys, "Keys", maximize)."""
        seen_actions: set[str] = set()
        seen_titles: set[str] = set()
        for binding in screen.active_bindings.values():
            b = binding.binding
            if binding.node not in (screen, self) or not b.description or not binding.enabled:
                continue
            if b.action in TEXTUAL_OWN:
                continue
            action = b.action
            if action in seen_actions or b.description in seen_titles:
                continue
            seen_actions.add(action)
            seen_titles.add(b.description)
            yield SystemCommand(
                b.description,
                f"{b.description} (key: {b.key_display or b.key})",
                lambda action=action, node=binding.node: self.call_later(node.run_action, action),
            )
        for command in super().get_system_commands(screen):
            if command.title in ("Theme", "Screenshot") and command.title not in seen_titles:
                yield command
