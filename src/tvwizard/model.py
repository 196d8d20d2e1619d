"""The data every layer shares: probe runs, findings, fixes, checks and the report.

Plain dataclasses with ``to_dict``/``from_dict`` so the same objects serve the TUI, the
plain ``check`` output and the JSON contract (``docs/report-schema.md``).  No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

SCHEMA = "tvwizard.report/1"


class StrEnum(str, Enum):
    """``enum.StrEnum`` for Python 3.10: compares and formats as its value."""

    def __str__(self) -> str:
        return str(self.value)


class RunStatus(StrEnum):
    """How a probe *process* ended (not what it found)."""

    OK = "ok"  # ran to the end and sent its result
    FAILED = "failed"  # exited without a result (non-zero exit, probe error)
    CRASHED = "crashed"  # killed by a signal (SIGSEGV, SIGABRT, …)
    TIMEOUT = "timeout"  # ran past its time and was killed
    ERROR = "error"  # could not be started at all
    SKIPPED = "skipped"  # not run (e.g. a probe it needs could not run)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class CheckStatus(StrEnum):
    """One checklist line, flutter-doctor style."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"
    CRASHED = "crashed"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    INFO = "info"


@dataclass
class LogLine:
    stream: str  # "stdout" | "stderr" | "probe"
    text: str


@dataclass
class StepResult:
    """One step of a staged probe (``import torch``, ``nms on cuda:0`` …)."""

    name: str
    status: str  # ok | error | skipped | crashed | timeout
    duration: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeRun:
    """What one probe subprocess did: its status, its data and its log."""

    name: str
    title: str
    status: RunStatus
    duration: float = 0.0
    started: float = 0.0  # seconds after the session started
    data: dict[str, Any] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)
    returncode: int | None = None
    signal: str | None = None
    error: str | None = None  # why it failed / timed out, in words
    fault: str = ""  # faulthandler output: the Python traceback at a crash or at the timeout
    log: list[LogLine] = field(default_factory=list)
    log_dropped: int = 0  # log bytes not kept (floods are bounded)

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": str(self.status),
            "duration": round(self.duration, 4),
            "started": round(self.started, 4),
            "returncode": self.returncode,
            "signal": self.signal,
            "error": self.error,
            "data": self.data,
            "steps": [asdict(s) for s in self.steps],
            "fault": self.fault,
            "log": [asdict(line) for line in self.log],
            "log_dropped": self.log_dropped,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProbeRun:
        return cls(
            name=d["name"],
            title=d.get("title", d["name"]),
            status=RunStatus(d["status"]),
            duration=d.get("duration", 0.0),
            started=d.get("started", 0.0),
            data=d.get("data") or {},
            steps=[StepResult(**s) for s in d.get("steps") or []],
            returncode=d.get("returncode"),
            signal=d.get("signal"),
            error=d.get("error"),
            fault=d.get("fault", ""),
            log=[LogLine(**line) for line in d.get("log") or []],
            log_dropped=d.get("log_dropped", 0),
        )


@dataclass
class Fact:
    """A fact a finding rests on: which probe saw it, and the exact text (a finding's ``evidence``)."""

    probe: str
    fact: str
    detail: str = ""


def fix_key(commands: Iterable[Any], env: Mapping[str, Any], fix_id: Any) -> tuple[str, ...]:
    """What makes two fixes the same one, so a plan or report shows it once: the commands it
    runs; without any, its id and the environment it sets (two findings can share one fix)."""
    return tuple(str(c) for c in commands) or (str(fix_id), *sorted(f"{k}={v}" for k, v in env.items()))


@dataclass
class Fix:
    """A guided fix: what to run or change, why, and how to undo it."""

    id: str
    title: str
    kind: str  # "command" | "env" | "rename" | "manual"
    why: str = ""
    commands: list[str] = field(default_factory=list)  # shell-quoted, ready to paste
    argv: list[list[str]] = field(default_factory=list)  # the same, as argv lists, for --apply
    changes: str = ""  # what it changes
    undo: str = ""
    download: str = ""  # e.g. "about 3 GB"
    restart: bool = False  # the interpreter / notebook kernel must be restarted after it
    applicable: bool = False  # tvwizard can run it for the user (after a yes)
    env: dict[str, str | None] = field(default_factory=dict)  # for kind == "env": name -> value/None(unset)

    def key(self) -> tuple[str, ...]:
        """What makes two fixes the same one (see :func:`fix_key`)."""
        return fix_key(self.commands, self.env, self.id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fix:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Finding:
    """A conclusion: a root cause (``caused_by`` None) or a symptom of one."""

    id: str
    severity: Severity
    title: str
    explanation: str = ""
    evidence: list[Fact] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    caused_by: str | None = None  # id of the root cause this finding is a symptom of
    checks: list[str] = field(default_factory=list)  # checklist lines this finding explains

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": str(self.severity),
            "title": self.title,
            "explanation": self.explanation,
            "evidence": [asdict(e) for e in self.evidence],
            "fixes": [f.to_dict() for f in self.fixes],
            "caused_by": self.caused_by,
            "checks": list(self.checks),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(
            id=d["id"],
            severity=Severity(d["severity"]),
            title=d["title"],
            explanation=d.get("explanation", ""),
            evidence=[Fact(**e) for e in d.get("evidence", [])],
            fixes=[Fix.from_dict(f) for f in d.get("fixes", [])],
            caused_by=d.get("caused_by"),
            checks=list(d.get("checks", [])),
        )


@dataclass
class Check:
    """One checklist line: ``✓ import torchvision  0.29.1+cu130 in 1.2 s``."""

    id: str
    title: str
    status: CheckStatus
    summary: str = ""
    duration: float | None = None
    probe: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(
            id=d["id"],
            title=d["title"],
            status=CheckStatus(d["status"]),
            summary=d.get("summary", ""),
            duration=d.get("duration"),
            probe=d.get("probe"),
        )


@dataclass
class Target:
    """The interpreter being diagnosed."""

    python: str  # the path as given / found
    executable: str = ""  # sys.executable as the target reports it
    version: str = ""  # "3.11.7"
    implementation: str = ""
    prefix: str = ""
    base_prefix: str = ""
    env_kind: str = ""  # venv | conda | system | …
    how_chosen: str = ""  # "--python", "VIRTUAL_ENV", "CONDA_PREFIX", "python3 on PATH"
    cwd: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Target:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Report:
    """Everything one diagnosis produced; the JSON contract."""

    target: Target
    probes: list[ProbeRun]
    findings: list[Finding]
    checks: list[Check]
    verdict: str  # "works" | "broken" | "degraded" | "unknown"
    exit_code: int
    tvwizard_version: str = ""
    created: str = ""
    duration: float = 0.0
    system: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    redaction: dict[str, Any] = field(default_factory=dict)

    def probe(self, name: str) -> ProbeRun | None:
        return next((p for p in self.probes if p.name == name), None)

    def finding_ids(self) -> list[str]:
        return [f.id for f in self.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tvwizard_version": self.tvwizard_version,
            "created": self.created,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "duration": round(self.duration, 4),
            "target": self.target.to_dict(),
            "system": self.system,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
            "probes": [p.to_dict() for p in self.probes],
            "timings": self.timings,
            "redaction": self.redaction,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        schema = d.get("schema")
        if schema != SCHEMA:
            raise ValueError(f"unsupported report schema {schema!r} (this tvwizard reads {SCHEMA!r})")
        return cls(
            target=Target.from_dict(d["target"]),
            probes=[ProbeRun.from_dict(p) for p in d.get("probes", [])],
            findings=[Finding.from_dict(f) for f in d.get("findings", [])],
            checks=[Check.from_dict(c) for c in d.get("checks", [])],
            verdict=d.get("verdict", "unknown"),
            exit_code=d.get("exit_code", 1),
            tvwizard_version=d.get("tvwizard_version", ""),
            created=d.get("created", ""),
            duration=d.get("duration", 0.0),
            system=d.get("system", {}),
            timings=d.get("timings", {}),
            redaction=d.get("redaction", {}),
        )
