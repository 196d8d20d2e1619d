"""SVG snapshots of the wizard's steps at 80×24 and 120×40.

Deterministic: canned reports, a clock that does not move, no blinking cursors, no
animation.  After an intended change of the look, inspect ``snapshot_report.html`` and
run ``pytest tests/fast/test_tui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio

from test_tui import FakeEngine, build, load, to_findings, wait_for

from tvwizard.tui.screens.discovery import DiscoveryScreen
from tvwizard.tui.screens.target import TargetScreen

SMALL = (80, 24)
LARGE = (120, 40)


def test_target_step_80x24(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, TargetScreen) and app.screen.query_one("#envs").option_count == 3,
            "the env list",
        )

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_discovery_running_80x24(snap_compare):
    engine = FakeEngine([load("broken")], gate=asyncio.Event())  # the import never finishes
    app = build(engine)

    async def run_before(pilot):
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: isinstance(app.screen, DiscoveryScreen) and app.screen.states["live"].step == "import_torch",
            "the import step",
        )
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_discovery_done_120x40(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.state.report is not None and not app.screen.running, "the report")
        await pilot.pause()

    assert snap_compare(app, terminal_size=LARGE, run_before=run_before)


def test_findings_broken_80x24(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await to_findings(pilot, app)
        await pilot.press("down")  # the CUDA/CPU build mismatch

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_findings_broken_120x40(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await to_findings(pilot, app)
        await pilot.press("down", "enter")  # select it and unfold its symptoms

    assert snap_compare(app, terminal_size=LARGE, run_before=run_before)


def test_findings_works_80x24(snap_compare):
    app = build(FakeEngine([load("healthy")]))

    async def run_before(pilot):
        await to_findings(pilot, app)

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_fixes_80x24(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await to_findings(pilot, app)
        await pilot.press("f")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_confirm_dialog_80x24(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await to_findings(pilot, app)
        await pilot.press("f", "a")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_report_120x40(snap_compare):
    app = build(FakeEngine([load("broken")]))

    async def run_before(pilot):
        await to_findings(pilot, app)
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=LARGE, run_before=run_before)
