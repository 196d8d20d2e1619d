"""Run the rules, order the findings root cause first, and attach symptoms to causes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from tvwizard.diagnosis.rules import RULES, Rule
from tvwizard.facts.evidence import Evidence
from tvwizard.model import Check, Fact, Finding, Severity

log = logging.getLogger(__name__)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}

# Among root causes of equal severity, the most specific and actionable come first: a
# shadowing file or a CPU/CUDA mix explains more than "the versions do not pair".
ROOT_PRIORITY = (
    "import-crash",
    "import-timeout",
    "torch-missing",
    "torchvision-missing",
    "shadowed-module",
    "foreign-site-packages",
    "library-path-override",
    "overwritten-file",
    "corrupt-file",
    "duplicate-install",
    "build-variant-mismatch",
    "version-mismatch",
    "abi-mismatch",
    "gpu-driver-missing",
    "driver-too-old",
    "gpu-arch-unsupported",
    "cuda-unavailable",
    "missing-dependency",
    "missing-shared-library",
    "numpy-abi",
    "unsupported-python",
)


def _ready(rule: Rule, ev: Evidence) -> bool:
    return all(any(ev.has(p) for p in need.split("|")) for need in rule.needs)


def _as_list(out: Finding | Iterable[Finding] | None) -> list[Finding]:
    if out is None:
        return []
    if isinstance(out, Finding):
        return [out]
    return list(out)


@dataclass
class Conclusion:
    """What a finished diagnosis says: findings, the checklist, the verdict and exit code."""

    findings: list[Finding]
    checks: list[Check]
    verdict: str
    exit_code: int


def conclude(ev: Evidence) -> Conclusion:
    """Findings, checklist and verdict from complete evidence: one place for every caller
    (a whole session, or re-diagnosing after one probe ran again)."""
    from tvwizard.diagnosis.checks import build_checks, verdict_of

    findings = diagnose(ev)
    verdict, exit_code = verdict_of(ev, findings)
    return Conclusion(findings, build_checks(ev, findings), verdict, exit_code)


def diagnose(ev: Evidence) -> list[Finding]:
    """All findings the evidence supports, root causes first, each followed by its symptoms.

    A rule that raises becomes an ``internal-error`` finding (info) instead of losing the
    whole diagnosis: the evidence came from a broken environment and may be odd in ways no
    rule foresaw.
    """
    found: list[Finding] = []
    for rule in RULES:
        if not _ready(rule, ev):
            continue
        try:
            found.extend(_as_list(rule.fn(ev)))
        except Exception as exc:  # a rule bug must not hide the other findings
            log.exception("rule %s failed", rule.name)
            found.append(
                Finding(
                    id="internal-error",
                    severity=Severity.INFO,
                    title=f"tvwizard rule {rule.name} failed on this evidence: {type(exc).__name__}: {exc}",
                    evidence=[Fact("tvwizard", rule.name, repr(exc))],
                )
            )
    return order(found)


def order(findings: list[Finding]) -> list[Finding]:
    """Dedupe by id (first wins, evidence merged), drop dangling causes, roots then symptoms."""
    by_id: dict[str, Finding] = {}
    for f in findings:
        if f.id in by_id:
            kept = by_id[f.id]
            kept.evidence.extend(e for e in f.evidence if e not in kept.evidence)
            kept.checks.extend(c for c in f.checks if c not in kept.checks)
            continue
        by_id[f.id] = f
    roots_of = {f.id: _root_of(f, by_id) for f in by_id.values()}
    for f in by_id.values():
        f.caused_by = roots_of[f.id]
    roots = sorted(
        (f for f in by_id.values() if f.caused_by is None),
        key=lambda f: (
            _SEVERITY_ORDER[f.severity],
            ROOT_PRIORITY.index(f.id) if f.id in ROOT_PRIORITY else len(ROOT_PRIORITY),
        ),
    )
    out: list[Finding] = []
    for root in roots:
        out.append(root)
        out.extend(f for f in by_id.values() if f.caused_by == root.id)
    return out


def _root_of(f: Finding, by_id: dict[str, Finding]) -> str | None:
    """The root cause ``f`` is a symptom of; None when ``f`` is itself a root.

    Chains are followed to the last finding that exists (a cause no rule produced is
    dropped, so its symptom's nearest existing ancestor becomes the root); a cycle makes
    every finding on it a root rather than losing them.
    """
    seen = {f.id}
    current = f
    while current.caused_by is not None and current.caused_by in by_id:
        if current.caused_by in seen:
            return None
        current = by_id[current.caused_by]
        seen.add(current.id)
    return None if current is f else current.id
