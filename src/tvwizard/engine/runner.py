"""Run one probe in a subprocess of the target interpreter, and survive whatever it does.

The child may hang, die by a signal, print megabytes, print bytes that are not UTF-8, or
leave grandchildren holding its pipes.  Each of those ends here as a :class:`ProbeRun` with
a status (ok / failed / crashed / timeout / error) and everything that arrived before.

Three streams come back, kept apart:

- the *channel*, a private pipe (fd passed with ``pass_fds``) carrying JSON events;
- stdout and stderr, which belong to the probed libraries: they are the probe's log,
  bounded (line length, line count) and decoded with replacement characters;
- a *fault file*, where faulthandler writes the Python traceback at a crash, or of every
  thread when tvwizard sends SIGUSR1 to a probe that ran out of time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvwizard.engine.events import ProbeEvent, ProbeFinished, ProbeLog, ProbeStarted, ProbeStep
from tvwizard.model import LogLine, ProbeRun, RunStatus, StepResult
from tvwizard.probes import BOOTSTRAP

PROBES_DIR = str(Path(__file__).resolve().parent.parent / "probes")

EventSink = Callable[[ProbeEvent], None]

# The probes' process groups and fault files now.  Each run removes its own when it has ended
# its group and removed the file; :func:`end_all_probes` is the last resort when tvwizard is
# stopped by a signal before that could happen.
_RUNNING: set[int] = set()
_FAULT_FILES: set[str] = set()


def end_all_probes() -> None:
    """Kill every probe's process group and remove every fault file still there.

    For the moment tvwizard stops (SIGTERM, SIGHUP, Ctrl-C): whatever the event loop could
    not clean up itself goes here.  Safe to call at any time, from the main thread.
    """
    for pgid in list(_RUNNING):
        _killpg(pgid, signal.SIGKILL)
        _RUNNING.discard(pgid)
    for path in list(_FAULT_FILES):
        with contextlib.suppress(OSError):
            os.unlink(path)
        _FAULT_FILES.discard(path)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one probe may cost tvwizard in memory."""

    line_chars: int = 4000  # longer log lines are cut, with a note
    head_lines: int = 500  # first lines of the log kept …
    tail_lines: int = 2000  # … and the last ones
    event_bytes: int = 32 * 1024 * 1024  # one channel event; larger ones are dropped
    channel_bytes: int = 64 * 1024 * 1024  # all data/step/log events kept; later ones are dropped
    fault_bytes: int = 256 * 1024
    dump_grace: float = 0.5  # time for faulthandler's dump after SIGUSR1
    drain_grace: float = 2.0  # at most this long to read what is left in the pipes after exit …
    drain_quiet: float = 0.1  # … and no longer than until they stay quiet this long (a daemon holds them)


@dataclass(frozen=True)
class ProbeSpec:
    """A probe: which module of :mod:`tvwizard.probes` runs, how long it may take."""

    name: str
    title: str
    module: str
    timeout: float = 30.0
    live: bool = False  # imports torch: slow, and the one that can crash
    after_live: bool = False  # starts once the live probe is done (the user's own code: never beside it)
    options: dict[str, Any] = field(default_factory=dict)
    # Limits for single steps, by name or by the part before ":" ("nms_cuda" for
    # "nms_cuda:1"): a hung CUDA call ends its step, not the whole budget of the probe.
    step_timeouts: dict[str, float] = field(default_factory=dict)

    def step_timeout(self, step: str) -> float | None:
        return self.step_timeouts.get(step, self.step_timeouts.get(step.split(":", 1)[0]))


class _LogCollector:
    """Keeps the head and the tail of a log; counts what it drops."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.head: list[LogLine] = []
        self.tail: deque[LogLine] = deque(maxlen=limits.tail_lines)
        self.dropped_bytes = 0
        self.dropped_lines = 0

    def add(self, line: LogLine) -> None:
        if len(self.head) < self.limits.head_lines:
            self.head.append(line)
            return
        if len(self.tail) == self.tail.maxlen:
            old = self.tail[0]
            self.dropped_lines += 1
            self.dropped_bytes += len(old.text) + 1
        self.tail.append(line)

    def lines(self) -> list[LogLine]:
        out = list(self.head)
        if self.dropped_lines:
            out.append(
                LogLine(
                    "probe",
                    f"[tvwizard: {self.dropped_lines} log lines not kept ({self.dropped_bytes} bytes)]",
                )
            )
        out.extend(self.tail)
        return out


class _LineSplitter:
    """Bytes in, bounded lines out: long lines are cut, never buffered without limit."""

    def __init__(self, max_chars: int) -> None:
        self.max = max_chars
        self.buf = bytearray()
        self.cut = 0  # bytes of the current line thrown away

    def feed(self, chunk: bytes) -> list[str]:
        out: list[str] = []
        self.buf += chunk
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            out.append(self._finish(bytes(self.buf[:nl])))
            del self.buf[: nl + 1]
        if len(self.buf) > self.max * 4:  # a line with no end in sight: keep its start only
            keep = self.max * 4
            self.cut += len(self.buf) - keep
            del self.buf[keep:]
        return out

    def close(self) -> list[str]:
        if self.buf or self.cut:
            return [self._finish(bytes(self.buf))]
        return []

    def _finish(self, raw: bytes) -> str:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        cut = self.cut
        self.cut = 0
        if len(text) > self.max:
            cut += len(text[self.max :].encode("utf-8", "replace"))
            text = text[: self.max]
        if cut:
            text += f" … [tvwizard: {cut} more bytes on this line]"
        return text


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


class _ExitProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol, plus a future set when the process exits.

    ``Process.wait()`` returns only once the pipes are closed too, and a daemon the target
    starts (from sitecustomize, say) may hold them open for ever: the exit is the answer."""

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=limit, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


async def _pump(
    stream: asyncio.StreamReader, on_line: Callable[[str], None], limits: Limits, active: list[float]
) -> None:
    splitter = _LineSplitter(limits.line_chars)
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        active[0] = time.monotonic()
        for line in splitter.feed(chunk):
            on_line(line)
    for line in splitter.close():
        on_line(line)


async def _pump_channel(
    stream: asyncio.StreamReader,
    on_event: Callable[[dict[str, Any]], None],
    on_bad: Callable[[str], None],
    limits: Limits,
    active: list[float],
) -> None:
    buf = bytearray()
    skipping = False
    kept = 0
    over = False
    while True:
        chunk = await stream.read(1 << 20)
        if not chunk:
            break
        active[0] = time.monotonic()
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            raw = bytes(buf[:nl])
            del buf[: nl + 1]
            if skipping:
                skipping = False
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                on_bad(f"unreadable event on the probe channel ({len(raw)} bytes)")
                continue
            if not isinstance(event, dict):
                continue
            if event.get("t") != "result":
                kept += len(raw)
                if kept > limits.channel_bytes:
                    if not over:
                        over = True
                        on_bad(f"the probe sent over {limits.channel_bytes} bytes of events; later ones were dropped")
                    continue
            on_event(event)
        if len(buf) > limits.event_bytes:
            on_bad(f"an event over {limits.event_bytes} bytes was dropped")
            buf.clear()
            skipping = True


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def run_probe(
    spec: ProbeSpec,
    python: str,
    *,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    on_event: EventSink | None = None,
    limits: Limits = Limits(),
    origin: float | None = None,
    timeout: float | None = None,
    probes_dir: str = PROBES_DIR,
    nice: int = 0,
) -> ProbeRun:
    """Run ``spec`` with ``python`` in ``cwd`` and environment ``env`` (default: ours).

    ``probes_dir`` is the probes package to load in the target (tests point it at a copy
    holding probes that hang, crash or flood on purpose).  ``nice`` > 0 lowers the child's
    CPU priority by that much (it and whatever it starts), so it yields to the live probe.

    Never raises for anything the child does; cancellation kills the child's process group.
    """
    emit = on_event or (lambda _e: None)
    origin = time.monotonic() if origin is None else origin
    timeout = spec.timeout if timeout is None else timeout
    run = ProbeRun(name=spec.name, title=spec.title, status=RunStatus.OK)
    log = _LogCollector(limits)
    steps: dict[str, StepResult] = {}
    open_steps: list[str] = []
    step_started: dict[str, float] = {}
    steps_changed = asyncio.Event()
    hung: list[str] = []  # the steps open when the limit passed
    frozen = False  # past the limit: what the child still reports is not believed
    result: dict[str, Any] | None = None
    partial: dict[str, Any] = {}

    def add_log(stream: str, text: str) -> None:
        line = LogLine(stream, text)
        log.add(line)
        emit(ProbeLog(spec.name, line))

    def on_channel(event: dict[str, Any]) -> None:
        nonlocal result
        kind = event.get("t")
        if kind == "log":
            add_log("probe", str(event.get("msg", ""))[: limits.line_chars])
        elif frozen:
            # The thread dump interrupts blocking calls (a sleeping cuInit returns early): a
            # step that "finishes" now would report what the interruption caused, not the hang.
            return
        elif kind == "data":
            partial[str(event.get("key"))] = event.get("value")
        elif kind == "step":
            name = str(event.get("name"))
            steps_changed.set()
            if event.get("phase") == "start":
                open_steps.append(name)
                step_started[name] = time.monotonic()
                emit(ProbeStep(spec.name, name, "start", None))
            else:
                if name in open_steps:
                    open_steps.remove(name)
                step = StepResult(
                    name=name,
                    status=str(event.get("status", "ok")),
                    duration=float(event.get("duration") or 0.0),
                    data=event.get("data") or {},
                )
                steps[name] = step
                emit(ProbeStep(spec.name, name, "end", step))
        elif kind == "result":
            result = {"data": event.get("data") or {}, "error": event.get("error")}

    run.started = time.monotonic() - origin
    start = time.monotonic()
    emit(ProbeStarted(spec.name))  # before the fault file: an error in the sink leaves none behind
    fd, fault_path = tempfile.mkstemp(prefix="tvwizard-fault-")
    _FAULT_FILES.add(fault_path)
    os.close(fd)
    rfd, wfd = os.pipe()
    options = json.dumps(spec.options)
    argv = [python, "-c", BOOTSTRAP, probes_dir, spec.module, str(wfd), options, fault_path]
    proc: asyncio.subprocess.Process | None = None
    protocol: _ExitProtocol | None = None
    transport: asyncio.ReadTransport | None = None
    timed_out = False
    hung_step: str | None = None  # after the wait: None exited, "" the probe's limit, else the step past its own
    pumps: list[asyncio.Future[None]] = []
    try:
        loop = asyncio.get_running_loop()
        try:
            # asyncio.create_subprocess_exec, with a protocol that says when the process exits
            spawn = asyncio.ensure_future(
                loop.subprocess_exec(
                    lambda: _ExitProtocol(limit=1 << 16, loop=loop),
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    cwd=cwd,
                    env=env,
                    pass_fds=(wfd,),
                    start_new_session=True,
                )
            )
            try:
                proc_transport, protocol = await asyncio.shield(spawn)
            except asyncio.CancelledError:
                # Cancelled while asyncio connects the pipes: the child runs already (and may
                # have started others); asyncio would kill it alone.  End its whole group.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    started, started_protocol = await spawn
                    _killpg(started.get_pid(), signal.SIGKILL)
                    try:
                        await started_protocol.exited  # reaped before the loop closes
                    finally:
                        started.close()
                raise
            proc = asyncio.subprocess.Process(proc_transport, protocol, loop)
            _RUNNING.add(proc.pid)
        except OSError as exc:
            os.close(rfd)
            run.status = RunStatus.ERROR
            run.error = f"could not start {python}: {exc.strerror or exc}"
            return run
        finally:
            os.close(wfd)
        if nice > 0:  # right after the fork: the child has barely started
            with contextlib.suppress(OSError, AttributeError):
                os.setpriority(os.PRIO_PROCESS, proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))

        channel = asyncio.StreamReader(limit=limits.event_bytes)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(channel), os.fdopen(rfd, "rb", buffering=0)
        )
        assert proc.stdout is not None and proc.stderr is not None
        active = [time.monotonic()]  # when the pipes last brought something
        pumps += [
            asyncio.ensure_future(_pump(proc.stdout, lambda t: add_log("stdout", t), limits, active)),
            asyncio.ensure_future(_pump(proc.stderr, lambda t: add_log("stderr", t), limits, active)),
            asyncio.ensure_future(
                _pump_channel(channel, on_channel, lambda t: add_log("probe", f"[tvwizard: {t}]"), limits, active)
            ),
        ]
        hung_step = await _wait(protocol.exited, start + timeout, spec, open_steps, step_started, steps_changed)
        if hung_step is not None:
            timed_out = True
            hung[:] = open_steps
            frozen = True
            if hung_step:
                timeout = spec.step_timeout(hung_step) or timeout
            # Ask for a dump of every thread first: it shows where the probe hung.
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(limits.dump_grace)
            _killpg(proc.pid, signal.SIGKILL)
            await protocol.exited
        # Grandchildren may still hold the pipes open: end the whole group, then drain what is
        # left, until the pipes close or stay quiet (a daemon in a session of its own lives on).
        _killpg(proc.pid, signal.SIGKILL)
        await _drain(pumps, limits, active)
        run.returncode = proc.returncode
    finally:
        for task in pumps:  # done, or cancelled before the drain: none outlives the run
            task.cancel()
        if proc is not None and protocol is not None:
            if proc.returncode is None:  # cancelled: leave nothing behind
                _killpg(proc.pid, signal.SIGKILL)
                # (a second cancellation, asyncio.run's teardown, must not skip what follows)
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.shield(protocol.exited)
            proc_transport.close()  # the pipes too, even where a daemon still holds their other end
            _RUNNING.discard(proc.pid)
        if transport is not None:
            transport.close()
        run.duration = time.monotonic() - start
        run.fault = _read_fault(fault_path, limits)

    rc = run.returncode
    if timed_out:
        run.status = RunStatus.TIMEOUT
        run.error = (
            f"no answer after {timeout:g} s" + (f" in step {hung_step}" if hung_step else "") + "; the probe was killed"
        )
    elif rc is not None and rc < 0:
        run.status = RunStatus.CRASHED
        run.signal = _signal_name(rc)
        run.error = f"killed by {run.signal}"
    elif result is not None and rc == 0:
        run.status = RunStatus.OK
    else:
        run.status = RunStatus.FAILED
        if result is not None and result.get("error"):
            err = result["error"]
            run.error = f"probe raised {err.get('type')}: {err.get('message')}"
            run.fault = run.fault or err.get("traceback", "")
        else:
            last = [line.text for line in log.lines() if line.stream == "stderr"][-3:]
            run.error = f"exited with code {rc} before sending its result" + (": " + " / ".join(last) if last else "")
    for name in hung if timed_out else open_steps:  # the step that was running when the process died
        status = "timeout" if timed_out else "crashed"
        data: dict[str, Any] = {"error": {"type": status, "message": run.error}}
        if timed_out:
            data["limit"] = timeout  # the step's own limit, or what was left of the probe's
        steps[name] = StepResult(name=name, status=status, data=data)
    run.steps = list(steps.values())
    run.data = dict(partial)
    if result is not None:
        run.data.update(result["data"])
    run.log = log.lines()
    run.log_dropped = log.dropped_bytes
    emit(ProbeFinished(spec.name, run))
    return run


async def _drain(pumps: list[asyncio.Future], limits: Limits, active: list[float]) -> None:
    """Let the pumps read what the exited process left in the pipes; cancel them when the
    pipes are closed, quiet for ``limits.drain_quiet``, or after ``limits.drain_grace``."""
    end = time.monotonic() + limits.drain_grace
    active[0] = max(active[0], time.monotonic())  # what the process wrote just before its exit is read
    pending = set(pumps)
    while pending:
        now = time.monotonic()
        quiet_until = active[0] + limits.drain_quiet
        if now >= end or now >= quiet_until:
            break
        _done, pending = await asyncio.wait(pending, timeout=min(end, quiet_until) - now)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


async def _wait(
    exited: asyncio.Future[None],
    deadline: float,
    spec: ProbeSpec,
    open_steps: list[str],
    step_started: dict[str, float],
    steps_changed: asyncio.Event,
) -> str | None:
    """Wait for the process to exit (``exited``).  None: it exited; "": the probe's own limit
    passed; a step name: that step ran past its own limit (``spec.step_timeouts``)."""
    while True:
        limit, which = deadline, ""
        for name in open_steps:
            own = spec.step_timeout(name)
            if own is not None and step_started.get(name, deadline) + own < limit:
                limit, which = step_started[name] + own, name
        left = limit - time.monotonic()
        if left <= 0:
            return which
        steps_changed.clear()
        changed = asyncio.ensure_future(steps_changed.wait())
        done, _ = await asyncio.wait({exited, changed}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        if exited in done:
            return None


def _read_fault(path: str, limits: Limits) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limits.fault_bytes)
        return raw.decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        _FAULT_FILES.discard(path)
