"""What every command needs: the target, a diagnosis run, progress on stderr."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from tvwizard.engine.events import ProbeEvent
from tvwizard.model import Report, Target


def resolve_or_exit(args: argparse.Namespace) -> Target:
    """The target, or one clear line and exit code 2."""
    from tvwizard.target import TargetError, resolve_target

    try:
        return resolve_target(getattr(args, "python", None))
    except TargetError as exc:
        print(f"tvwizard: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def diagnose_target(
    target: Target, args: argparse.Namespace, on_event: Callable[[ProbeEvent], None] | None = None
) -> Report:
    from tvwizard.engine.session import SessionOptions, run_session

    opts = SessionOptions()
    timeout = getattr(args, "timeout", None)
    if timeout:
        opts.live_timeout = timeout
        opts.timeout_scale = max(1.0, timeout / 180)
    return asyncio.run(run_session(target, opts, on_event))


def diagnose_with_progress(target: Target, args: argparse.Namespace) -> Report:
    """Run the diagnosis; on a terminal, show which probe is running on stderr."""
    if not sys.stderr.isatty():
        return diagnose_target(target, args)
    from rich.console import Console

    from tvwizard.engine.events import ProbeFinished, ProbeStarted, ProbeStep

    console = Console(stderr=True)
    running: dict[str, str] = {}
    with console.status("Probing…") as status:

        def on_event(ev: ProbeEvent) -> None:
            if isinstance(ev, ProbeStarted):
                running[ev.probe] = ev.probe
            elif isinstance(ev, ProbeStep) and ev.phase == "start":
                running[ev.probe] = ev.step.replace("_", " ")
            elif isinstance(ev, ProbeFinished):
                running.pop(ev.probe, None)
            status.update("Probing… " + ", ".join(running.values()))

        return diagnose_target(target, args, on_event)
