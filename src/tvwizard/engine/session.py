"""One diagnosis: run every probe concurrently, diagnose as results arrive, build the report.

The live probe (the real import) is the slow one, so it starts first; the static probes
run beside it and their findings are published as soon as they are in.  When the live
probe crashes or hangs inside a step that is not an import, the remaining steps are run
again in a fresh process without that step, so one crash does not lose the others'
results.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from tvwizard import __version__
from tvwizard.engine.events import FindingsUpdated, ProbeEvent, ProbeFinished, ProbeStarted
from tvwizard.engine.registry import PROBES
from tvwizard.engine.runner import PROBES_DIR, ProbeSpec, run_probe
from tvwizard.model import ProbeRun, Report, RunStatus, Target

RESTARTABLE_AFTER = ("extensions", "cuda", "nms_cpu")  # steps a crash in which we can skip
STATIC_NICE = 10  # static probes yield the CPU to the import (see benchmarks/RESULTS.md)


@dataclass
class SessionOptions:
    timeout_scale: float = 1.0
    live_timeout: float | None = None  # seconds; None = the spec's
    probes: Sequence[ProbeSpec] = field(default_factory=lambda: list(PROBES))
    cwd: str | None = None
    env: dict[str, str] | None = None
    collect_host: bool = True  # system + GPU facts from tvwizard's own process
    probes_dir: str = PROBES_DIR
    static_nice: int = STATIC_NICE  # niceness added to the static probes (0: none)


async def _host_facts(prefix: str, env: dict[str, str] | None = None) -> dict:
    """System and GPU facts, gathered in a thread (psutil, NVML, nvidia-smi).

    ``env``: the environment the probes see.  What CUDA_VISIBLE_DEVICES hides is read from it,
    not from ours: an env-var fix is proven by a session with the environment it describes.
    """

    def collect() -> dict:
        out: dict = {}
        try:
            from tvwizard.system import collect_system

            out.update(collect_system(prefix))
        except Exception as exc:  # facts are best effort, never fatal
            out["system_error"] = f"{type(exc).__name__}: {exc}"
        try:
            from tvwizard.gpu import collect_gpus

            out["gpu"] = collect_gpus(env=env)
        except Exception as exc:
            out["gpu"] = {"state": "error", "reason": f"{type(exc).__name__}: {exc}"}
        return out

    return await asyncio.to_thread(collect)


def _since_process_start() -> float | None:
    """Seconds since this process started (Linux; clock-tick resolution), else None."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            stat = fh.read()
        ticks = int(stat[stat.rindex(b")") + 2 :].split()[19])  # field 22: starttime
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


async def run_session(
    target: Target,
    options: SessionOptions | None = None,
    on_event: Callable[[ProbeEvent], None] | None = None,
) -> Report:
    """Run every probe of ``options.probes``; the report lists them in that order.

    Order of work, for the person waiting: the live probe (the import, the floor) is
    spawned before anything else, even before the diagnosis code is imported; the static
    probes follow, at a lower CPU priority so they never slow the import down; the
    machine's facts are gathered in a thread once every probe is running.
    """
    opts = options or SessionOptions()
    emit = on_event or (lambda _e: None)
    origin = time.monotonic()
    startup = _since_process_start()
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    cwd = opts.cwd or target.cwd or os.getcwd()
    timings: dict[str, float] = {}
    static_names = {s.name for s in opts.probes if not s.live}
    done: dict[str, ProbeRun] = {}
    ev = None  # the Evidence; built once the live probe is running

    def publish(final: bool) -> None:
        from tvwizard.diagnosis.engine import diagnose

        findings = diagnose(ev)
        emit(FindingsUpdated(tuple(findings), final))

    def finished(run: ProbeRun) -> None:
        done[run.name] = run
        if ev is not None:  # None only for a live probe that could not even be started
            ev.probes[run.name] = run
        if run.name in static_names and static_names <= set(done):
            timings.setdefault("static_findings", time.monotonic() - origin)
            publish(final=False)

    async def launch(spec: ProbeSpec, events: Callable[[ProbeEvent], None] | None = None) -> ProbeRun:
        timeout = spec.timeout * opts.timeout_scale
        if spec.live and opts.live_timeout is not None:
            timeout = opts.live_timeout
        return await run_probe(
            spec,
            target.python,
            cwd=cwd,
            env=opts.env,
            on_event=events or emit,
            origin=origin,
            timeout=timeout,
            probes_dir=opts.probes_dir,
            nice=0 if spec.live else opts.static_nice,
        )

    async def one(spec: ProbeSpec) -> ProbeRun:
        run = await launch(spec)
        if spec.live:
            run = await _continue_after_crash(spec, run, launch, emit)
        finished(run)
        return run

    tasks: dict[str, asyncio.Future[ProbeRun]] = {}
    for spec in opts.probes:  # the slow one first: its process is forked in the task's first step
        if spec.live:
            tasks[spec.name] = asyncio.ensure_future(one(spec))
    host: asyncio.Future[dict] | None = None
    try:
        if tasks:
            await asyncio.sleep(0)
        from tvwizard.facts.evidence import Evidence

        ev = Evidence(target=target, env=dict(opts.env if opts.env is not None else os.environ))
        ev.probes.update(done)  # a live probe that failed to start is already done
        for spec in opts.probes:
            if not spec.live:
                tasks[spec.name] = asyncio.ensure_future(one(spec))
        host = asyncio.ensure_future(_host_facts(target.prefix, opts.env)) if opts.collect_host else None
        await asyncio.sleep(0)  # the static probes are forked; now the diagnosis code can load
        from tvwizard.diagnosis.engine import conclude

        await asyncio.gather(*tasks.values())
        if host is not None:
            ev.system = await host
    except BaseException:
        # Never leave a probe task behind for asyncio.run's teardown: it cancels every task
        # at once, asyncio's own pipe-connecting one included, and on Python 3.11+ a process
        # whose pipes never connected is waited for forever, so an error here hung tvwizard.
        await _stop(list(tasks.values()) + ([host] if host is not None else []))
        raise
    probes = [tasks[s.name].result() for s in opts.probes]  # deterministic order: the registry's
    result = conclude(ev)
    emit(FindingsUpdated(tuple(result.findings), True))
    duration = time.monotonic() - origin
    timings["total"] = duration
    timings.setdefault("static_findings", duration)
    if startup is not None:
        timings["startup"] = startup  # process start to session start: add it to the others
    return Report(
        target=target,
        probes=probes,
        findings=result.findings,
        checks=result.checks,
        verdict=result.verdict,
        exit_code=result.exit_code,
        tvwizard_version=__version__,
        created=created,
        duration=duration,
        system=ev.system,
        timings={k: round(v, 4) for k, v in timings.items()},
    )


async def _stop(tasks: list[asyncio.Future]) -> None:
    """Cancel ``tasks`` and wait until each has ended (each kills its own child first)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)


async def _continue_after_crash(
    spec: ProbeSpec,
    run: ProbeRun,
    launch: Callable[..., Awaitable[ProbeRun]],
    emit: Callable[[ProbeEvent], None],
) -> ProbeRun:
    """Re-run the steps after a crashed/hung step, skipping it; merge the results."""
    attempts = 0
    skip: list[str] = list(spec.options.get("skip", []))
    while run.status in (RunStatus.CRASHED, RunStatus.TIMEOUT) and attempts < 3:
        bad = [s.name for s in run.steps if s.status in ("crashed", "timeout")]
        if not bad or not (bad[-1] in RESTARTABLE_AFTER or bad[-1].startswith("nms_")):
            break
        attempts += 1
        skip.append(bad[-1])
        again = replace(spec, options={**spec.options, "skip": list(skip)})
        emit(ProbeStarted(spec.name))
        # the re-run's own "finished" would read as the probe's: only the merged run finishes
        rerun = await launch(again, lambda e: None if isinstance(e, ProbeFinished) else emit(e))
        kept = {s.name for s in run.steps}
        merged = list(run.steps) + [s for s in rerun.steps if s.name not in kept]
        log = [*run.log, *rerun.log]
        status = rerun.status if rerun.status is not RunStatus.OK else run.status
        run = replace(
            rerun,
            status=status,
            signal=run.signal if rerun.status is RunStatus.OK else rerun.signal,
            error=run.error if rerun.status is RunStatus.OK else rerun.error,
            fault=run.fault + ("\n" + rerun.fault if rerun.fault else ""),
            steps=merged,
            log=log,
            duration=run.duration + rerun.duration,
            started=run.started,
            data={**run.data, **rerun.data, "restarts": attempts, "skipped_after_crash": list(skip)},
        )
        emit(ProbeFinished(spec.name, run))
        if rerun.status is RunStatus.OK:
            break
    return run
