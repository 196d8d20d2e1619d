"""``tvwizard`` with no command, in a terminal: the wizard.  Textual is imported only here."""

from __future__ import annotations

import argparse
import sys


def run_wizard(args: argparse.Namespace) -> int:
    """Run the wizard; its exit code: 0 works, 1 problems, 2 unusable target."""
    import signal

    from tvwizard.cli.signals import SIGNALS
    from tvwizard.tui.app import make_app

    app = make_app(python=getattr(args, "python", None), timeout=getattr(args, "timeout", None))
    # Until the app's own loop takes the signals over (WizardApp.on_mount): noted, not raised.
    before = {sig: signal.signal(sig, lambda signum, _frame: app.signal_before_mount(signum)) for sig in SIGNALS}
    try:
        result = app.run()
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        if "tvwizard.engine.runner" in sys.modules:  # what the app's teardown left running
            from tvwizard.engine.runner import end_all_probes

            end_all_probes()
    if isinstance(result, int):
        return result
    return app.return_code if app.return_code is not None else app.exit_code()
