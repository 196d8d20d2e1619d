"""Regenerate ``assets/wizard.svg``: the wizard's findings step for the README.

Uses the canned broken-env report and the fake engine of ``tests/fast/test_tui.py``, so the
picture is the same on every machine::

    .venv/bin/python assets/make_wizard_svg.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "fast"), str(HERE.parent / "tests")]

from test_tui import FakeEngine, build, load, to_findings  # noqa: E402


def folded(report):
    """The captured report as today's diagnosis concludes it: the version gap is a symptom of the
    CPU/CUDA build mismatch (the capture predates that fold)."""
    from dataclasses import replace

    from tvwizard.diagnosis.engine import order

    findings = [
        replace(f, caused_by="build-variant-mismatch") if f.id == "version-mismatch" else f for f in report.findings
    ]
    return replace(report, findings=order(findings))


async def main(out: Path) -> None:
    app = build(FakeEngine([folded(load("broken"))]))
    async with app.run_test(size=(120, 40)) as pilot:
        await to_findings(pilot, app)
        await pilot.press("enter")  # the CUDA/CPU build mismatch, its symptoms unfolded
        await pilot.pause()
        app.save_screenshot(filename=out.name, path=str(out.parent))


if __name__ == "__main__":
    target = HERE / "wizard.svg"
    asyncio.run(main(target))
    print(target)
