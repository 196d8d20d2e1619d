"""The fleet view (``tvwizard fleet DIR`` in a terminal), driven with Pilot.

The fleets are written from the real, redacted report templates of ``test_fleet`` (as
``tvwizard report --json -o DIR/{host}.json`` writes them), then aggregated for real.
Folders are named relative to a fixed working folder and every ``created`` stamp is
fixed, so the snapshots do not depend on where or when the tests run.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from test_fleet import HEALTHY_JSON, OLD_DRIVER, set_cause, set_gpu, template, write_fleet
from textual.widgets import OptionList, Static

from tvwizard.fleet import FleetSummary, aggregate
from tvwizard.tui.fleet_app import FleetApp, make_fleet_app
from tvwizard.tui.screens.fleet import (
    SKIPPED_KEY,
    FleetHelpScreen,
    FleetScreen,
    cause_entries,
    entry_detail,
    env_entries,
)

SMALL = (80, 24)
LARGE = (120, 40)
H100 = "NVIDIA H100 80GB HBM3"


def write_demo(folder: Path) -> None:
    """The docs' example, and a bit more: 61 healthy nodes, 3 with a driver too old, one
    build mismatch, one degraded node, one truncated report and one superseded."""
    folder.mkdir(parents=True, exist_ok=True)
    healthy = template("healthy")
    set_gpu(healthy, "580.65.06", H100, 8)
    old = template("broken")
    set_cause(old, "driver-too-old", "the NVIDIA driver 470.256.02 is too old for torch's CUDA 13.0 build")
    set_gpu(old, OLD_DRIVER, H100, 8)
    mismatch = template("broken")
    set_gpu(mismatch, "580.65.06", H100, 8)
    degraded = template("healthy")
    set_gpu(degraded, "580.65.06", H100, 8)
    degraded["verdict"] = "degraded"
    degraded["findings"] = [
        {
            "id": "cuda-unavailable",
            "severity": "warning",
            "title": "torch is a CUDA build but CUDA is not available",
            "explanation": "No GPU is visible to torch.",
            "evidence": [],
            "fixes": [],
            "caused_by": None,
            "checks": [],
        }
    ]
    special = {"node17": old, "node42": old, "node64": old, "node23": mismatch, "node50": degraded}
    for i in range(1, 67):
        host = f"node{i:02d}"
        report = special.get(f"node{i}", healthy)
        (folder / f"{host}.json").write_text(json.dumps(report), encoding="utf-8")
    text = HEALTHY_JSON.read_text(encoding="utf-8")
    (folder / "node67.json").write_text(text[: len(text) // 3], encoding="utf-8")  # cut off mid-copy
    earlier = dict(old, created="2026-01-05T08:00:00+00:00")
    (folder / "monday").mkdir()
    (folder / "monday" / "node05.json").write_text(json.dumps(earlier), encoding="utf-8")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FleetSummary:
    monkeypatch.chdir(tmp_path)  # paths in the view: "reports/…", wherever tmp_path is
    write_demo(Path("reports"))
    return aggregate(["reports"])


def rendered(renderable, width: int = 200) -> str:
    """A Rich renderable as plain text."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text (rendered wide: no wrapping)."""
    content = widget.content
    return content if isinstance(content, str) else rendered(content, 400)


def rows(app: FleetApp) -> list[str]:
    ol = app.screen.query_one("#fleet-groups", OptionList)
    return [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]


def detail(app: FleetApp) -> str:
    return text_of(app.screen.query_one("#fleet-detail", Static))


# -- the data the view shows ------------------------------------------------------------------------


def test_demo_fleet(demo: FleetSummary) -> None:
    assert demo.headline() == (
        "61 nodes healthy · 3 nodes `driver-too-old`: node17, node42, node64 · 1 node "
        "`build-variant-mismatch`: node23 · 1 node `cuda-unavailable`: node50 · 1 report unreadable"
    )
    assert [(s.path, s.kind) for s in demo.skipped] == [
        ("reports/monday/node05.json", "superseded"),
        ("reports/node67.json", "unreadable"),
    ]
    assert demo.exit_code == 1


def test_entries_problems_first(demo: FleetSummary) -> None:
    causes = cause_entries(demo)
    assert [(e.name, e.status, len(e.hosts)) for e in causes] == [
        ("driver-too-old", "broken", 3),
        ("build-variant-mismatch", "broken", 1),
        ("cuda-unavailable", "degraded", 1),
        ("healthy", "healthy", 61),
    ]
    envs = env_entries(demo)
    assert [(e.status, len(e.hosts)) for e in envs] == [("broken", 3), ("broken", 1), ("degraded", 62)]
    assert envs[0].name == "torch 2.13.0+cpu · cpu / cu130 · driver 470.256.02"  # only what differs
    healthy_env = envs[-1]
    assert [(s.cause, s.status, len(s.hosts)) for s in healthy_env.sections] == [
        ("cuda-unavailable", "degraded", 1),
        ("healthy", "healthy", 61),
    ]


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> FleetSummary:
    """1,000 varied nodes (test_fleet's generator): long host lists, many environments."""
    folder = tmp_path_factory.mktemp("fleet") / "r"
    write_fleet(folder, 1000)
    return aggregate([folder])


def test_entries_of_a_thousand_nodes(thousand: FleetSummary) -> None:
    s = thousand
    envs = env_entries(s)
    assert sum(len(e.hosts) for e in envs) == 1000
    ranks = ["broken", "unknown", "degraded", "healthy"]
    assert [ranks.index(e.status) for e in envs] == sorted(ranks.index(e.status) for e in envs)
    assert envs[0].status == "broken"
    by_cause = {e.name: e for e in cause_entries(s)}
    old = by_cause["driver-too-old"]
    assert len(old.fingerprints) == 3  # one per rack: the pane lists each environment
    text = rendered(entry_detail(old, s))
    assert "Environments (3)" in text and "Every host" in text
    # a long host list is not at the top, where it would push the fixes out of sight
    assert f"hosts  {len(old.hosts)} nodes, listed below" in text
    assert text.index("Fixes") < text.index(f"host list  {old.hostlist[:20]}")


# -- Pilot --------------------------------------------------------------------------------------------


async def test_groups_listed_problems_first_with_headline(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        headline = text_of(app.screen.query_one("#fleet-headline", Static))
        assert headline.startswith("61 nodes healthy · 3 nodes `driver-too-old`: node17, node42, node64")
        listed = rows(app)
        assert listed[0].startswith("✗ driver-too-old · 3 nodes · node[17,42,64]")
        assert listed[1].startswith("✗ build-variant-mismatch · 1 node · node23")
        assert listed[2].startswith("! cuda-unavailable")
        assert listed[3].startswith("✓ healthy · 61 nodes · node[01-16,18-22,24-41,43-49,51-63,65-66]")
        assert listed[4].startswith("! skipped · 1 unreadable, 1 superseded")
        assert app.screen.query_one("#fleet-groups", OptionList).highlighted == 0
        assert "reports (1 unreadable, 1 superseded)" in text_of(app.screen.query_one("#fleet-top", Static))


async def test_selecting_a_group_shows_its_hosts_and_fixes(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        text = detail(app)
        assert "✗ driver-too-old · 3 nodes" in text
        assert "too old for torch's CUDA 13.0 build" in text
        assert "hosts node[17,42,64] environment torch 2.13.0+cpu" in " ".join(text.split())
        assert "driver 470.256.02 · 8× NVIDIA H100 80GB HBM3" in text
        assert "▸ 1. Keep torch 2.13.0+cpu; install torchvision 0.28.0 (cpu)" in text
        assert "on every node" in text and "pip install --no-deps torchvision==0.28.0+cpu" in text
        assert "2. Move both to torch 2.14.1" in text
        assert text.rstrip().endswith("node17, node42, node64")  # every host, last
        await pilot.press("down")
        text = detail(app)
        assert "✗ build-variant-mismatch · 1 node" in text and "node23" in text
        await pilot.press("down", "down")  # the healthy majority: every host listed, nothing to fix
        text = detail(app)
        assert "✓ healthy · 61 nodes" in text and "nothing to fix" in text
        assert "node01, node02, node03, node04, node05, node06" in text and "node66" in text
        assert "node17," not in text
        assert app.screen.check_action("copy", ()) is None  # no fix: Copy is shown disabled


async def test_fix_hosts_when_nodes_got_different_commands(tmp_path: Path) -> None:
    base = template("broken")
    other = json.loads(json.dumps(base))
    for f in other["findings"]:
        for fix in f.get("fixes") or []:
            fix["commands"] = [c.replace("~/.cache", "/opt") for c in fix.get("commands") or []]
    for host, report in (("gpu1", base), ("gpu2", base), ("gpu3", other)):
        (tmp_path / f"{host}.json").write_text(json.dumps(report), encoding="utf-8")
    s = aggregate([tmp_path])
    app = make_fleet_app(s, environ={})
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        text = detail(app)
        assert "on 2 nodes: gpu[1-2]" in text and "on 1 node: gpu3" in text
        assert len(app.screen.entry.fixes) == 4
        await pilot.press("2")
        assert app.screen.fix.hosts == ["gpu3"]
        await pilot.press("c")
        assert app.clipboard.startswith("/opt/tvwizard/")


async def test_g_switches_grouping(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=LARGE) as pilot:
        await pilot.pause()
        screen = app.screen
        ol = screen.query_one("#fleet-groups", OptionList)
        assert ol.border_title == "By root cause"
        footer = {b.binding.description for b in screen.active_bindings.values() if b.enabled}
        assert "By environment" in footer and "By cause" not in footer
        await pilot.press("g")
        assert screen.mode == "env" and ol.border_title == "By environment"
        listed = rows(app)
        assert listed[0] == "✗ 3 nodes · driver-too-old\n  torch 2.13.0+cpu · cpu / cu130 · driver 470.256.02"
        assert listed[1] == "✗ 1 node · build-variant-mismatch\n  torch 2.13.0+cpu · cpu / cu130 · driver 580.65.06"
        assert (
            listed[2] == "! 62 nodes · cuda-unavailable 1, healthy 61\n  torch 2.14.1+cu130 · cu130 · driver 580.65.06"
        )
        assert listed[3].startswith("! skipped")
        text = detail(app)  # the row of the node that was selected (node17): its environment
        assert "environment · 3 nodes" in text and "470.256.02" in text and "driver-too-old" in text
        await pilot.press("down", "down")
        text = detail(app)
        assert "cuda-unavailable · 1 node: node50" in text and "healthy · 61 nodes" in text
        assert text.index("cuda-unavailable") < text.index("✓ healthy")  # problems first in the pane too
        footer = {b.binding.description for b in screen.active_bindings.values() if b.enabled}
        assert "By cause" in footer and "By environment" not in footer
        await pilot.press("g")
        assert screen.mode == "cause" and rows(app)[0].startswith("✗ driver-too-old")
        assert screen.entry.name == "cuda-unavailable"  # the env row's worst cause


async def test_c_copies_the_selected_fix(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("c")
        first = screen.entry.fixes[0].commands
        assert app.clipboard == "\n".join(first)
        assert "pip install --no-deps torchvision==0.28.0+cpu" in app.clipboard
        assert "Copied fix 1 (1 line) for node[17,42,64]" in text_of(screen.query_one("#fleet-status", Static))
        await pilot.press("f", "c")
        assert "torch==2.14.1+cpu torchvision==0.29.1+cpu" in app.clipboard
        assert "▸ 2. Move both" in detail(app)
        await pilot.press("f")  # wraps around
        assert screen.fix_index == 0
        await pilot.press("w")
        assert app.clipboard == "node[17,42,64]"


async def test_skipped_files_have_their_own_section(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("s")
        assert app.screen.entry.key == SKIPPED_KEY
        text = detail(app)
        assert "Unreadable (1 file, not counted)" in text
        assert "reports/node67.json" in text and "truncated" in text
        assert "Superseded (1 file, not counted)" in text
        assert "reports/monday/node05.json" in text and "an older report of node05" in text
        assert app.screen.check_action("copy", ()) is None


async def test_nothing_readable_shows_the_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{", encoding="utf-8")
    s = aggregate([tmp_path])
    app = make_fleet_app(s, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert rows(app) == ["! skipped · 1 unreadable"]
        assert "No readable report" in detail(app)
        assert "no readable report (1 file skipped)" in text_of(app.screen.query_one("#fleet-headline", Static))
        await pilot.press("q")
    assert app.return_code == 2


@pytest.mark.parametrize(("healthy_only", "code"), [(True, 0), (False, 1)])
async def test_quit_returns_the_fleet_exit_code(tmp_path: Path, healthy_only: bool, code: int) -> None:
    (tmp_path / "n1.json").write_text(HEALTHY_JSON.read_text(encoding="utf-8"), encoding="utf-8")
    if not healthy_only:
        (tmp_path / "n2.json").write_text(json.dumps(template("broken")), encoding="utf-8")
    app = make_fleet_app(aggregate([tmp_path]), environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("q")
    assert app.return_code == code


async def test_help_lists_the_keys(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        assert isinstance(app.screen, FleetHelpScreen)
        body = text_of(app.screen.query_one("#help-scroll Static"))
        for words in ("By environment", "Next fix", "Copy fix", "Copy hosts", "Skipped files", "2 none readable"):
            assert words in body
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_ascii_marks(demo: FleetSummary) -> None:
    app = make_fleet_app(demo, ascii=True, environ={})
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        assert rows(app)[0].startswith("x driver-too-old - 3 nodes - node[17,42,64]")
        assert "> 1. Keep torch" in detail(app)


@pytest.mark.parametrize("size", [SMALL, LARGE, (60, 20)])
async def test_layout_holds_at_each_size(thousand: FleetSummary, size: tuple[int, int]) -> None:
    app = make_fleet_app(thousand, environ={})
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        groups = app.screen.query_one("#fleet-groups")
        pane = app.screen.query_one("#fleet-detail-scroll")
        assert groups.region.height >= 3 and pane.region.height >= 4
        assert pane.region.right <= size[0] and pane.region.bottom <= size[1] - 2  # status line, footer
        if size[0] >= 110:
            assert pane.region.x > groups.region.right - 1 and pane.region.height >= 30  # side by side
        else:
            assert pane.region.y > groups.region.y
        await pilot.press("g")
        listed = rows(app)
        assert listed[0].startswith("✗") and listed[-1][0] in "✓!"  # problems first
        assert groups.region.height >= 3 and pane.region.bottom <= size[1] - 2


# -- the command line -------------------------------------------------------------------------------


def _args(path: Path) -> argparse.Namespace:
    return argparse.Namespace(paths=[str(path)], json=False, ascii=False, plain=False)


def test_run_fleet_prints_text_without_a_terminal(
    demo: FleetSummary, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tvwizard.tui.fleet_app as fleet_app
    from tvwizard.cli.fleet import run_fleet

    opened = []
    monkeypatch.setattr(fleet_app, "run_fleet_app", lambda summary, **kw: opened.append(summary) or 0)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # a pipe (or `ssh host tvwizard fleet` without -t)
    assert run_fleet(_args(Path("reports"))) == 1
    assert capsys.readouterr().out.startswith("tvwizard fleet: 66 nodes from reports")
    assert opened == []


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("term", "flags", "view"),
    [
        ("xterm-256color", {}, True),
        ("dumb", {}, False),
        ("", {}, False),
        ("xterm-256color", {"plain": True}, False),
        ("xterm-256color", {"json": True}, False),
    ],
)
def test_run_fleet_opens_the_view_only_in_a_terminal(
    demo: FleetSummary, monkeypatch: pytest.MonkeyPatch, term: str, flags: dict, view: bool
) -> None:
    import tvwizard.tui.fleet_app as fleet_app
    from tvwizard.cli.fleet import run_fleet

    opened = []
    monkeypatch.setattr(fleet_app, "run_fleet_app", lambda summary, **kw: opened.append(kw) or summary.exit_code)
    monkeypatch.setenv("TERM", term)
    out = _Tty()
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(sys, "stdout", out)
    args = _args(Path("reports"))
    for k, v in flags.items():
        setattr(args, k, v)
    assert run_fleet(args) == 1
    assert bool(opened) == view
    assert (out.getvalue() == "") == view
    if flags.get("json"):
        assert json.loads(out.getvalue())["schema"] == "tvwizard.fleet/1"


def test_run_fleet_nothing_found_prints_text_even_in_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import tvwizard.tui.fleet_app as fleet_app
    from tvwizard.cli.fleet import run_fleet

    monkeypatch.setattr(fleet_app, "run_fleet_app", lambda summary, **kw: pytest.fail("the view opened"))
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(sys, "stdout", _Tty())
    assert run_fleet(_args(tmp_path)) == 2
    assert "no readable report" in capsys.readouterr().err


def test_run_fleet_app_returns_the_exit_code(demo: FleetSummary, monkeypatch: pytest.MonkeyPatch) -> None:
    from tvwizard.tui.fleet_app import run_fleet_app

    monkeypatch.setattr(FleetApp, "run", lambda self: 1)
    assert run_fleet_app(demo) == 1
    monkeypatch.setattr(FleetApp, "run", lambda self: None)  # ended without a result: the fleet's code
    assert run_fleet_app(demo) == demo.exit_code == 1


def test_plain_flag_parses() -> None:
    from tvwizard.cli import build_parser

    args = build_parser().parse_args(["fleet", "--plain", "/shared/reports"])
    assert args.plain is True and args.paths == ["/shared/reports"]
    assert build_parser().parse_args(["fleet", "r"]).plain is False


def test_cli_fleet_import_is_lazy() -> None:
    code = (
        "import sys, tvwizard.cli, tvwizard.cli.fleet\n"
        "assert 'textual' not in sys.modules, 'textual imported by the CLI'\n"
        "import tvwizard.tui.fleet_app, tvwizard.tui.screens.fleet\n"
        "bad = [m for m in ('torch', 'torchvision', 'numpy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- snapshots ---------------------------------------------------------------------------------------


def test_fleet_80x24(snap_compare, demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})

    async def run_before(pilot):
        await pilot.pause()

    assert snap_compare(app, terminal_size=SMALL, run_before=run_before)


def test_fleet_by_environment_120x40(snap_compare, demo: FleetSummary) -> None:
    app = make_fleet_app(demo, environ={})

    async def run_before(pilot):
        await pilot.pause()
        await pilot.press("g", "f")  # by environment, node17's row, its second fix marked
        await pilot.pause()

    assert snap_compare(app, terminal_size=LARGE, run_before=run_before)
