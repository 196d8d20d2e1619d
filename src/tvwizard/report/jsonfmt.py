"""The JSON report: the ``tvwizard.report/1`` schema (``docs/report-schema.md``), stable order.

Keys of the model's objects come in the model's order (``Report.to_dict()`` and friends);
keys a newer writer added come after them, sorted; free-form dicts (probe ``data``, step
``data``, ``system``, ``timings``, ``redaction``, fix ``env``) are sorted by key.  So two
reports of the same machine differ only where the machine or the run differs, and a
``diff`` of two files is readable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tvwizard.inert import inert_json

__all__ = ["canonical", "render_json"]

REPORT_KEYS = (
    "schema",
    "tvwizard_version",
    "created",
    "verdict",
    "exit_code",
    "duration",
    "target",
    "system",
    "checks",
    "findings",
    "probes",
    "timings",
    "redaction",
)
TARGET_KEYS = (
    "python",
    "executable",
    "version",
    "implementation",
    "prefix",
    "base_prefix",
    "env_kind",
    "how_chosen",
    "cwd",
)
CHECK_KEYS = ("id", "title", "status", "summary", "duration", "probe")
FINDING_KEYS = ("id", "severity", "title", "explanation", "evidence", "fixes", "caused_by", "checks")
EVIDENCE_KEYS = ("probe", "fact", "detail")
FIX_KEYS = (
    "id",
    "title",
    "kind",
    "why",
    "commands",
    "argv",
    "changes",
    "undo",
    "download",
    "restart",
    "applicable",
    "env",
)
PROBE_KEYS = (
    "name",
    "title",
    "status",
    "duration",
    "started",
    "returncode",
    "signal",
    "error",
    "data",
    "steps",
    "fault",
    "log",
    "log_dropped",
)
STEP_KEYS = ("name", "status", "duration", "data")
LOG_KEYS = ("stream", "text")


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return value


def _ordered(d: Any, keys: tuple[str, ...], nested: dict[str, Any] | None = None) -> Any:
    """``d`` with ``keys`` first (in that order), then any others sorted; children arranged."""
    if not isinstance(d, Mapping):
        return _sorted(d)
    nested = nested or {}
    out: dict[str, Any] = {}
    for key in [*(k for k in keys if k in d), *sorted(k for k in d if k not in keys)]:
        value = d[key]
        arrange = nested.get(key)
        if arrange is not None and isinstance(value, list):
            out[key] = [arrange(v) for v in value]
        elif arrange is not None and isinstance(value, Mapping):
            out[key] = arrange(value)
        else:
            out[key] = _sorted(value)
    return out


def _fix(d: Any) -> Any:
    return _ordered(d, FIX_KEYS)


def _finding(d: Any) -> Any:
    return _ordered(d, FINDING_KEYS, {"evidence": lambda e: _ordered(e, EVIDENCE_KEYS), "fixes": _fix})


def _probe(d: Any) -> Any:
    return _ordered(
        d,
        PROBE_KEYS,
        {"steps": lambda s: _ordered(s, STEP_KEYS), "log": lambda line: _ordered(line, LOG_KEYS)},
    )


def canonical(report: Mapping[str, Any]) -> dict[str, Any]:
    """The report dict in the documented, stable key order (values unchanged)."""
    return _ordered(
        report,
        REPORT_KEYS,
        {
            "target": lambda t: _ordered(t, TARGET_KEYS),
            "checks": lambda c: _ordered(c, CHECK_KEYS),
            "findings": _finding,
            "probes": _probe,
        },
    )


def render_json(report: Mapping[str, Any]) -> str:
    """The report as JSON: stable key order, 2-space indent, UTF-8 text, trailing newline."""
    return inert_json(json.dumps(canonical(report), indent=2, ensure_ascii=False, default=str)) + "\n"
