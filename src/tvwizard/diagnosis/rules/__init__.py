"""Diagnosis rules: small functions from evidence to findings, each declaring itself.

A rule is a function ``(Evidence) -> Finding | list[Finding] | None`` registered with
:func:`rule`, which says three things checked when the rule is registered:

- ``needs``: the probes whose data it reads (``"a|b"``: either one).  A rule runs as soon as
  those probes are in, which is how static findings (a version mismatch read from metadata)
  appear while the live import is still running.  Every name must be a probe of
  ``engine/registry.py``: a typo would silently disable the rule, so it fails at import.
- ``emits``: every finding id it can produce.  ``diagnose`` reports a rule that emits another
  id, and ``tests/fast/test_findings_catalog.py`` holds the union to ``docs/findings.md``.
- ``priority``: where its root causes rank among roots of the same severity (lower first: the
  most specific and actionable, a shadowing file or a CPU/CUDA mix explains more than "the
  versions do not pair"); one number for every id it emits, or one per id.  Ids without one
  come after, in the order the rules found them.

``supplements=True`` marks a rule whose finding only adds evidence to the same id's finding
from another rule (that one is kept, whatever order the rules ran in); alone, it stands.
Rules run in the order of :data:`MODULES`, then of definition: never in import order.
Adding a rule touches one place: a function in one of the modules below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from tvwizard.facts.evidence import Evidence
from tvwizard.model import Finding

RuleFn = Callable[[Evidence], Finding | Iterable[Finding] | None]

#: The rule modules, in the order their rules run.
MODULES = ("environment", "packages", "gpu", "gpu_arch", "cuda", "imports", "native", "provenance", "user_code")

#: The finding the engine itself emits when a rule fails or misbehaves.
INTERNAL_ERROR = "internal-error"


@dataclass(frozen=True)
class Rule:
    name: str
    fn: RuleFn
    needs: tuple[str, ...]
    emits: tuple[str, ...] = ()
    priority: Mapping[str, int] = field(default_factory=dict)  # finding id -> rank among roots
    supplements: bool = False
    module: str = ""
    line: int = 0


RULES: list[Rule] = []


def _probe_names() -> frozenset[str]:
    from tvwizard.engine.registry import probe_names

    return probe_names()


def rule(
    *,
    needs: Iterable[str],
    emits: Iterable[str],
    priority: int | Mapping[str, int] | None = None,
    supplements: bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule; see the module docstring for what each argument declares."""
    needs, emits = tuple(needs), tuple(emits)

    def register(fn: RuleFn) -> RuleFn:
        where = f"rule {fn.__module__}.{fn.__name__}"
        known = _probe_names()
        unknown = [p for need in needs for p in need.split("|") if p not in known]
        if not needs or unknown:
            raise ValueError(f"{where} needs unknown probes {unknown} (registered: {sorted(known)})")
        if not emits or INTERNAL_ERROR in emits:
            raise ValueError(f"{where} must declare the finding ids it emits (not {INTERNAL_ERROR!r})")
        ranks = dict.fromkeys(emits, priority) if isinstance(priority, int) else dict(priority or {})
        if set(ranks) - set(emits):
            raise ValueError(f"{where} ranks ids it does not emit: {sorted(set(ranks) - set(emits))}")
        module = fn.__module__.rsplit(".", 1)[-1]
        if module not in MODULES:
            raise ValueError(f"{where}: {module!r} is not in diagnosis.rules.MODULES")
        line = fn.__code__.co_firstlineno
        RULES.append(Rule(fn.__name__, fn, needs, emits, ranks, supplements, module, line))
        RULES.sort(key=lambda r: (MODULES.index(r.module), r.line))
        return fn

    return register


def root_priority() -> dict[str, int]:
    """Each finding id's rank among roots of equal severity, from the rules' declarations."""
    ranks: dict[str, int] = {}
    for r in RULES:
        for fid, rank in r.priority.items():
            ranks[fid] = min(rank, ranks.get(fid, rank))
    return ranks


def declared_ids() -> set[str]:
    """Every finding id a rule declares, and the engine's own."""
    return {fid for r in RULES for fid in r.emits} | {INTERNAL_ERROR}


def _load() -> None:
    from tvwizard.diagnosis.rules import (  # noqa: F401
        cuda,
        environment,
        gpu,
        gpu_arch,
        imports,
        native,
        packages,
        provenance,
        user_code,
    )


_load()
