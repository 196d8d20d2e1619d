"""Copy text for the user, and say honestly where it went.

The wizard cannot know whether the terminal took the OSC 52 sequence (tmux with its default
``set-clipboard external`` drops it; macOS Terminal ignores it), so it never says "copied":
it says "sent to the terminal's clipboard (OSC 52)".  Inside tmux the text also goes into
tmux's paste buffer (``tmux load-buffer -``), which does not depend on any of that.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from textual.app import App


def load_tmux_buffer(text: str) -> bool:
    try:
        subprocess.run(["tmux", "load-buffer", "-"], input=text.encode(), capture_output=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def send(app: App, text: str, environ: Mapping[str, str]) -> str:
    """Copy ``text``; returns where it went, in words for the status line."""
    app.copy_to_clipboard(text)
    words = "sent to the terminal's clipboard (OSC 52; whether it arrived is your terminal's call)"
    if environ.get("TMUX"):
        if load_tmux_buffer(text):
            words += " and put in tmux's paste buffer (tmux load-buffer; prefix ] pastes it)"
        else:
            words += "; tmux load-buffer failed"
    return words
