"""``tvwizard report`` and ``tvwizard compare``."""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path


def _output_path(output: str | None, fmt: str) -> str:
    """``-o``'s path with ``{host}`` filled in (for fleets), or the default in the working folder."""
    if output is None:
        return f"tvwizard-report.{fmt}"
    if "{host}" in output:
        host = socket.gethostname().split(".")[0] or "host"
        output = output.replace("{host}", host)
    return output


def run_report(args: argparse.Namespace) -> int:
    from tvwizard.report import NO_REDACT_WARNING, format_for_path, render_report, summary_lines

    output = getattr(args, "output", None)
    fmt = args.format or (format_for_path(output) if output and output != "-" else "md")
    from tvwizard.cli.common import diagnose_with_progress, resolve_or_exit

    target = resolve_or_exit(args)
    report = diagnose_with_progress(target, args)
    text, summary = render_report(report.to_dict(), fmt, redact=not args.no_redact)
    from tvwizard.cli.common import utf8_safe

    text = utf8_safe(text)  # a path that is not UTF-8 (the target's, the working folder's)
    if args.no_redact:
        print(f"tvwizard: {NO_REDACT_WARNING}", file=sys.stderr)
    if output == "-":
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()  # a full or closed stdout is said now, not after the summary below
    else:
        from tvwizard.report.writing import ReportWriteError, write_report

        path = Path(_output_path(output, fmt))
        try:  # atomically for a file; a device or FIFO is written to, never replaced
            written = write_report(path, text, private=args.no_redact)
        except ReportWriteError as exc:
            print(f"tvwizard: {exc}", file=sys.stderr)
            return 2
        print(
            f"tvwizard: wrote {written.absolute()} ({report.verdict}; {len(report.findings)} finding(s))",
            file=sys.stderr,
        )
    if not args.no_redact:
        for line in summary_lines(summary):
            print(f"tvwizard: {line}", file=sys.stderr)
    return report.exit_code


def run_compare(args: argparse.Namespace) -> int:
    from tvwizard.inert import inert_line
    from tvwizard.report.compare import (
        ReportLoadError,
        comparable_report,
        compare_reports,
        render_compare_json,
        render_compare_text,
    )

    try:
        a, b = comparable_report(args.a), comparable_report(args.b)
    except ReportLoadError as exc:
        print(f"tvwizard: {inert_line(exc)}", file=sys.stderr)
        return 2
    diff = compare_reports(a, b, labels=(Path(args.a).name, Path(args.b).name))
    sys.stdout.write(render_compare_json(diff) if args.json else render_compare_text(diff))
    return 0
