"""Which processes tvwizard started, and whether any outlived it (for the signal tests).

Each probe leads a process group of its own (``start_new_session``); whatever it starts
stays in that group unless it leaves on purpose.  So "nothing left behind" is: no live
process in any group a probe led.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time


def descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def leads_its_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def probe_groups(pid: int) -> set[int]:
    """The process groups led by descendants of ``pid`` (its probes, and the query)."""
    return {p for p in descendants(pid) if leads_its_group(p)}


def group_members(pgids: set[int]) -> list[int]:
    """Every live process in one of the process groups ``pgids``."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in pgids and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return found


def survivors(pgids: set[int], seconds: float = 5.0) -> list[str]:
    """What is still alive in ``pgids`` after ``seconds`` (described), killed afterwards."""
    deadline = time.monotonic() + seconds
    while (alive := group_members(pgids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    described = [describe(pid) for pid in alive]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return described


def name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def describe(pid: int) -> str:
    return f"{pid}: {cmdline(pid)[:300] or 'gone'}"


def wait_for(predicate, what: str, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
