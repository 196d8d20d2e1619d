"""The part of ``pip check`` that matters for torchvision, computed without pip.

Input is the data of the ``distributions`` probe (or its ``dists`` list) and the
``marker_env`` of the ``interpreter`` probe, both from the *target* interpreter, so
markers are evaluated for the target's Python and platform, not tvwizard's.

Starting from torch, torchvision and torchaudio (those installed), it walks their
requirement closure: every requirement whose marker applies (with the extras it was
asked for) must name an installed distribution whose version the specifier contains.
As pip does, prereleases are allowed and a local tag is ignored by a specifier without
one: ``torch 2.13.0+cpu`` satisfies ``torch==2.13.0`` but not ``torch>=2.14.0``.  The
installed copy is the first on ``sys.path`` (the one import and pip see).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOTS = ("torch", "torchvision", "torchaudio")


@dataclass(frozen=True)
class Unsatisfied:
    """One requirement of an installed distribution that the environment does not meet."""

    requirer: str  # canonical name of the distribution that requires it
    requirer_version: str | None
    requirement: str  # the Requires-Dist string as written
    name: str  # canonical name of what is required
    specifier: str  # "" when any version will do
    reason: str  # "missing" | "version" | "invalid-version"
    installed: str | None = None  # version of the installed copy, None when missing
    installed_loc: int | None = None  # its index into the distributions probe's "locations"
    extra: str | None = None  # the requirer's extra that brought the requirement in
    via: tuple[str, ...] = field(default_factory=tuple)  # root … requirer

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["via"] = list(self.via)
        return d

    def __str__(self) -> str:
        got = f"{self.name} {self.installed}" if self.installed else f"{self.name} is not installed"
        return f"{self.requirer} {self.requirer_version or '?'} requires {self.requirement}, but {got}"


def _dist_list(dists: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(dists, Mapping):
        return list(dists.get("dists") or [])
    return list(dists)


def installed_map(dists: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Canonical name -> the copy that wins (first on sys.path)."""
    out: dict[str, Mapping[str, Any]] = {}
    for d in sorted(_dist_list(dists), key=lambda d: d.get("loc") if d.get("loc") is not None else 1 << 30):
        key = d.get("key") or (canonicalize_name(d["name"]) if d.get("name") else None)
        if key and key not in out:
            out[key] = d
    return out


def _applies(req: Requirement, marker_env: Mapping[str, str], extras: frozenset[str]) -> str | bool | None:
    """False when the marker excludes ``req``; else the extra that enabled it ("" for none)."""
    if req.marker is None:
        return ""
    for extra in ("", *sorted(extras)):
        env = dict(marker_env)
        env["extra"] = extra
        try:
            if req.marker.evaluate(env):
                return extra
        except (UndefinedComparison, UndefinedEnvironmentName, InvalidMarker, ValueError):
            continue
    return False


def unsatisfied(
    dists: Mapping[str, Any] | Iterable[Mapping[str, Any]],
    marker_env: Mapping[str, str],
    roots: Iterable[str] = ROOTS,
) -> list[Unsatisfied]:
    """Requirements in the closure of ``roots`` that are missing or not met by the version."""
    installed = installed_map(dists)
    out: list[Unsatisfied] = []
    seen_nodes: set[tuple[str, frozenset[str]]] = set()
    reported: set[tuple[str, str, str]] = set()
    queue: deque[tuple[str, frozenset[str], tuple[str, ...]]] = deque()
    for r in roots:
        key = canonicalize_name(r)
        if key in installed:
            queue.append((key, frozenset(), (key,)))
    while queue:
        key, extras, via = queue.popleft()
        if (key, extras) in seen_nodes:
            continue
        seen_nodes.add((key, extras))
        dist = installed[key]
        for raw in dist.get("requires") or []:
            try:
                req = Requirement(raw)
            except InvalidRequirement:
                continue  # pip check ignores what it cannot parse, too
            enabled = _applies(req, marker_env, extras)
            if enabled is False:
                continue
            name = canonicalize_name(req.name)
            target = installed.get(name)
            common = {
                "requirer": key,
                "requirer_version": dist.get("version"),
                "requirement": raw,
                "name": name,
                "specifier": str(req.specifier),
                "extra": enabled or None,
                "via": via,
            }
            problem = None
            if target is None:
                problem = Unsatisfied(reason="missing", **common)
            else:
                loc = target.get("loc")
                try:
                    version = Version(str(target.get("version")))
                except InvalidVersion:
                    if req.specifier:
                        problem = Unsatisfied(
                            reason="invalid-version",
                            installed=target.get("version"),
                            installed_loc=loc,
                            **common,
                        )
                else:
                    if not req.specifier.contains(version, prereleases=True):
                        problem = Unsatisfied(
                            reason="version", installed=target.get("version"), installed_loc=loc, **common
                        )
                if name not in via:
                    queue.append((name, frozenset(canonicalize_name(e) for e in req.extras), (*via, name)))
            if problem is not None and (key, raw, name) not in reported:
                reported.add((key, raw, name))
                out.append(problem)
    return out
