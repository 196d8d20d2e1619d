"""``tvwizard explain [FILE|-]``: start from the traceback a person already has.

The text is read bounded and redacted on the way in (home, user and host names, tokens go
before anything else sees them), the first traceback is parsed and classified, and only the
probes that can confirm or refute the class run; the pasted failure travels with them as the
``user`` probe, which names the distribution owning each file of it.  An error of no known
kind is said to be one, and gets the full check.
"""

from __future__ import annotations

import argparse
import json
import sys

MAX_INPUT = 1024 * 1024  # a pasted log is bounded: the first traceback is what is read
OPTION_TRACEBACK = 16 * 1024  # the failure travels to the probe in its argv: keep it well under 128 KiB
OPTION_FRAMES = 100


def read_input(name: str) -> str:
    """The text of FILE, or of stdin for ``-``; at most :data:`MAX_INPUT` bytes, never a crash on bytes."""
    if name == "-":
        raw = sys.stdin.buffer.read(MAX_INPUT)
    else:
        with open(name, "rb") as fh:
            raw = fh.read(MAX_INPUT)
    return raw.decode("utf-8", "replace")


def for_probe(failure: dict) -> dict:
    """The failure, bounded for the probe's options."""
    return {
        **failure,
        "frames": list(failure.get("frames") or [])[-OPTION_FRAMES:],
        "traceback": str(failure.get("traceback") or "")[-OPTION_TRACEBACK:],
        "message": str(failure.get("message") or "")[:4000],
    }


def run_explain(args: argparse.Namespace) -> int:
    from tvwizard.cli.common import diagnose_target, resolve_or_exit
    from tvwizard.diagnosis.tracebacks import classify
    from tvwizard.engine.registry import by_name, user_probe
    from tvwizard.probes._traceback import parse
    from tvwizard.report.redact import Redactor

    try:
        raw = read_input(args.file)
    except OSError as exc:
        print(f"tvwizard: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if sys.stdin.isatty() and args.file == "-" and not raw:
        print("tvwizard: paste the traceback, then Ctrl-D (or pass a FILE)", file=sys.stderr)
        return 2
    text = Redactor().redact_text(raw)
    failure = parse(text)
    cls = classify(failure, raw_text=text)
    probes = [by_name(name) for name in cls.probes]
    if failure is not None:
        probes.append(user_probe(failure=for_probe(failure), timeout=getattr(args, "timeout", None)))
    if not args.json:
        _say_class(failure, cls)
    target = resolve_or_exit(args)
    report = diagnose_target(target, args, probes=probes)
    confirmed = cls.finding is not None and cls.finding in report.finding_ids()
    if args.json:
        out = {
            "classification": {
                "finding": cls.finding,
                "known": cls.known,
                "summary": cls.summary,
                "probes": list(cls.probes),
                "removed_api": cls.api.id if cls.api else None,
                "confirmed": confirmed,
            },
            "failure": failure,
            "report": report.to_dict(),
        }
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return report.exit_code
    from rich.console import Console

    from tvwizard.cli.checklist import AsciiFile, can_draw_unicode, render_checklist

    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    ascii_only = args.ascii or not can_draw_unicode(console)
    if ascii_only:
        console = Console(file=AsciiFile(sys.stdout), highlight=False, soft_wrap=not sys.stdout.isatty())
    render_checklist(report, console, ascii_only=ascii_only)
    if cls.known:
        print(
            f"\nThe probes {'confirm' if confirmed else 'do not confirm'} it: {cls.finding} is "
            f"{'in' if confirmed else 'not in'} the diagnosis."
        )
    return report.exit_code


def _say_class(failure: dict | None, cls) -> None:
    if failure is None:
        print("tvwizard found no Python traceback or error line in the text.")
    else:
        first = str(failure.get("message") or "").splitlines()
        print(f"Error: {failure.get('type') or '?'}: {first[0] if first else ''}")
    if cls.known:
        print(f"Looks like {cls.finding}: {cls.summary}")
        print(f"Running only the probes that can confirm or refute it: {', '.join(cls.probes)}.")
    else:
        print("tvwizard does not recognise this kind of error; running the full check.")
    sys.stdout.flush()
