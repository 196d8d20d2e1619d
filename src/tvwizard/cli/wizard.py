"""``tvwizard`` with no command, in a terminal: the wizard.  Textual is imported only here."""

from __future__ import annotations

import argparse
import sys


def run_wizard(args: argparse.Namespace) -> int:
    """Run the wizard; its exit code: 0 works, 1 problems, 2 unusable target."""
    from tvwizard.tui.app import make_app

    app = make_app(python=getattr(args, "python", None), timeout=getattr(args, "timeout", None))
    try:
        result = app.run()
    finally:
        if "tvwizard.engine.runner" in sys.modules:  # what the app's teardown left running
            from tvwizard.engine.runner import end_all_probes

            end_all_probes()
    if isinstance(result, int):
        return result
    return app.return_code if app.return_code is not None else app.exit_code()
