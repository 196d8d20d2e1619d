"""Step 3: what is wrong.  Root causes first, each with its evidence and explanation, its
symptoms folded under it; or a clear "torchvision works" when it does."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.widgets import Static, Tree

from tvwizard.model import CheckStatus, Finding, Report
from tvwizard.tui.format import duration, finding_line, roots_first
from tvwizard.tui.screens.base import WizardScreen
from tvwizard.tui.widgets.detail import finding_detail

CHECK_MARK = {
    CheckStatus.OK: ("✓", "green"),
    CheckStatus.WARNING: ("!", "yellow"),
    CheckStatus.ERROR: ("✗", "red"),
    CheckStatus.CRASHED: ("crashed", "bold red"),
    CheckStatus.TIMEOUT: ("timeout", "bold red"),
    CheckStatus.SKIPPED: ("-", "dim"),
    CheckStatus.INFO: ("•", "cyan"),
}


def works_head(report: Report) -> Group:
    t = report.target
    return Group(
        Text("✓ torchvision works", style="bold green"),
        Text(f"{t.python}  (Python {t.version}, {t.env_kind})", style="dim"),
    )


def checklist(report: Report) -> Group:
    """Every check, flutter-doctor style, in columns that wrap cleanly."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(style="dim")
    for c in report.checks:
        mark, style = CHECK_MARK.get(c.status, ("?", ""))
        table.add_row(Text(mark, style=style), c.title, c.summary)
    foot = Text(f"Checked in {duration(report.duration)}. n writes a report you can share.", style="dim")
    return Group(table, Text(""), foot)


class FindingsScreen(WizardScreen):
    STEP = 3
    HELP = (
        "Root causes come first; what they cause is folded under them (enter unfolds). "
        "The pane below explains the selected finding and shows the evidence. "
        "f shows the commands that fix it."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "Report"),
        Binding("f", "fixes", "Fixes"),
        Binding("d", "discovery", "Check again"),
    ]
    AUTO_FOCUS = "#findings"
    WIDE = 160  # finding titles are long: the tree gets the full width until there is a lot of room

    def __init__(self) -> None:
        super().__init__()
        self.selected: Finding | None = None
        self.shown_report: Report | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static("", id="verdict")
        with Container(id="find-body"):
            yield Tree("Findings", id="findings")
            with VerticalScroll(id="detail-scroll"):
                yield Static("", id="detail")
        yield from self.compose_bottom()

    def on_mount(self) -> None:
        tree = self.query_one("#findings", Tree)
        tree.show_root = False
        tree.guide_depth = 2
        self.refresh_report()

    def on_screen_resume(self) -> None:
        if self.wizard.state.report is not self.shown_report:
            self.refresh_report()

    @property
    def report(self) -> Report:
        report = self.wizard.state.report
        assert report is not None
        return report

    def refresh_report(self) -> None:
        report = self.report
        self.shown_report = report
        tree = self.query_one("#findings", Tree)
        tree.clear()
        groups = roots_first(report.findings)
        verdict = self.query_one("#verdict", Static)
        works = report.verdict == "works"
        self.set_class(works, "works")
        tree.display = bool(groups)
        if works:
            verdict.update(works_head(report))
        else:
            errors = sum(1 for r, _ in groups if r.severity == "error")
            symptoms = sum(len(s) for _, s in groups)
            text = Text("✗ torchvision is broken here", style="bold red")
            if report.verdict != "broken":
                text = Text(f"torchvision: {report.verdict}", style="bold yellow")
            text.append(f"  {errors} root cause(s), {symptoms} symptom(s) folded under them", style="dim")
            verdict.update(text)
        first = None
        for root, symptoms in groups:
            label = finding_line(root)
            if symptoms:
                label.append(f"  (+{len(symptoms)})", style="dim")
            else:
                label = Text("  ") + label  # lines up with the causes that have a fold arrow
            node = tree.root.add(label, data=root, expand=False, allow_expand=bool(symptoms))
            for s in symptoms:
                node.add_leaf(finding_line(s), data=s)
            first = first or node
        tree.root.expand()
        if works:
            self.selected = None
            self.query_one("#detail", Static).update(checklist(report))
            self.query_one("#detail-scroll", VerticalScroll).border_title = "Checks"
        elif first is not None:
            tree.move_cursor(first)
            self._show(first.data)
        else:
            self._show(None)
        self.refresh_bindings()

    def _show(self, finding: Finding | None) -> None:
        self.selected = finding
        detail = self.query_one("#detail", Static)
        if finding is None:
            detail.update(Text("Nothing to report." if self.report.verdict == "works" else "No findings."))
            return
        by_id = {f.id: f for f in self.report.findings}
        symptoms = [f for f in self.report.findings if f.caused_by == finding.id]
        detail.update(finding_detail(finding, symptoms, by_id.get(finding.caused_by or "")))
        self.query_one("#detail-scroll", VerticalScroll).border_title = None
        self.query_one("#detail-scroll", VerticalScroll).scroll_home(animate=False)
        self.refresh_bindings()

    @on(Tree.NodeHighlighted, "#findings")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        if event.node.data is not None:
            self._show(event.node.data)

    @on(Tree.NodeSelected, "#findings")
    def _selected(self, event: Tree.NodeSelected) -> None:
        # enter on a cause without symptoms (nothing to unfold) opens its fixes
        node = event.node
        if node.data is not None and not node.children:
            self.action_fixes()

    def fix_source(self) -> Finding | None:
        """The finding whose fixes `f` shows: the selected one, or the cause of a symptom."""
        f = self.selected
        if f is None:
            return None
        if not f.fixes and f.caused_by:
            cause = next((x for x in self.report.findings if x.id == f.caused_by), None)
            if cause is not None and cause.fixes:
                return cause
        return f if f.fixes else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fixes":
            return True if self.fix_source() is not None else None
        return True

    def action_fixes(self) -> None:
        source = self.fix_source()
        if source is not None:
            self.wizard.show_fixes(source)

    def action_next(self) -> None:
        self.wizard.show_report()

    def action_discovery(self) -> None:
        self.wizard.pop_screen()
        screen = self.wizard.screen
        if hasattr(screen, "action_restart"):
            screen.action_restart()
