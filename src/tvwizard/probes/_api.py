"""The probe side of the channel: how a probe talks to tvwizard.

This module runs inside the *target* interpreter.  It must stay stdlib-only and parse on
Python 3.8.  A probe never prints its findings: torch, numpy and CUDA write to stdout and
stderr whenever they like, so those streams are only the probe's log.  Structured events go
to a private pipe whose file descriptor tvwizard passes in, one JSON object per line.

Events (``"t"`` is the type):

``log``      ``{"t": "log", "msg": str}``: a line for the live log.
``step``     ``{"t": "step", "name": str, "phase": "start"}`` then
             ``{"t": "step", "name": str, "phase": "end", "status": "ok"|"error"|"skipped",
             "duration": float, "data": {...}}``.  A step that starts and never ends is how
             tvwizard knows which step a crash or a hang happened in.
``data``     ``{"t": "data", "key": str, "value": ...}``: one fact, sent as soon as known.
``result``   ``{"t": "result", "data": {...}}``: the probe's whole data, sent last.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from contextlib import contextmanager

__all__ = ["Context", "StepFailed", "format_exception"]


class StepFailed(Exception):
    """Raised inside a step to end it with status ``error`` and a message, without a traceback."""


def _clean(value):
    """Make a value JSON-safe: lone surrogates (undecodable bytes in paths) become U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            try:  # bytes smuggled in by os.fsdecode: one U+FFFD per bad byte
                return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:  # other lone surrogates
                return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(_clean(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _clean(repr(value))


_HERE = os.path.dirname(os.path.abspath(__file__))


def _outside_probes(tb):
    """The traceback without its leading frames in tvwizard's probes: users see their code."""
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_HERE + os.sep):
        if tb.tb_next is None:
            break  # the error is raised in a probe itself: keep that frame
        tb = tb.tb_next
    return tb


def format_exception(exc):
    """The exception as data: type, message and the traceback from the probed code on."""
    tb = _outside_probes(exc.__traceback__)
    return {
        "type": type(exc).__module__ + "." + type(exc).__name__
        if type(exc).__module__ not in ("builtins", "__main__")
        else type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
    }


class Context:
    """What a probe's ``run(ctx)`` gets: options from tvwizard and a way to report."""

    def __init__(self, channel, options=None):
        self._channel = channel
        self._lock = threading.Lock()
        self.options = options or {}

    def emit(self, event):
        line = json.dumps(_clean(event), ensure_ascii=True, sort_keys=True) + "\n"
        data = line.encode("ascii")
        with self._lock:
            if self._channel is None:
                return
            try:
                self._channel.write(data)
                self._channel.flush()
            except (OSError, ValueError):
                self._channel = None  # tvwizard went away; keep running quietly

    def log(self, msg):
        self.emit({"t": "log", "msg": str(msg)})

    def fact(self, key, value):
        """Send one piece of data now, so it survives if the probe dies later."""
        self.emit({"t": "data", "key": str(key), "value": value})

    @contextmanager
    def step(self, name):
        """Run one step; yields a dict the step fills.  Errors end the step, not the probe.

        ``StepFailed`` and ordinary exceptions become ``status: error`` with the exception
        in ``data["error"]``.  ``KeyboardInterrupt``/``SystemExit`` propagate.
        """
        data = {}
        self.emit({"t": "step", "name": name, "phase": "start"})
        start = time.perf_counter()
        status = "ok"
        try:
            yield data
        except StepFailed as exc:
            status = "error"
            data.setdefault("error", {"type": "StepFailed", "message": str(exc), "traceback": ""})
        except Exception as exc:  # a probe step must never take the probe down
            status = "error"
            data["error"] = format_exception(exc)
        if data.get("skipped"):
            status = "skipped"
        self.emit(
            {
                "t": "step",
                "name": name,
                "phase": "end",
                "status": status,
                "duration": round(time.perf_counter() - start, 6),
                "data": data,
            }
        )

    def skip(self, name, reason):
        """Record a step that did not run, and why."""
        self.emit({"t": "step", "name": name, "phase": "start"})
        self.emit(
            {
                "t": "step",
                "name": name,
                "phase": "end",
                "status": "skipped",
                "duration": 0.0,
                "data": {"skipped": reason},
            }
        )


def open_channel(fd):
    """Open tvwizard's pipe; keep it out of any process the probed code starts."""
    try:
        os.set_inheritable(fd, False)
        return os.fdopen(fd, "wb", buffering=0)
    except OSError:
        return None


def main(module, fd, options, fault_path=None):
    """Entry point used by the bootstrap: run ``module.run(ctx)`` and send its result."""
    if fault_path:
        import faulthandler
        import signal

        # Crash tracebacks (SIGSEGV, SIGABRT, …) and, on SIGUSR1, a dump of every thread
        # (tvwizard sends it before killing a probe that timed out) go to a file of their
        # own, so they are never mixed with what the probed libraries print.
        fault_file = open(fault_path, "w")  # noqa: SIM115 - must stay open for faulthandler
        faulthandler.enable(file=fault_file, all_threads=True)
        if hasattr(signal, "SIGUSR1"):
            faulthandler.register(signal.SIGUSR1, file=fault_file, all_threads=True, chain=False)
    ctx = Context(open_channel(fd), options)
    try:
        data = module.run(ctx)
    except Exception as exc:
        ctx.emit({"t": "result", "data": {}, "error": format_exception(exc)})
        sys.exit(1)
    ctx.emit({"t": "result", "data": data if data is not None else {}})
