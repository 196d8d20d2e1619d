"""``tvwizard fix``: the fix plan; ``--apply`` runs one after a yes, then checks again."""

from __future__ import annotations

import argparse
import asyncio
import sys

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
                lines.append(f"# {finding.id}: {fix.title}")
                lines.extend(render_env(fix.env, shell))
    return "\n".join(lines) + "\n"


def print_plan(report: Report, items: list[tuple[Finding, list[Fix]]], out=sys.stdout, shell: str = "bash") -> None:
    from tvwizard.fixes.shell import LABELS, fix_lines

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
        print(f"{n}. {mark} {finding.title} [{finding.id}]", file=out)
        for i, fix in enumerate(fixes, 1):
            key = fix.key()
            if key in shown:
                print(f"   Fix {i}: {fix.title}: the same as {shown[key]} above", file=out)
                continue
            shown[key] = f"{n}. fix {i}"
            print(f"   Fix {i}: {fix.title}" + ("" if fix.applicable else "  (by hand)"), file=out)
            if fix.why:
                print(f"      why: {fix.why}", file=out)
            if fix.kind == "env":
                print(f"      in {LABELS.get(shell, shell)} (--shell for another):", file=out)
            for cmd in fix_lines(fix, shell):
                print(f"      $ {cmd}", file=out)
            for label, value in (("changes", fix.changes), ("downloads", fix.download), ("undo", fix.undo)):
                if value:
                    print(f"      {label}: {value}", file=out)
            if fix.restart:
                print("      afterwards: restart the Python interpreter / notebook kernel", file=out)
        print(file=out)


def run_fix(args: argparse.Namespace) -> int:
    from tvwizard.cli.common import diagnose_with_progress, resolve_or_exit

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
            from pathlib import Path

            Path(env_file).write_text(env_file_text(items, shell), encoding="utf-8")
            print(f"Wrote {env_file}: {SOURCE_HINT[shell].format(path=env_file)}")
    unfixed = first_unfixed_error(report) if not args.finding else None
    if unfixed is not None:
        print(
            f"No fix is known for {unfixed.id} ({unfixed.title}). `tvwizard report` writes a redacted report "
            "to attach to a bug report or ticket."
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
    print(f"About to run, for {finding.id}:")
    for cmd in fix.commands:
        print(f"  $ {cmd}")
    if not args.yes:
        if not sys.stdin.isatty():
            print("tvwizard: no terminal to ask for confirmation; pass --yes to apply without asking.", file=sys.stderr)
            return 2
        answer = input("Apply it? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Nothing was changed.")
            return report.exit_code
    from tvwizard.fixes.apply import FixRefused, apply_fix

    try:
        result = asyncio.run(apply_fix(fix, [target.python, target.executable], lambda line: print(line, flush=True)))
    except FixRefused as exc:
        print(f"tvwizard: {exc}", file=sys.stderr)
        return 2
    if not result.ok:
        print(f"\n✗ The fix failed (exit code {result.returncode}); nothing else was run.")
        return 1
    print("\nChecking again…")
    from tvwizard.cli.common import diagnose_target

    after = diagnose_target(target, args)
    from tvwizard.fixes.apply import other_reason

    gone = finding.id not in after.finding_ids()
    if gone:
        print(f"✓ {finding.id} is gone.")
    elif reason := other_reason(report, after, finding.id):
        print(f"! {finding.id} is still there, for another reason now: {reason}")
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


def _try_env_fix(target, args, report: Report, finding: Finding, fix: Fix) -> int:
    """An env-var fix is the user's shell's to make; tvwizard proves it first.

    Nothing is changed: the probes run again with the environment the fix describes, and
    the user gets the lines to put in their shell (or the file from --env-file).
    """
    import os

    from tvwizard.cli.common import diagnose_target
    from tvwizard.fixes.shell import LABELS, detect_shell, render_env

    env = dict(os.environ)
    for name, value in fix.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    print(f"Checking again with the environment {finding.id}'s fix describes (nothing is changed)…")
    after = diagnose_target(target, args, env=env)
    shell = getattr(args, "shell", None) or detect_shell()
    from tvwizard.fixes.apply import other_reason

    reason = other_reason(report, after, finding.id)
    if finding.id in after.finding_ids() and reason is None:
        print(f"✗ With that environment {finding.id} is still there; the fix would not help.")
        return after.exit_code or 1
    if reason is not None:
        print(f"! With that environment what this fix is for is gone, but {finding.id} remains for another reason:")
        print(f"  {reason}")
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
