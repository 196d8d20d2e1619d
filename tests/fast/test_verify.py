"""The one apply-then-verify flow (fixes/verify.py) that `tvwizard fix --apply` and the wizard share,
and the record it leaves for the report's "What was changed"."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

from tvwizard.fixes.apply import apply_fix
from tvwizard.fixes.verify import apply_and_verify, env_with, judge
from tvwizard.model import Fix, Report
from tvwizard.report import render_html, render_markdown

DATA = Path(__file__).parent / "data"
PY = sys.executable


def load(name: str) -> Report:
    return Report.from_dict(json.loads((DATA / f"report-{name}.json").read_text()))


BROKEN, HEALTHY = load("broken"), load("healthy")


def command_fix(*argv: list[str]) -> Fix:
    return Fix(
        id="install-x",
        title="Install x",
        kind="command",
        argv=list(argv),
        commands=[" ".join(a) for a in argv],
        applicable=True,
    )


def run(fix: Fix, before: Report, after: Report | None, finding: str = "build-variant-mismatch"):
    checks: list[object] = []

    async def recheck(env):
        checks.append(env)
        if after is None:
            raise RuntimeError("the probes could not start")
        return after

    async def apply(f, python, on_line):
        return await apply_fix(f, python, on_line)

    lines: list[str] = []
    phases: list[str] = []
    verified = asyncio.run(
        apply_and_verify(
            fix,
            finding,
            before,
            apply=apply,
            recheck=recheck,
            target_python=PY,
            on_line=lines.append,
            on_phase=phases.append,
            environ={"PATH": "/bin", "PYTHONPATH": "/old"},
        )
    )
    return verified, checks, lines, phases


def test_a_fix_that_works_is_run_checked_and_recorded():
    verified, checks, lines, phases = run(command_fix([PY, "-c", "print('installed')"]), BROKEN, HEALTHY)
    assert verified.outcome == "gone" and verified.after is HEALTHY
    assert phases == ["applying", "checking"] and checks == [None]  # checked with the user's own env
    assert "installed" in lines
    change = verified.change
    assert change.finding == "build-variant-mismatch" and change.returncode == 0
    assert change.result == "ok; finding gone"
    assert (change.verdict_before, change.verdict_after) == ("broken", "works")
    assert change.commands == [f"{PY} -c print('installed')"] and change.time


def test_a_failing_fix_is_not_checked_again_and_says_so():
    verified, checks, _lines, phases = run(command_fix([PY, "-c", "import sys; sys.exit(4)"]), BROKEN, HEALTHY)
    assert verified.outcome == "failed" and verified.returncode == 4
    assert checks == [] and phases == ["applying"]
    assert verified.change.result == "failed (exit code 4)" and verified.change.verdict_after == ""


def test_still_there_and_another_reason():
    same = run(command_fix([PY, "-c", "pass"]), BROKEN, BROKEN)[0]
    assert same.outcome == "still-there" and same.change.result == "ok; finding still there"
    f = BROKEN.findings[1]
    other = replace(BROKEN, findings=[replace(f, title="another title now")])
    assert judge(BROKEN, other, f.id) == ("other-reason", "another title now")


def test_a_check_that_cannot_run_is_an_error_not_a_verdict():
    verified = run(command_fix([PY, "-c", "pass"]), BROKEN, None)[0]
    assert verified.outcome == "error" and "could not start" in verified.reason
    assert verified.after is None and verified.change.result == "ok; checking again failed"


def test_an_env_fix_runs_nothing_and_checks_with_its_environment():
    fix = Fix(id="trim", title="Unset PYTHONPATH", kind="env", env={"PYTHONPATH": None, "X": "1"})
    verified, checks, lines, phases = run(fix, BROKEN, HEALTHY)
    assert verified.outcome == "gone" and verified.change is None  # nothing was changed
    assert checks == [{"PATH": "/bin", "X": "1"}] and phases == ["checking"] and lines == []
    assert env_with(fix, {"PYTHONPATH": "/a"}) == {"X": "1"}


def test_the_report_says_what_was_changed_in_markdown_html_and_json():
    change = run(command_fix([PY, "-c", "pass"]), BROKEN, HEALTHY)[0].change
    after = replace(HEALTHY, changes=[change])
    data = after.to_dict()
    assert Report.from_dict(json.loads(json.dumps(data))).changes == [change]  # round trip
    md = render_markdown(data)
    section = md[md.index("## What was changed") :]
    assert f"`{PY} -c pass`" in section and "ok; finding gone" in section and "broken → works" in section
    assert md.index("## What was changed") < md.index("## Checklist")
    assert "What was changed" in render_html(data)
    assert "What was changed" not in render_markdown(HEALTHY.to_dict())  # only when something was
    assert "changes" not in HEALTHY.to_dict()


def test_cli_and_wizard_use_the_one_flow():
    """Both callers import the flow; neither judges "gone" on its own any more."""
    src = Path(__file__).parents[2] / "src" / "tvwizard"
    for path in (src / "cli" / "fix.py", src / "tui" / "screens" / "apply.py"):
        text = path.read_text()
        assert "apply_and_verify" in text
        assert "finding_gone" not in text and "other_reason(" not in text


def test_a_result_without_ok_is_a_failure():
    class Odd:
        returncode = None

    async def apply(_f, _p, _l):
        return Odd()

    async def recheck(_env):
        return HEALTHY

    verified = asyncio.run(
        apply_and_verify(command_fix([PY]), "x", BROKEN, apply=apply, recheck=recheck, target_python=PY)
    )
    assert verified.outcome == "failed"
