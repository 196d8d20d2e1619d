"""What the engine tells its listeners (the TUI, ``check``) while probes run."""

from __future__ import annotations

from dataclasses import dataclass

from tvwizard.model import Finding, LogLine, ProbeRun, StepResult


@dataclass(frozen=True)
class ProbeStarted:
    probe: str


@dataclass(frozen=True)
class ProbeLog:
    probe: str
    line: LogLine


@dataclass(frozen=True)
class ProbeStep:
    probe: str
    step: str
    phase: str  # "start" | "end"
    result: StepResult | None


@dataclass(frozen=True)
class ProbeFinished:
    probe: str
    run: ProbeRun


@dataclass(frozen=True)
class FindingsUpdated:
    """Diagnosis re-ran on the probes finished so far (static findings come early)."""

    findings: tuple[Finding, ...]
    final: bool


ProbeEvent = ProbeStarted | ProbeLog | ProbeStep | ProbeFinished | FindingsUpdated
