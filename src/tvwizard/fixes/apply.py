"""Apply a fix: run its commands (never through a shell, never with sudo), stream the output,
then let the caller probe again and say whether the finding is gone.

Only fixes marked ``applicable`` run, and only after the caller got the user's yes: this
module does not ask, it refuses what it must not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tvwizard.fixes.shell import quote_line
from tvwizard.model import Fix, Report


class FixRefused(Exception):
    """The fix is not one tvwizard runs for the user (manual, env, or unsafe)."""


@dataclass
class ApplyResult:
    ok: bool
    returncode: int | None
    command: list[str] = field(default_factory=list)  # the command that failed, if one did
    output: list[str] = field(default_factory=list)  # last lines of output


def _names(target_python: str | Sequence[str]) -> set[str]:
    return {target_python} if isinstance(target_python, str) else set(target_python)


def check_runnable(fix: Fix, target_python: str | Sequence[str]) -> None:
    """Refuse anything that is not a plain command on the target's own installer.

    ``target_python``: the target interpreter's path(s): as given and as it reports itself
    (``Target.python`` and ``Target.executable`` differ for pyenv shims and symlinks).
    """
    allowed = _names(target_python)
    if not fix.applicable or fix.kind != "command" or not fix.argv:
        raise FixRefused(f"fix {fix.id!r} is not one tvwizard applies: follow its steps by hand")
    for argv in fix.argv:
        if not argv:
            raise FixRefused("empty command")
        prog = os.path.basename(argv[0])
        if prog in ("sudo", "su", "doas", "pkexec"):
            raise FixRefused("tvwizard never runs anything with sudo")
        uses_target = argv[0] in allowed or (prog == "uv" and bool(allowed & set(argv)))
        if not uses_target:
            raise FixRefused(f"{argv[0]} is not the target's own interpreter or installer; refusing to run it")


async def apply_fix(
    fix: Fix,
    target_python: str | Sequence[str],
    on_line: Callable[[str], None] | None = None,
    *,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = 3600.0,
) -> ApplyResult:
    """Run the fix's commands one after the other; stop at the first failure."""
    check_runnable(fix, target_python)
    emit = on_line or (lambda _l: None)
    tail: list[str] = []
    for argv in fix.argv:
        emit("$ " + quote_line(argv))  # pasted into a shell, it runs exactly this
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**(env if env is not None else os.environ), "PIP_NO_INPUT": "1", "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            start_new_session=True,
            limit=1 << 20,
        )
        try:
            rc = await asyncio.wait_for(_pump(proc, tail, emit), timeout)
        except (TimeoutError, asyncio.TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        if rc != 0:
            return ApplyResult(False, rc, argv, tail)
    return ApplyResult(True, 0, [], tail)


async def _pump(proc: asyncio.subprocess.Process, tail: list[str], emit: Callable[[str], None]) -> int:
    """Stream the command's output line by line, keeping the last 200 lines in ``tail``."""
    assert proc.stdout is not None
    while True:
        raw = await proc.stdout.readline()
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        tail.append(line)
        del tail[:-200]
        emit(line)
    return await proc.wait()


def finding_gone(before: Report, after: Report, finding_id: str) -> bool:
    """True when ``finding_id`` was there before and is not there after."""
    return finding_id in before.finding_ids() and finding_id not in after.finding_ids()


def other_reason(before: Report, after: Report, finding_id: str) -> str | None:
    """The finding's new title when it is still there but for another reason than before.

    A finding such as cuda-unavailable carries its reason in its title: when a fix takes away
    the reason it was for (CUDA_VISIBLE_DEVICES='') and another shows (no device nodes), "the
    fix would not help" is wrong; the fix did its part and the new reason needs its own."""
    old = next((f.title for f in before.findings if f.id == finding_id), None)
    new = next((f.title for f in after.findings if f.id == finding_id), None)
    return new if old is not None and new is not None and new != old else None
