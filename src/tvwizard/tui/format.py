"""Pure helpers the screens share: durations, marks, per-probe state.  No Textual here."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from rich.text import Text

from tvwizard.model import CheckStatus, Finding, ProbeRun, Report, RunStatus, Severity
from tvwizard.tui import palette
from tvwizard.units import duration  # noqa: F401  (the wizard's screens import it from here)

LOG_LINES = 5000  # lines of a probe's log the discovery step keeps and shows

# a probe outcome → the palette role of its style; its words are outcome_mark's
_OUTCOME_ROLE = {
    "ok": "ok",
    "warning": "warning",
    "error": "error",
    "crashed": "error",
    "timeout": "error",
    "failed": "error",
    "skipped": "muted",
    "cancelled": "warning",
    "waiting": "muted",
    "running": "running",
}
_SEVERITY_ROLE = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}
_CHECK_OUTCOME = {
    CheckStatus.OK: "ok",
    CheckStatus.WARNING: "warning",
    CheckStatus.ERROR: "error",
    CheckStatus.CRASHED: "crashed",
    CheckStatus.TIMEOUT: "timeout",
    CheckStatus.SKIPPED: "skipped",
    CheckStatus.INFO: "info",
}


def outcome_mark(outcome: str) -> tuple[str, str]:
    """(mark, style) for a probe outcome (or a check's), for this terminal."""
    role = _OUTCOME_ROLE.get(outcome, "info")
    if outcome in ("ok", "warning", "error", "info"):
        mark = palette.mark(outcome)
    elif outcome == "failed":
        mark = palette.mark("error") + " failed"
    elif outcome == "skipped":
        mark = "- skipped"
    else:
        mark = outcome
    return mark, palette.style(role)


def severity_mark(severity: Severity) -> tuple[str, str]:
    role = _SEVERITY_ROLE.get(severity, "info")
    return palette.mark(role), palette.style(role)


def check_mark(status: CheckStatus) -> tuple[str, str]:
    outcome = _CHECK_OUTCOME.get(status, "info")
    if outcome == "skipped":
        return "-", palette.style("muted")
    return outcome_mark(outcome)


def roots_summary(findings: list[Finding] | tuple[Finding, ...]) -> tuple[int, int, str]:
    """(errors, warnings, words) for the root causes: the one count every screen shows."""
    roots = [r for r, _ in roots_first(list(findings))]
    errors = sum(1 for r in roots if r.severity is Severity.ERROR)
    warnings = sum(1 for r in roots if r.severity is Severity.WARNING)
    words = f"{errors} root cause" + ("" if errors == 1 else "s")
    if warnings:
        words += f", {warnings} warning" + ("" if warnings == 1 else "s")
    return errors, warnings, words


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
    outcome: str = "waiting"  # a key of _OUTCOME_ROLE
    summary: str = ""
    # the last lines only, as many as the log view shows: a probe may print without end
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    def reset(self) -> None:
        self.phase, self.started_at, self.step, self.run = "waiting", None, "", None
        self.outcome, self.summary = "waiting", ""
        self.log = deque(maxlen=LOG_LINES)


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
    mark, style = outcome_mark(state.outcome)
    text = Text()
    text.append(mark, style=style)
    if state.phase == "running" and state.step:
        text.append(f" {palette.mark('dot')} {state.step.replace('_', ' ')}", style=palette.style("info"))
    if state.summary:
        text.append("  " + palette.text(state.summary.splitlines()[0]), style="")
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
    mark, style = severity_mark(f.severity)
    text = Text()
    text.append(mark, style=style)
    text.append(" ")
    text.append(palette.text(f.title), style=palette.style("strong") if f.severity is Severity.ERROR else "")
    return text
