"""The ``tvwizard`` command line.  Imports stay lazy so ``--help``/``--version`` are instant.

``tvwizard --help`` prints :data:`tvwizard.cli._help.HELP`, the parser's own help
rendered at 80 columns and stored, so it needs neither argparse nor any of tvwizard's
engine (``tests/fast/test_cli.py`` keeps the two identical; regenerate with
``python -m tvwizard.cli._help``).

Exit codes, the same in every mode: 0 torchvision imports and its ops work (warnings
allowed), 1 problems were found, 2 bad usage or an unusable target; stopped by a signal,
128 + its number (SIGTERM 143, SIGHUP 129, Ctrl-C 130: :mod:`tvwizard.cli.signals`).
"""

from __future__ import annotations

import os
import sys

from tvwizard import __version__

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs --help 2 ms
if TYPE_CHECKING:
    import argparse

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Find out why `import torchvision` fails, and get back to work.

With no command, opens the wizard in a terminal (or runs `check` when there is no
terminal). tvwizard never imports torch or torchvision itself: every probe runs in a
subprocess of the target Python, the active virtualenv/conda env or python3 on PATH
unless --python says otherwise."""

EPILOG = """\
exit codes: 0 torchvision works, 1 problems found, 2 bad usage or unusable target,
  128+N stopped by signal N (SIGTERM 143, SIGHUP 129, Ctrl-C 130): probes are ended
examples:
  tvwizard                         the wizard
  tvwizard check -v                checklist with every detail
  tvwizard check --json            the whole result as JSON (schema tvwizard.report/1)
  tvwizard --python ~/venvs/ml/bin/python check
  tvwizard fix --apply             apply a fix after confirmation, then check again
  tvwizard check --import basicsr  also import your module, after the standard probes
  tvwizard check -- python train.py   also run your command (only when given after --)
  tvwizard explain error.txt       classify a pasted traceback (or - for stdin)
  tvwizard report -o report.md     a redacted report for a bug ticket
  tvwizard fleet /shared/reports   aggregate nodes' `report --json -o DIR/{host}.json`
environment:
  NO_COLOR              no colours
  TVWIZARD_THEME        the wizard's Textual theme
  TVWIZARD_NVML         the NVML library to read GPUs from (default: libnvidia-ml.so.1)
  TVWIZARD_NVIDIA_SMI   the nvidia-smi to fall back to (default: the first on PATH)"""


def seconds(text: str) -> float:
    """``--timeout``'s type: a finite number of seconds above zero."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def _common(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    import argparse

    # On subcommands the default is SUPPRESS, so `tvwizard --python X check` keeps X.
    default = None if top else argparse.SUPPRESS
    p.add_argument("--python", metavar="PATH", default=default, help="the interpreter (or env folder) to diagnose")
    p.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        default=default,
        help="time limit for the import probe and for your --import / -- COMMAND (default 180 s); the other "
        "steps scale with it (README: Limits)",
    )


def _ways_in(p: argparse.ArgumentParser) -> None:
    """What failed for the user: their import or their command, probed after the standard probes."""
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        metavar="MODULE",
        help="also import MODULE in the target (repeatable), after the standard probes, isolated like them",
    )
    p.add_argument(
        "command_argv",
        nargs="*",
        metavar="-- COMMAND",
        help="also run your own command (e.g. -- python train.py ARGS) in the target env: only when given "
        "after --, in its own process group, no TTY, output capped, killed after --timeout; its first "
        "traceback is diagnosed and kept in the report",
    )


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog="tvwizard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tvwizard {__version__}")
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser(
        "check",
        help="run every probe and print a checklist (no TTY needed)",
        description="Run every probe and print a doctor-style checklist.",
    )
    _common(check)
    check.add_argument("--json", action="store_true", help="print the whole result as JSON")
    check.add_argument(
        "-v", "--verbose", action="store_true", help="every detail: evidence, each probe's duration and log, the GPUs"
    )
    check.add_argument("--ascii", action="store_true", help="ASCII status marks instead of ✓ ! ✗")
    _ways_in(check)
    check.add_argument("--no-redact", action="store_true", help="with --json: keep home paths, user/host names, tokens")

    fix = sub.add_parser(
        "fix",
        help="show the fix plan; --apply runs it after confirmation",
        description="Show the fixes for the problems found; apply one after a yes.",
    )
    _common(fix)
    fix.add_argument("--apply", action="store_true", help="run the chosen fix (asks first), then check again")
    fix.add_argument("--yes", "-y", action="store_true", help="do not ask (for scripts)")
    fix.add_argument("--finding", metavar="ID", help="only the fixes for this finding id")
    fix.add_argument("--choice", type=int, default=1, metavar="N", help="which fix of the finding (default 1)")
    fix.add_argument(
        "--shell",
        choices=("bash", "zsh", "fish", "powershell"),
        help="shell for environment-variable fixes (default: detected from $SHELL)",
    )
    fix.add_argument(
        "--env-file", metavar="FILE", help="also write the environment-variable fixes to FILE, ready to source"
    )
    _ways_in(fix)

    report = sub.add_parser(
        "report",
        help="write a shareable report (Markdown, JSON or HTML), redacted",
        description="Write a shareable report; private data is redacted by default.",
    )
    _common(report)
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="output file, or - for stdout (default: tvwizard-report.<ext> in the working folder)",
    )
    report.add_argument("--format", choices=("md", "json", "html"), help="default: from -o's extension, else md")
    report.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    report.add_argument("--no-redact", action="store_true", help="keep home paths, user/host names, tokens")
    _ways_in(report)

    explain = sub.add_parser(
        "explain",
        help="read a pasted traceback or log, classify it, run only the probes that can confirm it",
        description="Read a traceback or log (from FILE, or stdin for - or no FILE), redacted as it is read; "
        "classify the first error, say what it points to, and run only the probes that can confirm or "
        "refute that. An error of no known kind is said to be one, and gets the full check.",
    )
    _common(explain)
    explain.add_argument("file", nargs="?", default="-", metavar="FILE", help="the text to read (default: stdin)")
    explain.add_argument("--json", action="store_true", help="the classification and the result as JSON")
    explain.add_argument("--ascii", action="store_true", help="ASCII status marks instead of ✓ ! ✗")

    compare = sub.add_parser(
        "compare",
        help="show what differs between two JSON reports",
        description="Compare two reports written by `tvwizard report --format json`.",
    )
    compare.add_argument("a", metavar="A.json")
    compare.add_argument("b", metavar="B.json")
    compare.add_argument("--json", action="store_true", help="the differences as JSON")

    fleet = sub.add_parser(
        "fleet",
        help="aggregate many nodes' JSON reports: who is broken, why, and the fix",
        description="Group the JSON reports of many nodes (`tvwizard report --json -o DIR/{host}.json` "
        "on each) by root cause and by environment. Exit code: 0 all healthy, 1 some broken or "
        "unreadable, 2 no readable report. Recipes for Slurm, pdsh/clush, Ansible and Kubernetes: "
        "docs/fleet.md.",
    )
    fleet.add_argument("paths", nargs="+", metavar="PATH", help="folders of reports (searched recursively) or files")
    fleet.add_argument("--json", action="store_true", help="the summary as JSON (schema tvwizard.fleet/1)")
    fleet.add_argument("--ascii", action="store_true", help="ASCII status marks instead of ✓ ! ✗")
    fleet.add_argument("--plain", action="store_true", help="print the text summary even in a terminal (no view)")
    return parser


def has_terminal() -> bool:
    """A wizard needs a keyboard and a screen: a TTY on stdin and stdout, and a real TERM."""
    term = os.environ.get("TERM", "")
    return sys.stdin.isatty() and sys.stdout.isatty() and term not in ("", "dumb", "unknown")


class StdoutError(Exception):
    """Standard output cannot be written (closed, a full disk, ``/dev/full``, a closed pipe)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


class _GuardedStdout:
    """``sys.stdout`` that turns a failed write into :class:`StdoutError`, which :func:`main`
    answers with one line and exit code 2 instead of a traceback (or a silent exit 0)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _call(self, name: str, *args):
        if self._stream is None:
            import errno

            raise StdoutError(OSError(errno.EBADF, "standard output is closed"))
        try:
            return getattr(self._stream, name)(*args)
        except OSError as exc:
            raise StdoutError(exc) from None

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        self._call("flush")

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def fileno(self) -> int:
        return self._call("fileno")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def no_wizard_reason() -> str:
    """Why the wizard is not opening, in the user's terms: a TERM that cannot draw it is not
    "no terminal" (the user is looking at one)."""
    term = os.environ.get("TERM", "")
    if sys.stdin.isatty() and sys.stdout.isatty():
        return (
            f"tvwizard: TERM={term or '(unset)'} cannot draw the wizard, so running `tvwizard check` instead "
            "(for the wizard, set TERM to your terminal's type, e.g. TERM=xterm-256color)."
        )
    return (
        "tvwizard: no terminal here, so running `tvwizard check` instead of the wizard "
        "(for the wizard, run tvwizard in a terminal; over SSH use `ssh -t host tvwizard`)."
    )


def main(argv: list[str] | None = None) -> int:
    """The ``tvwizard`` command; output that cannot be written is one clear line and exit code 2."""
    import errno

    if not isinstance(sys.stdout, _GuardedStdout):
        sys.stdout = _GuardedStdout(sys.stdout)
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except StdoutError as exc:
        # What is still buffered would fail again when Python exits: send it nowhere.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
        except OSError:
            pass
        if exc.error.errno != errno.EPIPE:  # a reader that stopped early (| head) needs no message
            print(f"tvwizard: cannot write to standard output: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = sys.stdout._stream or sys.__stdout__


def _main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    if words == ["--version"]:
        print(f"tvwizard {__version__}")
        return EXIT_OK
    if words in (["-h"], ["--help"]):
        from tvwizard.cli._help import HELP

        sys.stdout.write(HELP)
        return EXIT_OK
    for stream in (sys.stdout, sys.stderr):  # a path that is not UTF-8 prints as \udcXX, never a traceback
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    from tvwizard.cli import signals

    before = signals.install()
    try:
        return _run(words if argv is not None else None)
    except (signals.Stopped, KeyboardInterrupt) as exc:
        return signals.stop_cleanly(exc)
    finally:
        signals.restore(before)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.command
    words = sys.argv[1:] if argv is None else argv
    if getattr(args, "command_argv", None) and "--" not in words:
        # A command runs only when asked for in so many words: after `--`, never a stray positional.
        parser.error(f"put -- before the command to run (tvwizard {command} -- {' '.join(args.command_argv)})")
    if getattr(args, "command_argv", None) and getattr(args, "imports", None):
        parser.error("--import and -- COMMAND are two ways in: give one of them")
    if command is None:
        if not has_terminal():
            print(no_wizard_reason(), file=sys.stderr)
            args.json = False
            args.verbose = False
            args.ascii = False
            command = "check"
        else:
            from tvwizard.cli.wizard import run_wizard

            return run_wizard(args)
    if command == "check":
        from tvwizard.cli.check import run_check

        return run_check(args)
    if command == "fix":
        from tvwizard.cli.fix import run_fix

        return run_fix(args)
    if command == "report":
        from tvwizard.cli.report import run_report

        return run_report(args)
    if command == "explain":
        from tvwizard.cli.explain import run_explain

        return run_explain(args)
    if command == "compare":
        from tvwizard.cli.report import run_compare

        return run_compare(args)
    if command == "fleet":
        from tvwizard.cli.fleet import run_fleet

        return run_fleet(args)
    parser.error(f"unknown command {command}")
    return EXIT_USAGE
