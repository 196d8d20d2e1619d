"""Run the rules, order the findings root cause first, and attach symptoms to causes."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from tvwizard.diagnosis import rules
from tvwizard.diagnosis.rules import INTERNAL_ERROR, Rule
from tvwizard.facts.evidence import Evidence
from tvwizard.model import Check, Fact, Finding, Severity

log = logging.getLogger(__name__)

_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


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
    supplements: list[Finding] = []  # added after every primary finding, so those win the merge
    for rule in rules.RULES:
        if not _ready(rule, ev):
            continue
        try:
            out = _as_list(rule.fn(ev))
        except Exception as exc:  # a rule bug must not hide the other findings
            log.exception("rule %s failed", rule.name)
            found.append(_internal_error(rule, f"failed on this evidence: {type(exc).__name__}: {exc}", repr(exc)))
            continue
        undeclared = sorted({f.id for f in out} - set(rule.emits))
        if undeclared:  # kept (the finding may be right), and said: the declaration is the catalog
            log.error("rule %s emitted undeclared finding ids %s", rule.name, undeclared)
            found.append(_internal_error(rule, f"emitted finding ids it does not declare: {', '.join(undeclared)}", ""))
        (supplements if rule.supplements else found).extend(out)
    return order(found + supplements)


def _internal_error(rule: Rule, what: str, detail: str) -> Finding:
    return Finding(
        id=INTERNAL_ERROR,
        severity=Severity.INFO,
        title=f"tvwizard rule {rule.name} {what}",
        evidence=[Fact("tvwizard", rule.name, detail or what)],
    )


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
    ranks = rules.root_priority()
    last = max(ranks.values(), default=0) + 1
    roots = sorted(
        (f for f in by_id.values() if f.caused_by is None),
        key=lambda f: (_SEVERITY_ORDER[f.severity], ranks.get(f.id, last)),
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
