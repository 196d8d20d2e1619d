"""What the wizard needs from the rest of tvwizard, as plain callables tests can replace.

The app never calls the engine directly: it calls a :class:`WizardDeps`.  The defaults
here wire the real target resolver, session runner, fix applier and environment
discovery; tests pass fakes that replay canned reports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tvwizard.engine.events import FindingsUpdated, ProbeEvent
from tvwizard.envs import EnvCandidate
from tvwizard.model import Fix, Report, Target

EventSink = Callable[[ProbeEvent], None]
#: ``resolve(python or None) -> Target``; raises :class:`tvwizard.target.TargetError`.
TargetResolver = Callable[[str | None], Target]
#: ``await run(target, on_event) -> Report``: every probe, findings as they come; env-var
#: fixes call it with ``env=`` (what the probes should see) to check a fix before it is made.
SessionRunner = Callable[..., Awaitable[Report]]
#: ``await rerun(target, probe_name, previous_report, on_event) -> Report``.
ProbeRerunner = Callable[[Target, str, Report, EventSink], Awaitable[Report]]
#: ``await apply(fix, target_python, on_line) -> ApplyResult`` (see :mod:`tvwizard.fixes.apply`).
FixApplier = Callable[[Fix, str, Callable[[str], None]], Awaitable[object]]
#: ``discover() -> [EnvCandidate]`` (called in a thread).
EnvDiscoverer = Callable[[], list[EnvCandidate]]
Clock = Callable[[], float]


@dataclass
class WizardDeps:
    resolve_target: TargetResolver
    run_session: SessionRunner
    rerun_probe: ProbeRerunner
    apply_fix: FixApplier
    discover_envs: EnvDiscoverer
    #: raises when tvwizard must not run a fix (:func:`tvwizard.fixes.apply.check_runnable`)
    check_runnable: Callable[[Fix, str], None]
    probes: Sequence[tuple[str, str]]  # (name, title) in display order
    clock: Clock = time.monotonic
    cwd: str = field(default_factory=os.getcwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    #: the preselected interpreter and how it was chosen; None: nothing found
    preselected: tuple[str, str] | None = None
    #: examine the preselected interpreter at once (the user named it: ``--python``); the
    #: list of the others is one step back
    examine_now: bool = False
    redactor: object | None = None  # a tvwizard.report.redact.Redactor; None = this machine's


def _session_options(timeout: float | None):  # -> SessionOptions
    from tvwizard.engine.session import SessionOptions

    opts = SessionOptions()
    if timeout:
        opts.live_timeout = timeout
        opts.timeout_scale = max(1.0, timeout / 180)
    return opts


def real_session_runner(timeout: float | None = None) -> SessionRunner:
    async def run(target: Target, on_event: EventSink, env: Mapping[str, str] | None = None) -> Report:
        """``env``: the environment the probes see (default: ours); an env-var fix is
        verified by running the probes with the environment it describes."""
        from tvwizard.engine.session import run_session

        opts = _session_options(timeout)
        if env is not None:
            opts = replace(opts, env=dict(env))
        return await run_session(target, opts, on_event)

    return run


def real_probe_rerunner(timeout: float | None = None) -> ProbeRerunner:
    """Run one probe again (with the session's crash handling), then diagnose everything again.

    The other probes' results are kept from ``previous``: diagnosis needs all of them.
    """

    async def rerun(target: Target, name: str, previous: Report, on_event: EventSink) -> Report:
        from tvwizard.diagnosis.engine import conclude
        from tvwizard.engine.registry import by_name
        from tvwizard.engine.session import run_session
        from tvwizard.facts.evidence import Evidence

        opts = replace(_session_options(timeout), probes=[by_name(name)], collect_host=False)

        def relay(event: ProbeEvent) -> None:
            if not isinstance(event, FindingsUpdated):  # findings from one probe alone are wrong
                on_event(event)

        started = time.monotonic()
        partial = await run_session(target, opts, relay)
        runs = {p.name: p for p in previous.probes}
        runs[name] = partial.probes[0]
        ev = Evidence(target=target, probes=runs, system=previous.system, env=dict(os.environ))
        result = conclude(ev)
        on_event(FindingsUpdated(tuple(result.findings), True))
        return replace(
            previous,
            probes=[runs[p.name] for p in previous.probes],
            findings=result.findings,
            checks=result.checks,
            verdict=result.verdict,
            exit_code=result.exit_code,
            duration=time.monotonic() - started,
        )

    return rerun


def default_deps(python: str | None = None, timeout: float | None = None) -> WizardDeps:
    """The real thing: what ``tvwizard`` with no command runs."""
    from tvwizard.engine.registry import PROBES
    from tvwizard.envs import discover_environments
    from tvwizard.fixes.apply import apply_fix, check_runnable
    from tvwizard.target import default_candidate, resolve_target

    environ = dict(os.environ)
    cwd = os.getcwd()
    if python:
        pre: tuple[str, str] | None = (python, "--python")
    else:
        cand = default_candidate(environ)
        pre = (cand.python, cand.how) if cand else None

    def resolve(py: str | None) -> Target:
        return resolve_target(py, cwd=cwd)

    async def apply(fix: Fix, target_python: str, on_line: Callable[[str], None]) -> object:
        return await apply_fix(fix, target_python, on_line)

    return WizardDeps(
        resolve_target=resolve,
        run_session=real_session_runner(timeout),
        rerun_probe=real_probe_rerunner(timeout),
        apply_fix=apply,
        discover_envs=lambda: discover_environments(cwd, os.path.expanduser("~"), environ),
        check_runnable=check_runnable,
        probes=[(s.name, s.title) for s in PROBES],
        cwd=cwd,
        environ=environ,
        preselected=pre,
        examine_now=bool(python),
    )
