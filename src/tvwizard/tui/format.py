"""Pure helpers the screens share: durations, marks, per-probe state.  No Textual here."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from tvwizard.model import CheckStatus, Finding, ProbeRun, Report, RunStatus, Severity
from tvwizard.units import duration  # noqa: F401  (the wizard's screens import it from here)

# (mark, style) for a probe's outcome; styles are theme-neutral Rich colour names.
OUTCOME = {
    "ok": ("✓", "green"),
    "warning": ("!", "yellow"),
    "error": ("✗", "red"),
    "crashed": ("crashed", "bold red"),
    "timeout": ("timeout", "bold red"),
    "failed": ("✗ failed", "red"),
    "skipped": ("- skipped", "dim"),
    "cancelled": ("cancelled", "yellow"),
    "waiting": ("waiting", "dim"),
    "running": ("running", "bold cyan"),
}
SEVERITY = {Severity.ERROR: ("✗", "red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("•", "cyan")}
_CHECK_RANK = {
    CheckStatus.CRASHED: 5,
    CheckStatus.TIMEOUT: 5,
    CheckStatus.ERROR: 4,
    CheckStatus.WARNING: 3,
    CheckStatus.OK: 1,
    CheckStatus.INFO: 1,
    CheckStatus.SKIPPED: 0,
}


@dataclass
class ProbeState:
    """What the discovery table shows for one probe."""

    name: str
    title: str
    phase: str = "waiting"  # waiting | running | done | cancelled
    started_at: float | None = None  # clock() when it started
    step: str = ""  # the step running now
    run: ProbeRun | None = None
    outcome: str = "waiting"  # a key of OUTCOME
    summary: str = ""
    log: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.phase, self.started_at, self.step, self.run = "waiting", None, "", None
        self.outcome, self.summary = "waiting", ""
        self.log = []


def outcome_of(run: ProbeRun, report: Report | None, findings: tuple[Finding, ...] | list[Finding]) -> tuple[str, str]:
    """(outcome, one-line summary) for a finished probe."""
    if run.status is RunStatus.CRASHED:
        return "crashed", run.error or (f"killed by {run.signal}" if run.signal else "")
    if run.status is RunStatus.TIMEOUT:
        return "timeout", run.error or ""
    if run.status in (RunStatus.FAILED, RunStatus.ERROR):
        return "failed", run.error or ""
    if run.status is RunStatus.SKIPPED:
        return "skipped", run.error or ""
    if report is not None:
        checks = [c for c in report.checks if c.probe == run.name]
        if checks:
            worst = max(checks, key=lambda c: _CHECK_RANK.get(c.status, 0))
            key = {
                CheckStatus.ERROR: "error",
                CheckStatus.WARNING: "warning",
                CheckStatus.CRASHED: "crashed",
                CheckStatus.TIMEOUT: "timeout",
            }.get(worst.status, "ok")
            text = worst.summary
            if len(checks) > 1 and key != "ok":
                text = f"{worst.title}: {worst.summary}"
            return key, text
    if any(s.status in ("error", "crashed", "timeout") for s in run.steps):
        bad = next(s for s in run.steps if s.status in ("error", "crashed", "timeout"))
        return "error", f"{bad.name.replace('_', ' ')}: {bad.status}"
    steps = {s.name for s in run.steps}

    def concerns(f: Finding) -> bool:  # the finding explains this probe's checklist line(s)
        return run.name in f.checks or bool(steps & set(f.checks)) or any(e.probe == run.name for e in f.evidence)

    sev = [f.severity for f in findings if concerns(f)]
    if Severity.ERROR in sev:
        return "error", ""
    if Severity.WARNING in sev:
        return "warning", ""
    return "ok", ""


def state_text(state: ProbeState) -> Text:
    mark, style = OUTCOME.get(state.outcome, ("?", ""))
    text = Text(mark, style=style)
    if state.phase == "running" and state.step:
        text.append(f" · {state.step.replace('_', ' ')}", style="cyan")
    if state.summary:
        text.append("  " + state.summary.splitlines()[0], style="")
    return text


def roots_first(findings: list[Finding]) -> list[tuple[Finding, list[Finding]]]:
    """Root causes (errors first, then warnings, then info) each with its symptoms.

    A symptom whose cause is not in the list is shown as a root of its own.
    """
    ids = {f.id for f in findings}
    roots = [f for f in findings if f.caused_by is None or f.caused_by not in ids]
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    roots.sort(key=lambda f: order.get(f.severity, 3))  # stable: diagnosis order within a severity
    return [(r, [s for s in findings if s.caused_by == r.id and s is not r]) for r in roots]


def finding_line(f: Finding) -> Text:
    mark, style = SEVERITY.get(f.severity, ("•", ""))
    text = Text(mark + " ", style=style)
    text.append(f.title)
    return text
