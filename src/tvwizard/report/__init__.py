"""The shareable report: Markdown, JSON and HTML renderings, redaction, and compare.

Everything here works on the report *dict* (``Report.to_dict()``, schema
``tvwizard.report/1``, documented in ``docs/report-schema.md``).  For the CLI::

    text, summary = render_report(report.to_dict(), "md")           # redacted (default)
    text, summary = render_report(report.to_dict(), "md", redact=False)
    # print NO_REDACT_WARNING to stderr when redact is False;
    # summary_lines(summary) says what was redacted.

    a, b = load_report("A.json"), load_report("B.json")             # ReportLoadError → message
    diff = compare_reports(a, b, labels=("A.json", "B.json"))
    print(render_compare_text(diff))  /  render_compare_json(diff)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tvwizard.report.compare import (
    ReportLoadError,
    compare_reports,
    load_report,
    render_compare_json,
    render_compare_text,
)
from tvwizard.report.facts import summarize_facts
from tvwizard.report.html import render_html
from tvwizard.report.jsonfmt import render_json
from tvwizard.report.markdown import GITHUB_COMMENT_LIMIT, render_markdown
from tvwizard.report.redact import (
    NO_REDACT_WARNING,
    Redactor,
    no_redaction_summary,
    redact_report,
    summary_lines,
)

__all__ = [
    "FORMATS",
    "GITHUB_COMMENT_LIMIT",
    "NO_REDACT_WARNING",
    "Redactor",
    "ReportLoadError",
    "compare_reports",
    "format_for_path",
    "load_report",
    "prepare_report",
    "redact_report",
    "render_compare_json",
    "render_compare_text",
    "render_html",
    "render_json",
    "render_markdown",
    "render_report",
    "summarize_facts",
    "summary_lines",
]

#: Output formats, by their ``--format`` name.
FORMATS = ("md", "json", "html")
_EXTENSIONS = {".md": "md", ".markdown": "md", ".json": "json", ".html": "html", ".htm": "html"}


def format_for_path(path: str, default: str = "md") -> str:
    """The format a file name asks for (``report.html`` → ``html``); ``default`` otherwise."""
    lower = path.lower()
    return next((fmt for ext, fmt in _EXTENSIONS.items() if lower.endswith(ext)), default)


def prepare_report(
    report: Mapping[str, Any], *, redact: bool = True, redactor: Redactor | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report dict as it will be shared, and the redaction summary (also in ``["redaction"]``)."""
    if redact:
        return redact_report(dict(report), redactor)
    summary = no_redaction_summary()
    out = dict(report)
    out["redaction"] = summary
    return out, summary


def render_report(
    report: Mapping[str, Any],
    fmt: str = "md",
    *,
    redact: bool = True,
    redactor: Redactor | None = None,
) -> tuple[str, dict[str, Any]]:
    """Render a report dict as ``md``, ``json`` or ``html``; returns (text, redaction summary).

    Redaction is on unless ``redact=False`` (then the report itself carries a warning).
    """
    renderers = {"md": render_markdown, "json": render_json, "html": render_html}
    if fmt not in renderers:
        raise ValueError(f"unknown report format {fmt!r} (choose one of {', '.join(FORMATS)})")
    shared, summary = prepare_report(report, redact=redact, redactor=redactor)
    return renderers[fmt](shared), summary
