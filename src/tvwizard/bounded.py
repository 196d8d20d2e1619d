"""Run a short-lived child of the target and survive what it does to its pipes.

The interpreter query runs the *user's* Python, with the user's sitecustomize: it may print
forever, or leave a daemon behind that keeps stdout open long after the process exited.
So the end of the run is the process's exit (or the time limit), never the pipes' end of
file; only the first ``max_bytes`` of each stream are kept, the rest is read and dropped;
and the child's whole process group is killed afterwards.  (The probes have the same
rules in :mod:`tvwizard.engine.runner`, on asyncio.)
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

# After the exit, what is still in the pipes is read for at most this long (a flood can't hold us).
DRAIN_SECONDS = 0.5


@dataclass
class BoundedResult:
    returncode: int | None  # None: killed at the time limit
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    dropped: int = 0  # bytes read past ``max_bytes`` and not kept
    channel: bytes = b""  # what came on the private pipe (``with_channel``)


def run_bounded(
    argv: Sequence[str],
    *,
    timeout: float,
    max_bytes: int,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    with_channel: bool = False,
) -> BoundedResult:
    """Run ``argv`` (stdin from /dev/null) in a session of its own.  Raises OSError if it cannot start.

    ``with_channel``: the number of a private pipe's write end is added to ``argv``; what the
    child writes there comes back as ``channel``, apart from whatever it (or its
    sitecustomize, its atexit handlers, its threads) prints.
    """
    read_end, write_end = os.pipe() if with_channel else (-1, -1)
    try:
        proc = subprocess.Popen(
            [*argv, str(write_end)] if with_channel else list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,
            pass_fds=(write_end,) if with_channel else (),
        )
    except BaseException:
        if with_channel:
            os.close(read_end)
        raise
    finally:
        if with_channel:
            os.close(write_end)
    assert proc.stdout is not None and proc.stderr is not None
    channel = os.fdopen(read_end, "rb", buffering=0) if with_channel else None
    kept = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    if channel is not None:
        kept[channel] = bytearray()
    dropped = 0
    deadline = time.monotonic() + timeout
    drain_until: float | None = None
    timed_out = False
    with selectors.DefaultSelector() as sel:
        for stream in kept:
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ)
        try:
            while sel.get_map():
                now = time.monotonic()
                if drain_until is None and proc.poll() is not None:
                    drain_until = now + DRAIN_SECONDS
                if drain_until is not None and now >= drain_until:
                    break
                if drain_until is None and now >= deadline:
                    timed_out = True
                    break
                events = sel.select(timeout=0.05)
                if not events and drain_until is not None:
                    break  # exited, and nothing more is coming now: what a daemon writes later is not its
                for key, _ in events:
                    try:
                        chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    buf = kept[key.fileobj]  # type: ignore[index]
                    room = max(0, max_bytes - len(buf))
                    buf += chunk[:room]
                    dropped += len(chunk) - min(room, len(chunk))
            if not timed_out and proc.poll() is None:  # both pipes closed, the process still runs
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            for stream in kept:
                stream.close()
            proc.wait()
    return BoundedResult(
        None if timed_out else proc.returncode,
        bytes(kept[proc.stdout]),
        bytes(kept[proc.stderr]),
        timed_out=timed_out,
        dropped=dropped,
        channel=bytes(kept[channel]) if channel is not None else b"",
    )
