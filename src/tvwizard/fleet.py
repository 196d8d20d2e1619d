"""``tvwizard fleet``: many nodes' JSON reports, aggregated.

(One module of ~900 lines: reading the files, grouping, and rendering text and JSON share one
set of dataclasses and one ordering; splitting it is worth doing when a second renderer comes.)

tvwizard has no remote-execution layer of its own.  The cluster's own engine (Slurm,
pdsh/clush, Ansible, a Kubernetes Job or DaemonSet) runs ``tvwizard report --json -o
DIR/{host}.json`` on every node; this module reads the files that land in ``DIR`` and says
which nodes share which problem::

    summary = aggregate(["/shared/reports"])        # directories and/or files
    print(summary.headline())    # 61 nodes healthy · 3 nodes `driver-too-old`: node17, node42, node88
    render_fleet_text(summary) / render_fleet_json(summary)
    summary.exit_code            # 0 all healthy, 1 some broken (or unreadable), 2 none readable

What a :class:`FleetSummary` holds, for the CLI and the wizard's fleet screen:

- ``groups``: hosts grouped by root cause *and* environment fingerprint (torch,
  torchvision, build variant, driver, GPU model), each with its fixes;
- ``causes``: the same hosts grouped by root cause only (each with its fingerprints);
- ``fingerprints``: grouped by environment only (each with its causes);
- ``skipped``: files that are not readable reports (malformed, truncated, empty, another
  schema major), each with the reason; they are listed, never fatal.

**The host name comes from the file name.**  Reports are redacted by default, and
redaction replaces this machine's host name with ``<host>`` wherever it occurs in the
report, so the report's content cannot say which node wrote it; ``-o DIR/{host}.json``
puts the name in the path instead.  :func:`host_for_path` reads it back: ``node17.json``
→ ``node17``; ``report.json.node17`` (what ``rpdcp`` and ``clush --rcopy`` write) →
``node17``; a generic name (``tvwizard-report.json``) → the first folder under the folder
given (what Ansible's ``fetch`` writes: ``DEST/node17/tmp/tvwizard-report.json``), or a
``host`` key in the report when a writer adds one that is not redacted.  When two files
name the same host, the newer report (by ``created``) counts and the other is listed as
superseded.

Everything here is plain Python over the report dicts (``tvwizard.report/1``, read with
:func:`tvwizard.report.compare.load_report`, facts via :func:`summarize_facts`): no
subprocesses, no network.  1,000 real-sized reports aggregate in well under 2 s.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvwizard import __version__

__all__ = [
    "FLEET_SCHEMA",
    "HEALTHY",
    "UNKNOWN",
    "CauseGroup",
    "Fingerprint",
    "FingerprintGroup",
    "FleetFix",
    "FleetSummary",
    "Group",
    "HostReport",
    "Skipped",
    "aggregate",
    "compress_hosts",
    "host_for_path",
    "host_report_from_dict",
    "read_host_report",
    "render_fleet_json",
    "render_fleet_text",
    "summarize_hosts",
]

FLEET_SCHEMA = "tvwizard.fleet/1"

#: ``cause`` of a host whose report found nothing wrong.
HEALTHY = "healthy"
#: ``cause`` of a host that does not work but whose report names no root cause.
UNKNOWN = "unknown"

#: Host status, worst first.  ``degraded``: imports, with warnings (exit code 0).
STATUSES = ("broken", "unknown", "degraded", "healthy")
_STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}

#: File names that say nothing about the host (``tvwizard report``'s default and friends).
GENERIC_STEMS = frozenset({"tvwizard-report", "tvwizard_report", "report", "tvwizard", "<host>", "host", "{host}"})
#: ``NAME.json.SUFFIX`` is ``rpdcp``/``clush --rcopy``'s ``FILE.HOST``, except for these suffixes.
_NOT_HOST_SUFFIXES = frozenset({"tmp", "bak", "old", "orig", "swp", "part", "gz", "bz2", "xz", "zst", "md", "html"})


# -- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """The environment a node runs: what has to match for two nodes to behave the same."""

    torch: str | None = None
    torchvision: str | None = None
    variant: str | None = None  # torch's build variant; "cpu / cu130" when torchvision's differs
    driver: str | None = None  # NVIDIA driver version
    gpu: str | None = None  # GPU model(s): "8× NVIDIA H100 80GB HBM3"

    FIELDS = ("torch", "torchvision", "variant", "driver", "gpu")

    def label(self) -> str:
        """One line: ``torch 2.14.1+cu130 · torchvision 0.29.1+cu130 · cu130 · driver 580.65 · 8× H100``."""
        return " · ".join(
            [
                f"torch {self.torch}" if self.torch else "no torch",
                f"torchvision {self.torchvision}" if self.torchvision else "no torchvision",
                self.variant or "variant ?",
                f"driver {self.driver}" if self.driver else "no driver",
                self.gpu or "no GPU",
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fingerprint:
        return cls(**{k: d.get(k) for k in cls.FIELDS})


@dataclass
class FleetFix:
    """One fix as the reports give it, and the hosts whose report gives exactly these commands."""

    finding: str
    id: str
    title: str
    kind: str = "manual"
    commands: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "commands": list(self.commands),
            "hosts": list(self.hosts),
            "hostlist": compress_hosts(self.hosts),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FleetFix:
        return cls(
            finding=str(d.get("finding") or ""),
            id=str(d.get("id") or ""),
            title=str(d.get("title") or ""),
            kind=str(d.get("kind") or "manual"),
            commands=[str(c) for c in d.get("commands") or []],
            hosts=[str(h) for h in d.get("hosts") or []],
        )


@dataclass
class HostReport:
    """What one node's report says, boiled down to what the fleet view needs."""

    host: str
    path: str
    status: str  # one of STATUSES
    cause: str  # the root cause's finding id, HEALTHY, or UNKNOWN
    title: str  # the root cause's title (or a word on the verdict)
    severity: str | None
    fingerprint: Fingerprint
    verdict: str = "unknown"
    exit_code: int | None = None
    other_causes: list[str] = field(default_factory=list)  # further root causes, in report order
    fixes: list[FleetFix] = field(default_factory=list)  # for the main cause, best first
    tvwizard_version: str | None = None
    created: str | None = None
    python: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "path": self.path,
            "status": self.status,
            "cause": self.cause,
            "title": self.title,
            "severity": self.severity,
            "fingerprint": self.fingerprint.to_dict(),
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "other_causes": list(self.other_causes),
            "fixes": [{k: v for k, v in f.to_dict().items() if k not in ("hosts", "hostlist")} for f in self.fixes],
            "tvwizard_version": self.tvwizard_version,
            "created": self.created,
            "python": self.python,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HostReport:
        return cls(
            host=str(d["host"]),
            path=str(d.get("path") or ""),
            status=str(d.get("status") or "unknown"),
            cause=str(d.get("cause") or UNKNOWN),
            title=str(d.get("title") or ""),
            severity=d.get("severity"),
            fingerprint=Fingerprint.from_dict(d.get("fingerprint") or {}),
            verdict=str(d.get("verdict") or "unknown"),
            exit_code=d.get("exit_code"),
            other_causes=list(d.get("other_causes") or []),
            fixes=[FleetFix.from_dict({**f, "hosts": [d["host"]]}) for f in d.get("fixes") or []],
            tvwizard_version=d.get("tvwizard_version"),
            created=d.get("created"),
            python=d.get("python"),
        )


@dataclass
class _HostsWithCause:
    """What :class:`Group` and :class:`CauseGroup` share: a root cause and the hosts it hit."""

    cause: str
    title: str
    severity: str | None
    status: str
    hosts: list[str]

    @property
    def hostlist(self) -> str:
        return compress_hosts(self.hosts)

    def _cause_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "title": self.title, "severity": self.severity, "status": self.status}

    def _hosts_dict(self) -> dict[str, Any]:
        return {"count": len(self.hosts), "hosts": list(self.hosts), "hostlist": self.hostlist}

    @staticmethod
    def _common_from_dict(d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "cause": str(d["cause"]),
            "title": str(d.get("title") or ""),
            "severity": d.get("severity"),
            "status": str(d.get("status") or "unknown"),
            "hosts": [str(h) for h in d.get("hosts") or []],
            "fixes": [FleetFix.from_dict(f) for f in d.get("fixes") or []],
        }


@dataclass
class Group(_HostsWithCause):
    """Hosts that share a root cause *and* a fingerprint: one problem, one fix, one host list."""

    fingerprint: Fingerprint
    fixes: list[FleetFix] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._cause_dict(),
            "fingerprint": self.fingerprint.to_dict(),
            **self._hosts_dict(),
            "fixes": [f.to_dict() for f in self.fixes],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Group:
        return cls(**cls._common_from_dict(d), fingerprint=Fingerprint.from_dict(d.get("fingerprint") or {}))


@dataclass
class CauseGroup(_HostsWithCause):
    """Hosts that share a root cause, whatever their environment."""

    fingerprints: list[tuple[Fingerprint, list[str]]] = field(default_factory=list)
    fixes: list[FleetFix] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self._cause_dict(),
            **self._hosts_dict(),
            "fingerprints": [
                {"fingerprint": fp.to_dict(), "count": len(h), "hosts": list(h)} for fp, h in self.fingerprints
            ],
            "fixes": [f.to_dict() for f in self.fixes],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CauseGroup:
        return cls(
            **cls._common_from_dict(d),
            fingerprints=[
                (Fingerprint.from_dict(x.get("fingerprint") or {}), [str(h) for h in x.get("hosts") or []])
                for x in d.get("fingerprints") or []
            ],
        )


@dataclass
class FingerprintGroup:
    """Hosts that run the same environment, and what their reports found."""

    fingerprint: Fingerprint
    hosts: list[str]
    causes: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def hostlist(self) -> str:
        return compress_hosts(self.hosts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint.to_dict(),
            "label": self.fingerprint.label(),
            "count": len(self.hosts),
            "hosts": list(self.hosts),
            "hostlist": self.hostlist,
            "causes": [{"cause": c, "count": len(h), "hosts": list(h)} for c, h in self.causes],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FingerprintGroup:
        return cls(
            fingerprint=Fingerprint.from_dict(d.get("fingerprint") or {}),
            hosts=[str(h) for h in d.get("hosts") or []],
            causes=[(str(x["cause"]), [str(h) for h in x.get("hosts") or []]) for x in d.get("causes") or []],
        )


@dataclass
class Skipped:
    """A file that was not counted, and why (in words for the user)."""

    path: str
    reason: str
    kind: str = "unreadable"  # "unreadable" or "superseded"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason, "kind": self.kind}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Skipped:
        return cls(path=str(d["path"]), reason=str(d.get("reason") or ""), kind=str(d.get("kind") or "unreadable"))


@dataclass
class FleetSummary:
    """Every node's report, aggregated.  ``to_dict()`` is the ``tvwizard.fleet/1`` document."""

    hosts: list[HostReport]
    groups: list[Group]
    causes: list[CauseGroup]
    fingerprints: list[FingerprintGroup]
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # files in the folders that are not *.json
    sources: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def unreadable(self) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == "unreadable"]

    @property
    def superseded(self) -> list[Skipped]:
        return [s for s in self.skipped if s.kind == "superseded"]

    def counts(self) -> dict[str, int]:
        by_status = Counter(h.status for h in self.hosts)
        out = {"hosts": len(self.hosts)}
        out.update({s: by_status.get(s, 0) for s in reversed(STATUSES)})
        out["unreadable"] = len(self.unreadable)
        out["superseded"] = len(self.superseded)
        out["ignored"] = len(self.ignored)
        return out

    @property
    def exit_code(self) -> int:
        """0 every node healthy (warnings allowed), 1 a node broken or a report unreadable, 2 none readable."""
        if not self.hosts:
            return 2
        if self.unreadable or any(h.status in ("broken", "unknown") for h in self.hosts):
            return 1
        return 0

    def versions(self) -> dict[str, int]:
        """How many reports each tvwizard version wrote."""
        return dict(Counter(h.tvwizard_version or "?" for h in self.hosts).most_common())

    def created_range(self) -> tuple[str, str] | None:
        stamps = sorted(h.created for h in self.hosts if h.created)
        return (stamps[0], stamps[-1]) if stamps else None

    def headline(self, *, names: int = 8) -> str:
        """``61 nodes healthy · 3 nodes `driver-too-old`: node17, node42, node88``."""
        if not self.hosts:
            return "no readable report" + (f" ({_n(len(self.unreadable), 'file')} skipped)" if self.skipped else "")
        parts = []
        for c in sorted(self.causes, key=lambda c: (c.cause != HEALTHY, -len(c.hosts), c.cause)):
            if c.cause == HEALTHY:
                parts.append(f"{_n(len(c.hosts), 'node')} healthy")
            else:
                parts.append(f"{_n(len(c.hosts), 'node')} `{c.cause}`: {_names(c.hosts, names)}")
        if self.unreadable:
            parts.append(f"{_n(len(self.unreadable), 'report')} unreadable")
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        span = self.created_range()
        return {
            "schema": FLEET_SCHEMA,
            "tvwizard_version": __version__,
            "exit_code": self.exit_code,
            "headline": self.headline(),
            "counts": self.counts(),
            "sources": list(self.sources),
            "seconds": round(self.seconds, 4),
            "reports_created": {"oldest": span[0], "newest": span[1]} if span else None,
            "versions": self.versions(),
            "groups": [g.to_dict() for g in self.groups],
            "causes": [c.to_dict() for c in self.causes],
            "fingerprints": [f.to_dict() for f in self.fingerprints],
            "hosts": [h.to_dict() for h in self.hosts],
            "skipped": [s.to_dict() for s in self.skipped],
            "ignored": list(self.ignored),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FleetSummary:
        """Read a ``tvwizard.fleet/1`` document back (``tvwizard fleet --json``'s output)."""
        if d.get("schema") != FLEET_SCHEMA:
            raise ValueError(f"not a {FLEET_SCHEMA} document (schema {d.get('schema')!r})")
        return cls(
            hosts=[HostReport.from_dict(h) for h in d.get("hosts") or []],
            groups=[Group.from_dict(g) for g in d.get("groups") or []],
            causes=[CauseGroup.from_dict(c) for c in d.get("causes") or []],
            fingerprints=[FingerprintGroup.from_dict(f) for f in d.get("fingerprints") or []],
            skipped=[Skipped.from_dict(s) for s in d.get("skipped") or []],
            ignored=[str(p) for p in d.get("ignored") or []],
            sources=[str(p) for p in d.get("sources") or []],
            seconds=float(d.get("seconds") or 0.0),
        )


# -- host names -------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def _natural(host: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", host))


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _names(hosts: Sequence[str], limit: int) -> str:
    """``node17, node42, node88`` for a few; the compressed host list for many."""
    if len(hosts) <= limit:
        return ", ".join(hosts)
    compressed = compress_hosts(hosts)
    if len(compressed) <= 80:
        return compressed
    return ", ".join(hosts[:limit]) + f" … and {len(hosts) - limit} more"


def compress_hosts(hosts: Iterable[str]) -> str:
    """Slurm/pdsh host-list notation: ``node01, node02, node03, node07`` → ``node[01-03,07]``.

    The result can be given to ``srun -w``, ``pdsh -w`` and ``clush -w`` to act on exactly
    those nodes.  Zero-padded numbers keep their width; names without a number stay as they are.
    """
    plain: list[str] = []
    numbered: dict[str, list[str]] = {}
    for host in dict.fromkeys(hosts):
        m = _NUMBERED.match(host)
        if m and m.group(1) and not m.group(1).endswith(("[", ",")):
            numbered.setdefault(m.group(1), []).append(m.group(2))
        else:
            plain.append(host)
    parts: list[tuple[tuple[Any, ...], str]] = [(_natural(h), h) for h in plain]
    for prefix, digits in numbered.items():
        padded = any(len(d) > 1 and d.startswith("0") for d in digits)
        by_width: dict[int, list[int]] = {}
        for d in digits:
            by_width.setdefault(len(d) if padded else 0, []).append(int(d))
        for width, numbers in by_width.items():
            numbers.sort()
            ranges: list[str] = []
            start = prev = numbers[0]
            for n in [*numbers[1:], None]:
                if n is not None and n == prev + 1:
                    prev = n
                    continue
                a, b = f"{start:0{width}d}", f"{prev:0{width}d}"
                ranges.append(a if start == prev else f"{a}-{b}")
                if n is not None:
                    start = prev = n
            text = (
                f"{prefix}{ranges[0]}" if len(ranges) == 1 and "-" not in ranges[0] else f"{prefix}[{','.join(ranges)}]"
            )
            parts.append((_natural(f"{prefix}{numbers[0]:0{width}d}"), text))
    return ",".join(text for _, text in sorted(parts))


def host_for_path(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str | None:
    """The host a report file belongs to, from its name; None when the name says nothing.

    ``node17.json`` → ``node17``; ``tvwizard-report.json.node17`` (rpdcp, clush --rcopy) →
    ``node17``; a generic name under ``root`` (Ansible fetch: ``root/node17/tmp/x.json``) →
    the first folder under ``root``.
    """
    p = Path(path)
    name = p.name
    if ".json." in name:
        suffix = name.rsplit(".json.", 1)[1]
        if suffix and suffix.lower() not in _NOT_HOST_SUFFIXES:
            return suffix
    stem = name[: -len(".json")] if name.lower().endswith(".json") else p.stem
    if stem and stem.lower() not in GENERIC_STEMS:
        return stem
    if root is not None:
        try:
            rel = p.relative_to(root).parts
        except ValueError:
            rel = ()
        if len(rel) > 1:
            return rel[0]
    return None


def _is_report_name(name: str) -> bool:
    if name.startswith("."):  # `tvwizard report` writes .NAME.PID.tmp first
        return False
    lower = name.lower()
    if lower.endswith(".json"):
        return True
    if ".json." in lower:
        return lower.rsplit(".json.", 1)[1] not in _NOT_HOST_SUFFIXES
    return False


def _scan(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[tuple[Path, Path | None]], list[str]]:
    """(file, root folder or None) for each report file to read, and the files ignored."""
    files: list[tuple[Path, Path | None]] = []
    ignored: list[str] = []
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = []
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    full = Path(dirpath, name)
                    if _is_report_name(name):
                        found.append(full)
                    elif not name.startswith("."):
                        ignored.append(str(full))
            files.extend((f, p) for f in sorted(found))
        else:
            files.append((p, None))  # named explicitly: read it whatever its name (or say why not)
    return files, ignored


# -- reading one report -------------------------------------------------------------------------


def _fleet_message(message: str) -> str:
    """``load_report``'s messages, worded for fleet rather than compare."""
    return message.replace("to compare it", "to aggregate it").replace("compare reads", "fleet reads")


def _gpu_model(gpus: list[dict[str, Any]]) -> str | None:
    names = Counter(g.get("name") or "unknown GPU" for g in gpus)
    if not names:
        return None
    return ", ".join(f"{n}× {name}" if n > 1 else name for name, n in sorted(names.items()))


def _variant(torch: str | None, tv: str | None) -> str | None:
    if tv and torch and tv != torch:
        return f"{torch} / {tv}"
    return torch or tv


#: What a fleet shows of each report (it skips the probe rows and logs, which cost the most).
FLEET_SECTIONS = ("meta", "python", "packages", "gpu", "findings")


def _facts(report: Mapping[str, Any]) -> dict[str, Any]:
    """The part of :func:`summarize_facts` a fleet needs, read by the same code."""
    from tvwizard.report.facts import summarize_facts

    return summarize_facts(report, FLEET_SECTIONS)


def host_report_from_dict(
    report: Mapping[str, Any], host: str, path: str = "", facts: Mapping[str, Any] | None = None
) -> HostReport:
    """Boil a loaded report dict down to a :class:`HostReport`."""
    f = facts if facts is not None else _facts(report)
    pk, gpu, meta = f["packages"], f["gpu"], f["meta"]
    fingerprint = Fingerprint(
        torch=pk["torch"]["version"],
        torchvision=pk["torchvision"]["version"],
        variant=_variant(pk["torch"]["variant"], pk["torchvision"]["variant"]),
        driver=gpu["driver"],
        gpu=_gpu_model(gpu["gpus"]),
    )
    verdict = meta["verdict"] or "unknown"
    exit_code = (
        meta["exit_code"] if isinstance(meta["exit_code"], int) and not isinstance(meta["exit_code"], bool) else None
    )
    works = exit_code == 0 if exit_code is not None else verdict in ("works", "degraded")
    findings = f["findings"]
    roots = [r for r in findings["roots"] if r.get("severity") in ("error", "warning")]
    if works and verdict != "degraded":
        roots = [r for r in roots if r.get("severity") == "error"]  # warnings on a working node: healthy
    if not roots:
        cause = HEALTHY if works else UNKNOWN
        title = (
            "torchvision imports and works"
            if works
            else f"verdict {verdict!r}, exit code {exit_code}, but the report names no root cause"
        )
        return HostReport(
            host=host,
            path=path,
            status="healthy" if works else "unknown",
            cause=cause,
            title=title,
            severity=None,
            fingerprint=fingerprint,
            verdict=verdict,
            exit_code=exit_code,
            tvwizard_version=meta["tvwizard_version"],
            created=meta["created"],
            python=f["python"]["executable"],
        )
    main = roots[0]
    main_id = str(main["id"])
    related = {main_id} | {str(s.get("id")) for s in findings["symptoms"].get(main_id, [])}
    fixes = [
        FleetFix(
            finding=str(x.get("finding")),
            id=str(x.get("id") or ""),
            title=str(x.get("title") or ""),
            kind=str(x.get("kind") or "manual"),
            commands=[str(c) for c in x.get("commands") or [] if isinstance(c, str)],
            hosts=[host],
        )
        for x in findings["fixes"]
        if related & {x.get("finding"), *(x.get("also_for") or [])}
    ]
    return HostReport(
        host=host,
        path=path,
        status="degraded" if works else "broken",
        cause=main_id,
        title=str(main.get("title") or main_id),
        severity=main.get("severity"),
        fingerprint=fingerprint,
        verdict=verdict,
        exit_code=exit_code,
        other_causes=[str(r["id"]) for r in roots[1:]],
        fixes=fixes,
        tvwizard_version=meta["tvwizard_version"],
        created=meta["created"],
        python=f["python"]["executable"],
    )


def read_host_report(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> HostReport | Skipped:
    """One file: its :class:`HostReport`, or a :class:`Skipped` that says why not."""
    from tvwizard.report.compare import ReportLoadError, load_report

    name = str(path)
    try:
        report = load_report(path)
    except ReportLoadError as exc:
        return Skipped(name, _fleet_message(exc.message))
    host = host_for_path(path, root)
    field_host = report.get("host")
    if host is None and isinstance(field_host, str) and field_host.strip() and "<" not in field_host:
        host = field_host.strip()
    if host is None:
        host = Path(path).stem or name
    try:
        return host_report_from_dict(report, host, name)
    except Exception as exc:  # a /1 report shaped in a way no reader expected: skip it, say so
        return Skipped(name, f"malformed report ({type(exc).__name__}: {exc})")


# -- aggregating ----------------------------------------------------------------------------------


def _merge_fixes(members: Iterable[HostReport]) -> list[FleetFix]:
    """Distinct (fix, commands) across hosts, in the order the reports rank them."""
    merged: dict[tuple[str, str, tuple[str, ...]], FleetFix] = {}
    rank: dict[tuple[str, str, tuple[str, ...]], tuple[int, int]] = {}
    for member in members:
        for i, fix in enumerate(member.fixes):
            key = (fix.finding, fix.id, tuple(fix.commands))
            if key not in merged:
                merged[key] = FleetFix(fix.finding, fix.id, fix.title, fix.kind, list(fix.commands), [])
                rank[key] = (i, len(rank))
            merged[key].hosts.append(member.host)
    return [merged[k] for k in sorted(merged, key=lambda k: (rank[k][0], -len(merged[k].hosts), rank[k][1]))]


def _common(values: Iterable[Any]) -> Any:
    counted = Counter(values).most_common(1)
    return counted[0][0] if counted else None


def _status_of(members: Sequence[HostReport]) -> str:
    return min((m.status for m in members), key=lambda s: _STATUS_RANK.get(s, 0))


def _group_order(status: str, count: int, name: str) -> tuple[Any, ...]:
    return (status == "healthy", _STATUS_RANK.get(status, 0), -count, name)


def summarize_hosts(
    hosts: Iterable[HostReport], skipped: Iterable[Skipped] = (), ignored: Iterable[str] = ()
) -> FleetSummary:
    """Group host reports (already read) by cause, by fingerprint, and by both."""
    hosts = sorted(hosts, key=lambda h: _natural(h.host))
    by_pair: dict[tuple[str, Fingerprint], list[HostReport]] = {}
    by_cause: dict[str, list[HostReport]] = {}
    by_fp: dict[Fingerprint, list[HostReport]] = {}
    for h in hosts:
        by_pair.setdefault((h.cause, h.fingerprint), []).append(h)
        by_cause.setdefault(h.cause, []).append(h)
        by_fp.setdefault(h.fingerprint, []).append(h)

    groups = [
        Group(
            cause=cause,
            title=_common(m.title for m in members),
            severity=members[0].severity,
            status=_status_of(members),
            fingerprint=fp,
            hosts=[m.host for m in members],
            fixes=_merge_fixes(members),
        )
        for (cause, fp), members in by_pair.items()
    ]
    groups.sort(key=lambda g: _group_order(g.status, len(g.hosts), g.cause + g.fingerprint.label()))

    causes = []
    for cause, members in by_cause.items():
        fps: dict[Fingerprint, list[str]] = {}
        for m in members:
            fps.setdefault(m.fingerprint, []).append(m.host)
        causes.append(
            CauseGroup(
                cause=cause,
                title=_common(m.title for m in members),
                severity=members[0].severity,
                status=_status_of(members),
                hosts=[m.host for m in members],
                fingerprints=sorted(fps.items(), key=lambda kv: (-len(kv[1]), kv[0].label())),
                fixes=_merge_fixes(members),
            )
        )
    causes.sort(key=lambda c: _group_order(c.status, len(c.hosts), c.cause))

    fingerprints = []
    for fp, members in by_fp.items():
        cs: dict[str, list[str]] = {}
        for m in members:
            cs.setdefault(m.cause, []).append(m.host)
        fingerprints.append(
            FingerprintGroup(
                fingerprint=fp,
                hosts=[m.host for m in members],
                causes=sorted(cs.items(), key=lambda kv: (kv[0] != HEALTHY, -len(kv[1]), kv[0])),
            )
        )
    fingerprints.sort(key=lambda f: (-len(f.hosts), f.fingerprint.label()))
    return FleetSummary(
        hosts=hosts,
        groups=groups,
        causes=causes,
        fingerprints=fingerprints,
        skipped=list(skipped),
        ignored=list(ignored),
    )


def aggregate(paths: Iterable[str | os.PathLike[str]]) -> FleetSummary:
    """Read every report under ``paths`` (folders, searched recursively, and files) and group them.

    Unreadable files are listed in ``skipped`` with the reason and otherwise ignored.  When
    two files name the same host, the newer report counts and the older is listed as
    superseded.
    """
    started = time.perf_counter()
    sources = [str(p) for p in paths]
    files, ignored = _scan(sources)
    latest: dict[str, HostReport] = {}
    skipped: list[Skipped] = []
    for path, root in files:
        got = read_host_report(path, root)
        if isinstance(got, Skipped):
            skipped.append(got)
            continue
        other = latest.get(got.host)
        if other is None:
            latest[got.host] = got
            continue
        newer, older = (got, other) if (got.created or "") >= (other.created or "") else (other, got)
        latest[got.host] = newer
        skipped.append(
            Skipped(
                older.path,
                f"an older report of {older.host} (created {older.created or '?'}); {newer.path} counts",
                kind="superseded",
            )
        )
    summary = summarize_hosts(latest.values(), skipped, ignored)
    summary.sources = sources
    summary.seconds = time.perf_counter() - started
    return summary


# -- rendering ------------------------------------------------------------------------------------

_MARKS = {"healthy": "✓", "degraded": "!", "broken": "✗", "unknown": "?"}
_ASCII_MARKS = {"healthy": "+", "degraded": "!", "broken": "x", "unknown": "?"}


def render_fleet_text(summary: FleetSummary, *, ascii: bool = False, names: int = 8) -> str:
    """The fleet as plain text: headline, one block per problem with its fix, environments, skipped."""
    marks = _ASCII_MARKS if ascii else _MARKS
    dot = "-" if ascii else "·"
    counts = summary.counts()
    out: list[str] = []
    where = ", ".join(summary.sources) or "nothing"
    read = f"{_n(counts['hosts'], 'node')} from {where}"
    extra = []
    if counts["unreadable"]:
        extra.append(f"{counts['unreadable']} unreadable")
    if counts["superseded"]:
        extra.append(f"{counts['superseded']} superseded")
    out.append(f"tvwizard fleet: {read}" + (f" ({', '.join(extra)})" if extra else ""))
    out.append("")
    headline = summary.headline(names=names)
    out.append(headline.replace(" · ", f" {dot} ") if ascii else headline)

    for g in summary.groups:
        out.append("")
        label = g.cause if g.cause in (HEALTHY, UNKNOWN) else f"`{g.cause}`"
        out.append(f"{marks.get(g.status, '?')} {label} {dot} {_n(len(g.hosts), 'node')}: {_names(g.hosts, names)}")
        if g.cause != HEALTHY:
            out.append(f"  {g.title}")
        out.append(f"  environment: {g.fingerprint.label().replace(' · ', f' {dot} ')}")
        if len(g.hosts) > names:
            out.append(f"  host list: {g.hostlist}")
        for fix in g.fixes:
            on = "" if len(fix.hosts) == len(g.hosts) else f" (on {_n(len(fix.hosts), 'node')}: {_names(fix.hosts, 4)})"
            out.append(f"  fix: {fix.title}{on}")
            out.extend(f"      {cmd}" for cmd in fix.commands)

    if summary.hosts:
        out.append("")
        out.append("Environments:")
        width = len(str(max(len(f.hosts) for f in summary.fingerprints)))
        for f in summary.fingerprints:
            found = ", ".join(f"{c} {len(h)}" for c, h in f.causes)
            label = f.fingerprint.label().replace(" · ", f" {dot} ")
            out.append(f"  {len(f.hosts):>{width}} {label}  [{found}]")

    versions = summary.versions()
    if len(versions) > 1:
        out.append("")
        out.append("Written by tvwizard " + ", ".join(f"{v} ({n})" for v, n in versions.items()))
    span = summary.created_range()
    if span and span[0][:10] != span[1][:10]:
        out.append(f"Reports created between {span[0]} and {span[1]}.")

    for title, items in (("Skipped", summary.unreadable), ("Superseded", summary.superseded)):
        if items:
            out.append("")
            out.append(f"{title} ({_n(len(items), 'file')}, not counted):")
            out.extend(f"  {s.path}: {s.reason}" for s in items)
    if summary.ignored:
        out.append("")
        shown = ", ".join(summary.ignored[:5]) + (" …" if len(summary.ignored) > 5 else "")
        out.append(f"Ignored {_n(len(summary.ignored), 'file')} not named *.json: {shown}")
    return "\n".join(out) + "\n"


def render_fleet_json(summary: FleetSummary) -> str:
    """The ``tvwizard.fleet/1`` document: 2-space indent, trailing newline."""
    return json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n"
