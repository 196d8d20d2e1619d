"""What the wizard and the fleet view share: quitting with the right exit code, and a
command palette that lists the current screen's actions as the footer names them."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen


class ExitCodeApp(App[int]):
    """An app whose exit code is the product's (0 works / 1 problems / 2 unusable)."""

    def exit_code(self) -> int:
        raise NotImplementedError

    async def action_quit(self) -> None:
        code = self.exit_code()
        self.exit(code, return_code=code)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists every action of the current screen, then the app's own."""
        seen: set[str] = set()
        for binding in screen.active_bindings.values():
            b = binding.binding
            if not b.description or b.action in seen or not binding.enabled:
                continue
            seen.add(b.action)
            action = b.action
            yield SystemCommand(
                b.description,
                f"{b.description} (key: {b.key_display or b.key})",
                lambda action=action, screen=screen: self.call_later(screen.run_action, action),
            )
        yield from super().get_system_commands(screen)
