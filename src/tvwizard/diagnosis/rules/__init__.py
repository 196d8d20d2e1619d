"""Diagnosis rules: small functions from evidence to findings.

A rule is a function ``(Evidence) -> Finding | list[Finding] | None`` registered with
:func:`rule`.  ``needs`` names the probes whose data it reads: a rule runs as soon as those
probes are in, which is how static findings (a version mismatch read from metadata) appear
while the live import is still running.  Adding a rule touches one place: a function in one
of the modules below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tvwizard.facts.evidence import Evidence
from tvwizard.model import Finding

RuleFn = Callable[[Evidence], Finding | Iterable[Finding] | None]


@dataclass(frozen=True)
class Rule:
    name: str
    fn: RuleFn
    needs: tuple[str, ...]


RULES: list[Rule] = []


def rule(*needs: str) -> Callable[[RuleFn], RuleFn]:
    """Register a rule that needs the named probes (any one of them for ``"a|b"``)."""

    def register(fn: RuleFn) -> RuleFn:
        RULES.append(Rule(fn.__name__, fn, tuple(needs)))
        return fn

    return register


def _load() -> None:
    from tvwizard.diagnosis.rules import environment, gpu, imports, native, packages, provenance  # noqa: F401


_load()
