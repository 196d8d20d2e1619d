"""What every command needs: the target, a diagnosis run, progress on stderr.

Latency (see ``benchmarks/``): the import probe is the floor, so nothing tvwizard loads
for itself may stand in front of it.  The engine is imported in a thread while the target
interpreter answers its first question, and modules needed only for the output (rich,
the checklist) load in a thread while the import probe is still running.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable, Sequence

from tvwizard.engine.events import FindingsUpdated, ProbeEvent
from tvwizard.model import Report, Target

TYPE_CHECKING = False  # not typing's: the engine loads in a thread while the target answers
if TYPE_CHECKING:
    from tvwizard.engine.runner import ProbeSpec


def utf8_safe(text: str) -> str:
    """``text`` with each byte of a path that is not UTF-8 written as ``\\udcXX``.

    Such a byte arrives as a lone surrogate (``os.fsdecode``), which no UTF-8 file or
    terminal can take.  Written as its escape it is valid UTF-8, and in JSON it is exactly
    the escape that reads back as the same surrogate, hence the same path (``os.fsencode``).
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def preload(modules: Iterable[str]) -> threading.Thread:
    """Import ``modules`` in a daemon thread (errors are left for the real import to raise)."""
    names = list(modules)

    def work() -> None:
        import importlib

        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                return

    thread = threading.Thread(target=work, name="tvwizard-preload", daemon=True)
    thread.start()
    return thread


def resolve_or_exit(args: argparse.Namespace) -> Target:
    """The target, or one clear line and exit code 2."""
    from tvwizard.target import TargetError, resolve_target

    # Querying the target takes a subprocess; load the engine meanwhile.
    loading = preload(["tvwizard.engine.session"])
    try:
        return resolve_target(getattr(args, "python", None), timeout=getattr(args, "timeout", None))
    except TargetError as exc:
        from tvwizard.inert import inert

        print(f"tvwizard: {inert(exc)}", file=sys.stderr)  # may quote the target's own output
        # Exiting while a daemon thread is inside an import can crash the interpreter's
        # finalization (seen as SIGSEGV under load): let the import finish first.
        loading.join()
        raise SystemExit(2) from None


def _warm_after_static(
    modules: Iterable[str], on_event: Callable[[ProbeEvent], None] | None
) -> Callable[[ProbeEvent], None] | None:
    """Wrap ``on_event``: load ``modules`` once the static findings are in (the import is then
    the only thing left running, on its own core)."""
    names = list(modules)
    if not names:
        return on_event
    started = False

    def sink(ev: ProbeEvent) -> None:
        nonlocal started
        if not started and isinstance(ev, FindingsUpdated):
            started = True
            preload(names)
        if on_event is not None:
            on_event(ev)

    return sink


def user_probe_for(args: argparse.Namespace):
    """The ``user`` probe for ``--import MODULE`` / ``-- COMMAND``, or None when neither was given."""
    imports = getattr(args, "imports", None) or []
    command = getattr(args, "command_argv", None) or []
    if not imports and not command:
        return None
    from tvwizard.engine.registry import user_probe

    return user_probe(imports=imports, command=command, timeout=getattr(args, "timeout", None))


def diagnose_target(
    target: Target,
    args: argparse.Namespace,
    on_event: Callable[[ProbeEvent], None] | None = None,
    *,
    warm: Iterable[str] = (),
    env: dict[str, str] | None = None,
    probes: Sequence[ProbeSpec] | None = None,
) -> Report:
    """Run the diagnosis.  ``warm``: modules the caller needs afterwards, loaded meanwhile.

    ``env``: the environment the probes see (default: ours, i.e. the user's).  ``probes``:
    which to run (default: every standard probe, plus the user's import or command when asked).
    """
    from tvwizard.cli import signals

    return signals.run(diagnose_target_async(target, args, on_event, warm=warm, env=env, probes=probes))


async def diagnose_target_async(
    target: Target,
    args: argparse.Namespace,
    on_event: Callable[[ProbeEvent], None] | None = None,
    *,
    warm: Iterable[str] = (),
    env: dict[str, str] | None = None,
    probes: Sequence[ProbeSpec] | None = None,
) -> Report:
    """:func:`diagnose_target` in a running loop (``fix --apply`` checks again inside its own)."""
    from tvwizard.engine.session import SessionOptions, run_session

    opts = SessionOptions(env=env)
    timeout = getattr(args, "timeout", None)
    if timeout:
        opts.live_timeout = timeout
        opts.timeout_scale = max(1.0, timeout / 180)
    if probes is not None:
        opts.probes = list(probes)
    user = user_probe_for(args)
    if user is not None:
        opts.probes = [*opts.probes, user]
    return await run_session(target, opts, _warm_after_static(warm, on_event))


def diagnose_with_progress(target: Target, args: argparse.Namespace, *, warm: Iterable[str] = ()) -> Report:
    """Run the diagnosis; on a terminal, show which probe is running on stderr."""
    if not sys.stderr.isatty():
        return diagnose_target(target, args, warm=warm)
    from rich.console import Console

    from tvwizard.engine.events import ProbeFinished, ProbeStarted, ProbeStep
    from tvwizard.terminal import unicode_ok

    console = Console(stderr=True)
    running: dict[str, str] = {}
    # the default spinner is braille: only where the locale can show it
    with console.status("Probing...", spinner="dots" if unicode_ok() else "line") as status:

        def on_event(ev: ProbeEvent) -> None:
            if isinstance(ev, ProbeStarted):
                running[ev.probe] = ev.probe
            elif isinstance(ev, ProbeStep) and ev.phase == "start":
                running[ev.probe] = ev.step.replace("_", " ")
            elif isinstance(ev, ProbeFinished):
                running.pop(ev.probe, None)
            status.update("Probing... " + ", ".join(running.values()))

        return diagnose_target(target, args, on_event, warm=warm)
