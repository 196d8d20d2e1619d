"""SIGTERM, SIGHUP and Ctrl-C end tvwizard cleanly, at any moment.

A Slurm time limit or ``timeout`` sends SIGTERM, a closed SSH session or ``tmux
kill-session`` SIGHUP, a person Ctrl-C (SIGINT).  The probes run in sessions of their own
(so that a hung one can be killed with everything it started), so nothing kills them when
tvwizard dies: tvwizard must.  Each of these signals raises :class:`Stopped`, or cancels
the event loop's main task while one runs, so every probe ends its process group and
removes its fault file on the way out; :func:`tvwizard.engine.runner.end_all_probes` sweeps
whatever is left.  The exit code is 128 + the signal's number (143, 129, 130), as shells do.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Stopped(BaseException):
    """tvwizard got ``signum`` and stops; a BaseException, so no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def install() -> dict[int, Any]:
    """From now on each of :data:`SIGNALS` raises :class:`Stopped` in the main thread; the
    handlers there were before, for :func:`restore`."""
    return {sig: signal.signal(sig, _raise) for sig in SIGNALS}


def restore(handlers: dict[int, Any]) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, where a signal cancels ``coro`` (so it cleans up) and then
    raises :class:`Stopped`."""
    received: list[int] = []

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(sig: int) -> None:
            received.append(sig)
            task.cancel()

        for sig in SIGNALS:
            loop.add_signal_handler(sig, stop, sig)
        try:
            return await coro
        finally:
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
            install()  # remove_signal_handler left the default: back to raising Stopped

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        if received:
            raise Stopped(received[0]) from None
        raise


def exit_after(seconds: float, code: int) -> None:
    """If this process still runs ``seconds`` from now, end every probe and exit with ``code``.

    The last resort of an orderly stop: Textual's shutdown can wait for ever on a terminal
    that is gone (SIGHUP), and a wizard stuck there would hold its probes.  A daemon thread,
    so a process that exits in time takes it along."""
    import os
    import threading
    import time

    def later() -> None:
        time.sleep(seconds)
        from tvwizard.engine.runner import end_all_probes

        end_all_probes()
        os._exit(code)

    threading.Thread(target=later, name="tvwizard-exit-after", daemon=True).start()


def stop_cleanly(exc: Stopped | KeyboardInterrupt) -> int:
    """End what is left, say why in one line (if stderr still listens); the exit code."""
    import sys

    if "tvwizard.engine.runner" in sys.modules:  # no probe ever ran otherwise
        from tvwizard.engine.runner import end_all_probes

        end_all_probes()
    stopped = exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)
    with contextlib.suppress(OSError, ValueError):  # the terminal is gone (SIGHUP): nothing to tell
        print(f"\ntvwizard: stopped by {stopped.name}; its probes were ended.", file=sys.stderr, flush=True)
    return stopped.exit_code
