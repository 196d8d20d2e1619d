"""``tvwizard fix``: the fix plan; ``--apply`` runs one after a yes, then checks again."""

from __future__ import annotations

import argparse
import sys

from tvwizard.fixes.verify import apply_and_verify
from tvwizard.inert import inert_line
from tvwizard.model import Finding, Fix, Report, Severity


def plan(report: Report, finding_id: str | None = None) -> list[tuple[Finding, list[Fix]]]:
    """Root causes with their fixes, errors first; only ``finding_id`` when given."""
    out = []
    for f in report.findings:
        if finding_id is not None and f.id != finding_id:
            continue
        if f.caused_by is not None and finding_id is None:
            continue
        if f.fixes:
            out.append((f, f.fixes))
    return out


def first_unfixed_error(report: Report) -> Finding | None:
    """The first error root cause when it has no fix (``fix --apply`` then applies nothing)."""
    first = next((f for f in report.findings if f.caused_by is None and f.severity is Severity.ERROR), None)
    return first if first is not None and not first.fixes else None


def apply_candidates(report: Report, items: list[tuple[Finding, list[Fix]]]) -> list[tuple[Finding, list[Fix]]]:
    """What ``fix --apply`` may pick without ``--finding``: error root causes while any error stands,
    else warnings; an info-level suggestion only when asked for by id."""
    if any(f.severity is Severity.ERROR for f, _ in items):
        return [(f, x) for f, x in items if f.severity is Severity.ERROR]
    return [(f, x) for f, x in items if f.severity is Severity.WARNING]


SOURCE_HINT = {
    "bash": "source {path}",
    "zsh": "source {path}",
    "fish": "source {path}",
    "powershell": ". {path}",
}


def env_file_text(items: list[tuple[Finding, list[Fix]]], shell: str) -> str:
    """A file the user's shell can source with every env-var fix of the plan."""
    from tvwizard.fixes.shell import LABELS, render_env

    lines = [f"# Written by tvwizard for {LABELS.get(shell, shell)}. Source it in the shell you run Python from."]
    for finding, fixes in items:
        for fix in fixes:
            if fix.kind == "env" and fix.env:
                lines.append(inert_line(f"# {finding.id}: {fix.title}"))  # one comment line, whatever the title
                lines.extend(render_env(fix.env, shell))
    return "\n".join(lines) + "\n"


def print_plan(report: Report, items: list[tuple[Finding, list[Fix]]], out=None, shell: str = "bash") -> None:
    from tvwizard.fixes.shell import LABELS, fix_lines

    out = sys.stdout if out is None else out  # today's stdout, not the one at import time

    def show(line: str) -> None:  # titles and commands carry text from the target: inert, one line
        print(inert_line(line), file=out)

    if not items:
        print(
            "Nothing to fix: "
            + (
                "torchvision works."
                if report.verdict == "works"
                else "no fix is known for what was found; `tvwizard check -v` shows the evidence."
            ),
            file=out,
        )
        return
    shown: dict[tuple[str, ...], str] = {}
    for n, (finding, fixes) in enumerate(items, 1):
        mark = {Severity.ERROR: "✗", Severity.WARNING: "!"}.get(finding.severity, "•")
        show(f"{n}. {mark} {finding.title} [{finding.id}]")
        for i, fix in enumerate(fixes, 1):
            key = fix.key()
            if key in shown:
                show(f"   Fix {i}: {fix.title}: the same as {shown[key]} above")
                continue
            shown[key] = f"{n}. fix {i}"
            show(f"   Fix {i}: {fix.title}" + ("" if fix.applicable else "  (by hand)"))
            if fix.why:
                show(f"      why: {fix.why}")
            if fix.kind == "env":
                print(f"      in {LABELS.get(shell, shell)} (--shell for another):", file=out)
            for cmd in fix_lines(fix, shell):
                show(f"      $ {cmd}")
            for label, value in (("changes", fix.changes), ("downloads", fix.download), ("undo", fix.undo)):
                if value:
                    show(f"      {label}: {value}")
            if fix.restart:
                print("      afterwards: restart the Python interpreter / notebook kernel", file=out)
        print(file=out)


def run_fix(args: argparse.Namespace) -> int:
    from tvwizard.cli.common import diagnose_with_progress, resolve_or_exit

    if args.apply and not args.yes and not sys.stdin.isatty():  # before the diagnosis, not after it
        print("tvwizard: no terminal to ask for confirmation; pass --yes to apply without asking.", file=sys.stderr)
        return 2
    target = resolve_or_exit(args)
    report = diagnose_with_progress(target, args)
    items = plan(report, args.finding)
    if args.finding and not items:
        ids = ", ".join(sorted({f.id for f in report.findings})) or "none"
        print(f"tvwizard: no fixes for finding {args.finding!r} (findings here: {ids})", file=sys.stderr)
        return 2
    from tvwizard.fixes.shell import detect_shell

    shell = getattr(args, "shell", None) or detect_shell()
    print_plan(report, items, shell=shell)
    env_file = getattr(args, "env_file", None)
    if env_file:
        if not any(fix.kind == "env" for _, fixes in items for fix in fixes):
            print("tvwizard: no environment-variable fix in this plan; no file written.", file=sys.stderr)
        else:
            try:
                with open(env_file, "w", encoding="utf-8") as fh:
                    fh.write(env_file_text(items, shell))
            except OSError as exc:
                print(f"tvwizard: cannot write --env-file {env_file}: {exc.strerror or exc}", file=sys.stderr)
                return 2
            print(f"Wrote {env_file}: {SOURCE_HINT[shell].format(path=env_file)}")
    unfixed = first_unfixed_error(report) if not args.finding else None
    if unfixed is not None:
        print(
            inert_line(f"No fix is known for {unfixed.id} ({unfixed.title}).")  # the title quotes the target
            + " `tvwizard report` writes a redacted report to attach to a bug report or ticket."
        )
    if not args.apply:
        if items and unfixed is None:
            print(
                "Run `tvwizard fix --apply` to apply the first fix (or --finding ID --choice N), after a confirmation."
            )
        return report.exit_code
    if unfixed is not None:
        # Never apply another finding's fix (an info-level "switch to the CPU build") for an error it
        # does not explain.
        print("tvwizard: nothing applied: the first error has no fix tvwizard knows.", file=sys.stderr)
        return report.exit_code or 1
    chosen = items if args.finding else apply_candidates(report, items)
    if not chosen:
        return report.exit_code
    # The first item is the most important root cause (errors first); --finding picks another.
    finding, fixes = chosen[0]
    if not 1 <= args.choice <= len(fixes):
        print(f"tvwizard: {finding.id} has {len(fixes)} fix(es); --choice {args.choice} is not one", file=sys.stderr)
        return 2
    fix = fixes[args.choice - 1]
    if fix.kind == "env" and fix.env:
        return _try_env_fix(target, args, report, finding, fix)
    if not fix.applicable:
        print(
            f"tvwizard: {finding.id}'s fix {args.choice} is one to do by hand (shown above); tvwizard runs only "
            "installs with the target's own installer.",
            file=sys.stderr,
        )
        return report.exit_code or 1
    from tvwizard.cli import signals

    print(f"About to run, for {finding.id}:")
    for cmd in fix.commands:
        print(inert_line(f"  $ {cmd}"))
    if not args.yes:
        answer = _ask("Apply it? [y/N] ")
        if answer is None:
            return 2
        if answer not in ("y", "yes"):
            print("Nothing was changed.")
            return report.exit_code
    from tvwizard.fixes.apply import FixRefused, apply_fix, check_runnable

    try:
        check_runnable(fix, [target.python, target.executable])
    except FixRefused as exc:
        print(f"tvwizard: {exc}", file=sys.stderr)
        return 2

    async def apply(fix: Fix, _python: str, on_line) -> object:
        return await apply_fix(fix, [target.python, target.executable], on_line)

    def on_phase(phase: str) -> None:
        if phase == "checking":
            print("\nChecking again…")

    verified = signals.run(  # a signal ends what it started, and says so
        apply_and_verify(
            fix,
            finding.id,
            report,
            apply=apply,
            recheck=_recheck(target, args),
            target_python=target.executable or target.python,
            on_line=lambda line: print(line, flush=True),
            on_phase=on_phase,
        )
    )
    if verified.outcome == "failed":
        print(f"\n✗ The fix failed ({verified.reason}); nothing else was run.")
        return 1
    if verified.outcome == "error":
        print(f"tvwizard: {verified.reason}", file=sys.stderr)
        return 2 if verified.after is None and verified.returncode is None else 1
    after = verified.after
    assert after is not None
    if verified.outcome == "gone":
        print(f"✓ {finding.id} is gone.")
    elif verified.outcome == "other-reason":
        print(f"! {finding.id} is still there, for another reason now: {verified.reason}")
    else:
        print(f"✗ {finding.id} is still there: {next(f.title for f in after.findings if f.id == finding.id)}")
    print(
        "torchvision works now."
        if after.verdict == "works"
        else f"Still broken: {len([f for f in after.findings if f.caused_by is None])} finding(s); "
        "run `tvwizard check` for the details."
    )
    if fix.restart:
        print("Restart any Python interpreter or notebook kernel that had torch loaded.")
    return after.exit_code


def _ask(question: str) -> str | None:
    """The answer, lower-cased; None (said in one line) at end of input or Ctrl-C."""
    import signal

    from tvwizard.cli.signals import Stopped

    try:
        return input(question).strip().lower()
    except EOFError:
        print("\ntvwizard: no answer (end of input); nothing was changed.", file=sys.stderr)
    except (KeyboardInterrupt, Stopped) as exc:
        if isinstance(exc, Stopped) and exc.signum != signal.SIGINT:
            raise
        print("\ntvwizard: cancelled; nothing was changed.", file=sys.stderr)
    return None


def _recheck(target, args: argparse.Namespace):
    """The flow's ``recheck``: every probe again, in the flow's own loop."""
    from tvwizard.cli.common import diagnose_target_async

    async def recheck(env) -> Report:
        return await diagnose_target_async(target, args, env=None if env is None else dict(env))

    return recheck


def _try_env_fix(target, args, report: Report, finding: Finding, fix: Fix) -> int:
    """An env-var fix is the user's shell's to make; tvwizard proves it first.

    Nothing is changed: the probes run again with the environment the fix describes, and
    the user gets the lines to put in their shell (or the file from --env-file).
    """
    from tvwizard.cli import signals
    from tvwizard.fixes.shell import LABELS, detect_shell, render_env

    print(f"Checking again with the environment {finding.id}'s fix describes (nothing is changed)…")
    verified = signals.run(  # a signal ends what it started, and says so
        apply_and_verify(
            fix, finding.id, report, apply=_no_apply, recheck=_recheck(target, args), target_python=target.python
        )
    )
    if verified.after is None:
        print(f"tvwizard: {verified.reason}", file=sys.stderr)
        return 2
    after = verified.after
    shell = getattr(args, "shell", None) or detect_shell()
    if verified.outcome == "still-there":
        print(f"✗ With that environment {finding.id} is still there; the fix would not help.")
        return after.exit_code or 1
    if verified.outcome == "other-reason":
        print(f"! With that environment what this fix is for is gone, but {finding.id} remains for another reason:")
        print(f"  {verified.reason}")
        print("  Keep this fix, and see the new reason's own fix with `tvwizard check` (with it applied).")
    else:
        print(
            f"✓ With that environment {finding.id} is gone"
            + (" and torchvision works." if after.verdict == "works" else f"; {after.verdict} otherwise.")
        )
    print(f"Make it yours: run these in {LABELS.get(shell, shell)} (or put them in its startup file):")
    for line in render_env(fix.env, shell):
        print(f"  {line}")
    return 0 if after.verdict == "works" else after.exit_code


async def _no_apply(fix: Fix, _python: str, _on_line) -> object:  # an env-var fix runs nothing
    raise AssertionError("an env-var fix is never run")
