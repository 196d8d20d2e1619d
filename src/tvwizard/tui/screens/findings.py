"""Step 3: what is wrong.  Root causes first, each with its evidence and explanation, its
symptoms folded under it; or a clear "torchvision works" when it does."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.widgets import Static, Tree

from tvwizard.model import Finding, Report
from tvwizard.tui import palette
from tvwizard.tui.format import check_mark, duration, finding_line, roots_first, roots_summary
from tvwizard.tui.screens.base import WizardScreen
from tvwizard.tui.widgets.detail import finding_detail


class FindingTree(Tree):
    """Finding titles are long: one cut at the pane's edge ends in an ellipsis, never silently
    mid-word (the detail pane right below has the whole sentence)."""

    def render_label(self, node, base_style, style) -> Text:
        text = super().render_label(node, base_style, style)
        width = self.scrollable_content_region.width
        depth, parent = 0, node.parent
        while parent is not None and parent is not self.root:
            depth, parent = depth + 1, parent.parent
        room = width - depth * self.guide_depth - 1
        if width > 0 and text.cell_len > room > 8:
            more = palette.mark("more")
            # keep the "(+N)" of folded symptoms: cut the title before it
            fold = re.search(r"  \(\+\d+\)$", text.plain)
            suffix = text[fold.start() :] if fold else Text()
            text = text[: fold.start()] if fold else text
            text.truncate(max(1, room - len(more) - suffix.cell_len))
            text.append(more)
            text.append_text(suffix)
        return text


def works_head(report: Report) -> Group:
    t = report.target
    return Group(
        Text(f"{palette.mark('ok')} torchvision works", style="bold " + palette.style("ok")),
        Text(f"{t.python}  (Python {t.version}, {t.env_kind})", style=palette.style("muted")),
    )


def checklist(report: Report) -> Group:
    """Every check, flutter-doctor style, in columns that wrap cleanly."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    table.add_column(style=palette.style("muted"))
    for c in report.checks:
        mark, style = check_mark(c.status)
        table.add_row(Text(mark, style=style), c.title, palette.text(c.summary))
    foot = Text(
        f"Checked in {duration(report.duration)}. n writes a report you can share.", style=palette.style("muted")
    )
    return Group(table, Text(""), foot)


class FindingsScreen(WizardScreen):
    STEP = 3
    HELP = (
        "Root causes come first; what they cause is folded under them (enter unfolds). "
        "The pane below explains the selected finding and shows the evidence. "
        "n (or f) shows the commands that fix it; r goes straight to the report. Opened while "
        "the import still runs, it shows the findings so far and follows the run."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        # n is always "the next step": the fixes of the selected finding, or the report when
        # there is nothing to fix (check_action enables one of the two)
        Binding("n", "next", "Fixes"),
        Binding("n", "report", "Report", id="next-report"),
        Binding("f", "next", "Fixes", show=False),
        Binding("r", "report", "Report"),
        Binding("d", "discovery", "Check again"),
    ]
    AUTO_FOCUS = "#findings"
    WIDE = 160  # finding titles are long: the tree gets the full width until there is a lot of room

    def __init__(self) -> None:
        super().__init__()
        self.selected: Finding | None = None
        self.shown_report: Report | None = None
        self.shown_partial: tuple[Finding, ...] | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_top()
        yield Static("", id="verdict")
        with Container(id="find-body"):
            yield FindingTree("Findings", id="findings")
            with VerticalScroll(id="detail-scroll"):
                yield Static("", id="detail")
        yield from self.compose_bottom()

    def on_resize(self) -> None:
        super().on_resize()
        self.query_one("#findings", Tree).refresh(layout=True)

    def on_mount(self) -> None:
        tree = self.query_one("#findings", Tree)
        tree.show_root = False
        tree.guide_depth = 2
        if palette.ascii_only():
            tree.ICON_NODE, tree.ICON_NODE_EXPANDED = "+ ", "- "
        self.refresh_report()
        self.set_interval(0.5, self._follow)

    def on_screen_resume(self) -> None:
        self._follow()

    def _follow(self) -> None:
        """Show the newest conclusion: the run's end (opened early), or a check after a fix."""
        state = self.wizard.state
        if state.report is not self.shown_report:
            self.refresh_report()
        elif state.report is None:
            if state.findings_so_far is not self.shown_partial:
                self.refresh_report()
            else:
                self._verdict()

    @property
    def partial(self) -> bool:
        return self.wizard.state.report is None

    def findings(self) -> list[Finding]:
        report = self.wizard.state.report
        return list(report.findings if report is not None else self.wizard.state.findings_so_far)

    def _verdict(self) -> None:
        verdict = self.query_one("#verdict", Static)
        report = self.wizard.state.report
        _errors, _warnings, words = roots_summary(self.findings())
        symptoms = sum(len(s) for _, s in roots_first(self.findings()))
        muted = palette.style("muted")
        if report is None:
            text = Text.assemble(("Still checking", palette.style("running")))
            text.append(f" ({self.wizard.state.waiting or 'the probes run'}). ", style="")
            text.append(f"So far: {words}.", style="bold")
            verdict.update(text)
            return
        if report.verdict == "works":
            verdict.update(works_head(report))
            return
        if report.verdict == "broken":
            text = Text.assemble((f"{palette.mark('error')} torchvision is broken here", palette.style("error")))
        else:
            text = Text.assemble((f"! torchvision: {report.verdict}", "bold " + palette.style("warning")))
        text.append(f"  {words}", style="bold")
        if symptoms:
            text.append(f", {symptoms} symptom(s) folded under them", style=muted)
        verdict.update(text)

    def refresh_report(self) -> None:
        report = self.wizard.state.report
        self.shown_report = report
        self.shown_partial = self.wizard.state.findings_so_far if report is None else None
        findings = self.findings()
        tree = self.query_one("#findings", Tree)
        keep = self.selected.id if self.selected is not None else None
        tree.clear()
        groups = roots_first(findings)
        works = report is not None and report.verdict == "works"
        self.set_class(works, "works")
        tree.display = bool(groups)
        self._verdict()
        first = again = None
        for root, symptoms in groups:
            label = finding_line(root)
            if symptoms:
                label.append(f"  (+{len(symptoms)})", style=palette.style("muted"))
            else:
                label = Text("  ") + label  # lines up with the causes that have a fold arrow
            node = tree.root.add(label, data=root, expand=False, allow_expand=bool(symptoms))
            for s in symptoms:
                node.add_leaf(finding_line(s), data=s)
            first = first or node
            if keep == root.id:
                again = node
        tree.root.expand()
        if works:
            self.selected = None
            self.query_one("#detail", Static).update(checklist(report))
            self.query_one("#detail-scroll", VerticalScroll).border_title = "Checks"
        elif again or first:
            node = again or first
            tree.move_cursor(node)
            self._show(node.data)
        else:
            self._show(None)
        self.refresh_bindings()

    def _show(self, finding: Finding | None) -> None:
        self.selected = finding
        detail = self.query_one("#detail", Static)
        if finding is None:
            words = "No findings yet." if self.partial else "No findings."
            detail.update(Text(words))
            self.refresh_bindings()
            return
        findings = self.findings()
        by_id = {f.id: f for f in findings}
        symptoms = [f for f in findings if f.caused_by == finding.id]
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
            self.action_next()

    def fix_source(self) -> Finding | None:
        """The finding whose fixes `n` shows: the selected one, or the cause of a symptom."""
        f = self.selected
        if f is None:
            return None
        if not f.fixes and f.caused_by:
            cause = next((x for x in self.findings() if x.id == f.caused_by), None)
            if cause is not None and cause.fixes:
                return cause
        return f if f.fixes else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return self.fix_source() is not None
        if action == "report":
            return not self.partial
        if action == "discovery":
            return not self.partial
        return True

    def action_next(self) -> None:
        source = self.fix_source()
        if source is not None:
            self.wizard.show_fixes(source)

    def action_report(self) -> None:
        if not self.partial:
            self.wizard.show_report()

    def action_discovery(self) -> None:
        self.wizard.pop_screen()
        screen = self.wizard.screen
        if hasattr(screen, "action_restart"):
            screen.action_restart()
