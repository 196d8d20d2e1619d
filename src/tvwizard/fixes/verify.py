"""Apply a fix, then check again: the one flow behind ``tvwizard fix --apply`` and the wizard's
apply step.

Both used to write it themselves, with different words and different logic for "is it gone".
Here it is once: run the fix's commands (:func:`tvwizard.fixes.apply.apply_fix`), stop when
they fail, run every probe again, and judge the finding by the new diagnosis.  An env-var
fix changes nothing: the probes run with the environment it describes, which proves it before
the user makes it theirs.  Every attempt leaves a :class:`tvwizard.model.Change`, the record
a report made afterwards shows under "What was changed".
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from tvwizard.model import Change, Fix, Report

#: ``await recheck(env) -> Report``: every probe again; ``env`` is what the probes see (None: ours).
Recheck = Callable[[Mapping[str, str] | None], Awaitable[Report]]
#: ``await apply(fix, target_python, on_line) -> ApplyResult``.
Applier = Callable[[Fix, str, Callable[[str], None]], Awaitable[object]]

#: What came of it.  gone: the finding is not there any more; other-reason: it is still there
#: but for another reason (the fix did its part); still-there; failed: a command failed;
#: error: the fix or the check could not run.
OUTCOMES = ("gone", "other-reason", "still-there", "failed", "error")


@dataclass
class Verified:
    outcome: str  # one of OUTCOMES
    before: Report
    after: Report | None = None
    reason: str = ""  # other-reason: the finding's new title; failed/error: what went wrong
    returncode: int | None = None
    change: Change | None = None


def judge(before: Report, after: Report, finding_id: str) -> tuple[str, str]:
    """(outcome, reason) for a finding after a fix: gone, other-reason or still-there."""
    from tvwizard.fixes.apply import other_reason

    if reason := other_reason(before, after, finding_id):
        return "other-reason", reason
    if finding_id not in after.finding_ids():
        return "gone", ""
    return "still-there", ""


def env_with(fix: Fix, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: ours) as the env-var fix would leave it."""
    env = dict(os.environ if environ is None else environ)
    for name, value in fix.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())


async def apply_and_verify(
    fix: Fix,
    finding_id: str,
    before: Report,
    *,
    apply: Applier,
    recheck: Recheck,
    target_python: str,
    on_line: Callable[[str], None] = lambda _line: None,
    on_phase: Callable[[str], None] = lambda _phase: None,
    environ: Mapping[str, str] | None = None,
) -> Verified:
    """Run ``fix`` (after the caller's yes), then check again; or, for an env-var fix, only
    check with the environment it describes.

    ``on_phase`` hears "applying" then "checking".  Cancellation (Ctrl-C, the wizard's c)
    propagates: the caller knows which phase it stopped in.
    """
    commands = list(fix.commands) or [" ".join(a) for a in fix.argv]
    started = _now()

    def record(result: str, returncode: int | None, after: Report | None) -> Change:
        return Change(
            finding=finding_id,
            fix=fix.id,
            title=fix.title,
            commands=commands if fix.kind != "env" else [],
            env={k: v for k, v in fix.env.items()} if fix.kind == "env" else {},
            time=started,
            result=result,
            returncode=returncode,
            verdict_before=before.verdict,
            verdict_after=after.verdict if after is not None else "",
        )

    if fix.kind == "env" and fix.env:
        on_phase("checking")
        try:
            after = await recheck(env_with(fix, environ))
        except Exception as exc:
            return Verified("error", before, reason=f"checking failed: {exc}")
        outcome, reason = judge(before, after, finding_id)
        # Nothing was changed: no Change record (the report stays the user's own).
        return Verified(outcome, before, after, reason)

    on_phase("applying")
    try:
        result = await apply(fix, target_python, on_line)
    except Exception as exc:
        return Verified("error", before, reason=str(exc), change=record(f"could not run: {exc}", None, None))
    returncode = getattr(result, "returncode", None)
    if not getattr(result, "ok", False):
        change = record(f"failed (exit code {returncode})", returncode, None)
        return Verified("failed", before, reason=f"exit code {returncode}", returncode=returncode, change=change)
    on_phase("checking")
    try:
        after = await recheck(None)
    except Exception as exc:
        change = record("ok; checking again failed", returncode, None)
        return Verified("error", before, reason=f"checking again failed: {exc}", returncode=returncode, change=change)
    outcome, reason = judge(before, after, finding_id)
    words = {"gone": "finding gone", "other-reason": "finding still there for another reason"}
    change = record(f"ok; {words.get(outcome, 'finding still there')}", returncode, after)
    return Verified(outcome, before, after, reason, returncode, change)
