"""The fleet view: many nodes' reports at once (``tvwizard fleet DIR`` in a terminal).

The headline names the outliers; the list holds one row per root cause (or, after `g`, per
environment fingerprint), problems first; the pane beside or below it shows the selected
row's environment, its fixes with the nodes each applies to, and every host.  `c` copies
the marked fix's commands (OSC 52, so it reaches the local terminal over SSH); `w` copies
the compressed host list, ready for ``srun -w``/``pdsh -w``/``clush -w``.  Files that
could not be counted (unreadable or superseded) have a row of their own at the end.

Everything shown is built from a :class:`tvwizard.fleet.FleetSummary` by the pure
functions below (:func:`cause_entries`, :func:`env_entries`, :func:`entry_detail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.geometry import Region
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tvwizard.fleet import HEALTHY, STATUSES, Fingerprint, FleetFix, FleetSummary, compress_hosts
from tvwizard.tui.screens.help import HelpScreen

#: (mark, ASCII mark, Rich style) for a host status; "skipped" is the unread files' row.
MARKS = {
    "healthy": ("✓", "+", "green"),
    "degraded": ("!", "!", "yellow"),
    "broken": ("✗", "x", "red"),
    "unknown": ("?", "?", "red"),
    "skipped": ("!", "!", "yellow"),
}
_RANK = {s: i for i, s in enumerate(STATUSES)}
SKIPPED_KEY = "skipped"
BY_CAUSE, BY_ENV = "cause", "env"
MODE_TITLE = {BY_CAUSE: "By root cause", BY_ENV: "By environment"}
SHORT_HOSTLIST = 100  # a longer compressed host list goes to the end of the pane
FIELD_NAMES = {"torch": "torch", "torchvision": "torchvision", "variant": "build", "driver": "driver", "gpu": "GPUs"}


def nodes(count: int) -> str:
    return f"{count} node{'' if count == 1 else 's'}"


def files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


# -- what the list and the pane show: plain data, no Textual ---------------------------------------


@dataclass
class Section:
    """Part of an entry that has its own fixes: one cause (by environment) or the whole entry."""

    status: str
    cause: str | None  # the heading's cause; None: no heading (the entry is the cause)
    title: str
    hosts: list[str]
    fixes: list[FleetFix] = field(default_factory=list)


@dataclass
class Entry:
    """One row of the list: a root cause, an environment, or the files not counted."""

    key: str  # option id: "cause:<id>", "env:<n>" or SKIPPED_KEY
    status: str  # a host status, or "skipped"
    name: str  # the cause id, or the environment's label
    hosts: list[str]
    title: str = ""
    fingerprints: list[tuple[Fingerprint, list[str]]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    @property
    def fixes(self) -> list[FleetFix]:
        """Every fix of the entry, numbered in this order (1, 2, …) in the pane."""
        return [f for s in self.sections for f in s.fixes]

    @property
    def hostlist(self) -> str:
        return compress_hosts(self.hosts)


def _status_order(status: str, count: int, name: str) -> tuple[object, ...]:
    return (status == "healthy", _RANK.get(status, 0), -count, name)


def cause_entries(summary: FleetSummary) -> list[Entry]:
    """One entry per root cause, problems first (the summary's order), the healthy last."""
    return [
        Entry(
            key=f"cause:{c.cause}",
            status=c.status,
            name=c.cause,
            hosts=list(c.hosts),
            title=c.title,
            fingerprints=list(c.fingerprints),
            sections=[Section(c.status, None, c.title, list(c.hosts), list(c.fixes))],
        )
        for c in summary.causes
    ]


def varying_fields(summary: FleetSummary) -> tuple[str, ...]:
    """The fingerprint fields that differ between the fleet's environments (all when one)."""
    fps = [f.fingerprint for f in summary.fingerprints]
    varying = tuple(k for k in Fingerprint.FIELDS if len({getattr(fp, k) for fp in fps}) > 1)
    return varying or Fingerprint.FIELDS


def short_label(fp: Fingerprint, fields: tuple[str, ...]) -> str:
    """The environment in a few words: only the fields that tell it from the others."""
    words = {
        "torch": f"torch {fp.torch}" if fp.torch else "no torch",
        "torchvision": f"torchvision {fp.torchvision}" if fp.torchvision else "no torchvision",
        "variant": fp.variant or "variant ?",
        "driver": f"driver {fp.driver}" if fp.driver else "no driver",
        "gpu": fp.gpu or "no GPU",
    }  # as Fingerprint.label() says them
    return " · ".join(words[k] for k in Fingerprint.FIELDS if k in fields)


def env_entries(summary: FleetSummary) -> list[Entry]:
    """One entry per environment fingerprint, problems first, each with its causes' fixes."""
    fields = varying_fields(summary)
    by_pair = {(g.cause, g.fingerprint): g for g in summary.groups}
    entries = []
    for i, f in enumerate(summary.fingerprints):
        sections = []
        for cause, hosts in f.causes:
            g = by_pair.get((cause, f.fingerprint))
            status = g.status if g else ("healthy" if cause == HEALTHY else "unknown")
            sections.append(Section(status, cause, g.title if g else "", list(hosts), list(g.fixes) if g else []))
        sections.sort(key=lambda s: _status_order(s.status, len(s.hosts), s.cause or ""))
        status = sections[0].status if sections else "unknown"
        entries.append(
            Entry(
                key=f"env:{i}",
                status=status,
                name=short_label(f.fingerprint, fields),
                hosts=list(f.hosts),
                fingerprints=[(f.fingerprint, list(f.hosts))],
                sections=sections,
            )
        )
    entries.sort(key=lambda e: _status_order(e.status, len(e.hosts), e.name))
    return entries


def skipped_entry(summary: FleetSummary) -> Entry | None:
    if not summary.skipped:
        return None
    return Entry(key=SKIPPED_KEY, status="skipped", name="not counted", hosts=[])


def mark(status: str, ascii: bool = False) -> Text:
    glyph, plain, style = MARKS.get(status, ("?", "?", ""))
    return Text(plain if ascii else glyph, style=style)


def entry_label(entry: Entry, summary: FleetSummary, ascii: bool = False) -> Text:
    """The list row: mark, cause (or environment), node count, compressed host list."""
    dot = " - " if ascii else " · "
    text = mark(entry.status, ascii)
    text.append(" ")
    if entry.key == SKIPPED_KEY:
        text.append("skipped", style="bold")
        parts = [f"{len(summary.unreadable)} unreadable"] if summary.unreadable else []
        if summary.superseded:
            parts.append(f"{len(summary.superseded)} superseded")
        text.append(dot + ", ".join(parts), style="dim")
        return text
    if entry.key.startswith("env:"):  # two lines: what the nodes have, then what they run
        text.append(nodes(len(entry.hosts)), style="bold")
        found = [(s.cause or "", len(s.hosts)) for s in entry.sections]
        text.append(dot + ", ".join(f"{c} {n}" if len(found) > 1 else c for c, n in found))
        text.append("\n  " + entry.name.replace(" · ", dot), style="dim")
        return text
    text.append(entry.name, style="bold")
    text.append(f"{dot}{nodes(len(entry.hosts))}")
    text.append(f"{dot}{entry.hostlist}", style="dim")
    return text


def headline_text(summary: FleetSummary, ascii: bool = False, names: int = 8) -> Text:
    """The summary's headline (``names`` hosts named per cause), each part in its status's colour."""
    status = {f"`{c.cause}`": c.status for c in summary.causes}
    dot = " - " if ascii else " · "
    text = Text()
    for i, part in enumerate(summary.headline(names=names).split(" · ")):
        if i:
            text.append(dot, style="dim")
        if part.endswith(" healthy"):
            style = "bold green"
        elif "unreadable" in part or not summary.hosts:
            style = "bold yellow"
        else:
            word = part.split(" ", 3)[2].rstrip(":") if part.count(" ") >= 2 else ""
            style = "bold " + MARKS.get(status.get(word, "broken"), MARKS["broken"])[2]
        text.append(part, style=style)
    return text


def top_text(summary: FleetSummary) -> Text:
    """``tvwizard fleet · 65 nodes from /shared/reports (1 unreadable)``."""
    text = Text("tvwizard fleet", style="bold")
    where = ", ".join(summary.sources) or "nothing"
    text.append(f" · {nodes(len(summary.hosts))} from {where}")
    extra = []
    if summary.unreadable:
        extra.append(f"{len(summary.unreadable)} unreadable")
    if summary.superseded:
        extra.append(f"{len(summary.superseded)} superseded")
    if extra:
        text.append(f" ({', '.join(extra)})", style="yellow")
    return text


def _pairs(rows: list[tuple[str, Text | str]]) -> Table:
    """``label  value`` lines; a value that wraps stays in its column."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")  # host lists are long words: fold them, never cut them
    for label, value in rows:
        table.add_row(label, value)
    return table


def _indent(renderable: RenderableType, width: int) -> RenderableType:
    return Padding(renderable, (0, 0, 0, width)) if width else renderable


def _fingerprint_rows(fp: Fingerprint) -> list[tuple[str, Text | str]]:
    return [
        (FIELD_NAMES[k], Text(getattr(fp, k) or "-", style="" if getattr(fp, k) else "dim")) for k in Fingerprint.FIELDS
    ]


def fix_block(fix: FleetFix, number: int, selected: bool, of: int, ascii: bool = False) -> Table:
    """One fix: its number (marked when selected), title, the nodes it is for, its commands."""
    pointer = (">" if ascii else "▸") if selected else " "
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    title = Text(fix.title, style="bold reverse" if selected else "bold")
    on = "on every node" if len(fix.hosts) == of else f"on {nodes(len(fix.hosts))}: {compress_hosts(fix.hosts)}"
    body: list[RenderableType] = [title, Text(on, style="cyan")]
    if fix.commands:
        commands = Table.grid(padding=(0, 1))
        commands.add_column(no_wrap=True, style="dim")
        commands.add_column(style="green" if selected else "", overflow="fold")  # never cut a command
        for cmd in fix.commands:
            commands.add_row("$", cmd)
        body.append(commands)
    else:
        body.append(Text("no commands: follow the report's steps on the node", style="dim"))
    table.add_row(Text(f"{pointer} {number}.", style="bold" if selected else ""), RichGroup(*body))
    return table


def entry_detail(entry: Entry, summary: FleetSummary, selected: int = 0, ascii: bool = False) -> RenderableType:
    """The pane for one entry: what, where, the fixes (the selected one marked), every host."""
    if entry.key == SKIPPED_KEY:
        return skipped_detail(summary)
    return RichGroup(*detail_parts(entry, selected, ascii)[0])


def detail_parts(entry: Entry, selected: int = 0, ascii: bool = False) -> tuple[list[RenderableType], int | None]:
    """:func:`entry_detail`'s parts, and which part is the selected fix (None: no fix)."""
    dot = " - " if ascii else " · "
    by_env = entry.key.startswith("env:")
    parts: list[RenderableType] = []
    at: int | None = None
    head = mark(entry.status, ascii)
    head.append(" " + ("environment" if by_env else entry.name), style="bold")
    head.append(f"{dot}{nodes(len(entry.hosts))}")
    parts.append(head)
    if not by_env and entry.title:
        parts.append(Text(entry.title))
    hostlist = entry.hostlist
    long = len(hostlist) > SHORT_HOSTLIST  # then at the end, with every host: the fixes come first
    hosts = Text(f"{nodes(len(entry.hosts))}, listed below", style="dim") if long else Text(hostlist, style="bold")
    rows: list[tuple[str, Text | str]] = [("hosts", hosts)]
    if by_env:
        rows.extend(_fingerprint_rows(entry.fingerprints[0][0]))
    elif len(entry.fingerprints) == 1:
        rows.append(("environment", entry.fingerprints[0][0].label().replace(" · ", dot)))
    parts.append(_pairs(rows))
    if not by_env and len(entry.fingerprints) > 1:
        parts.append(Text(""))
        parts.append(Text(f"Environments ({len(entry.fingerprints)})", style="bold"))
        envs = Table.grid(padding=(0, 1))
        envs.add_column(justify="right", no_wrap=True)
        envs.add_column(overflow="fold")
        for fp, hosts in entry.fingerprints:
            envs.add_row(str(len(hosts)), RichGroup(fp.label().replace(" · ", dot), Text(compress_hosts(hosts), "dim")))
        parts.append(_indent(envs, 2))
    number = 0
    for section in entry.sections:
        indent = 0
        if section.cause is not None:
            parts.append(Text(""))
            line = mark(section.status, ascii)
            line.append(f" {section.cause}", style="bold")
            line.append(f"{dot}{nodes(len(section.hosts))}: {compress_hosts(section.hosts)}")
            parts.append(line)
            if section.cause != HEALTHY and section.title:
                parts.append(_indent(Text(section.title), 2))
            indent = 2
        if section.fixes:
            parts.append(Text(""))
            parts.append(_indent(Text("Fixes", style="bold"), indent))
            for fix in section.fixes:
                number += 1
                if number - 1 == selected:
                    at = len(parts)
                block = fix_block(fix, number, number - 1 == selected, len(section.hosts), ascii)
                parts.append(_indent(block, indent))
        elif section.status == "healthy":
            parts.append(_indent(Text("torchvision imports and works: nothing to fix.", style="green"), indent))
        else:
            parts.append(_indent(Text("The reports give no fix for this one.", style="dim"), indent))
    parts.append(Text(""))
    parts.append(Text(f"Every host ({len(entry.hosts)})", style="bold"))
    if long:
        parts.append(_pairs([("host list", Text(hostlist, style="bold"))]))
    parts.append(Text(", ".join(entry.hosts)))
    return parts, at


def skipped_detail(summary: FleetSummary) -> RenderableType:
    """The files not counted, each with the reason, and the files ignored."""
    parts: list[RenderableType] = []
    for title, items, why in (
        ("Unreadable", summary.unreadable, "A node whose report cannot be read is not known to be healthy."),
        ("Superseded", summary.superseded, "A newer report of the same host counts instead."),
    ):
        if not items:
            continue
        if parts:
            parts.append(Text(""))
        parts.append(Text(f"{title} ({files(len(items))}, not counted)", style="bold"))
        parts.append(Text(why, style="dim"))
        for s in items:
            parts.append(_indent(Text(s.path, style="yellow" if s.kind == "unreadable" else ""), 2))
            parts.append(_indent(Text(s.reason, style="dim"), 4))
    if summary.ignored:
        parts.append(Text(""))
        parts.append(Text(f"Ignored ({files(len(summary.ignored))} not named *.json)", style="bold"))
        parts.extend(_indent(Text(p, style="dim"), 2) for p in summary.ignored)
    if not summary.hosts:
        parts.append(Text(""))
        parts.append(
            Text(
                "No readable report. Write them with `tvwizard report --json -o DIR/{host}.json` on each node.",
                style="bold",
            )
        )
    return RichGroup(*parts)


# -- the screen ------------------------------------------------------------------------------------


FLEET_GENERAL = (
    ("?", "this help"),
    ("ctrl+p", "command palette: every action, themes"),
    ("tab", "the other pane; ↑↓ move"),
    ("1-9", "mark that fix"),
    ("q / ctrl+q", "quit (exit code 0 all healthy, 1 some broken or unreadable, 2 none readable)"),
)


class FleetHelpScreen(HelpScreen):
    """The wizard's help dialog, with the fleet's own general keys."""

    GENERAL_KEYS = FLEET_GENERAL


class FleetScreen(Screen):
    HELP = (
        "Each row is a root cause (g: an environment), problems first; the pane shows where it "
        "is, the fixes with the nodes each applies to, and every host. c copies the marked fix's "
        "commands to your clipboard through the terminal (OSC 52: works over SSH when your "
        "terminal allows it); f or 1-9 marks another fix. w copies the host list, ready for "
        "srun -w, pdsh -w or clush -w. s shows the files that were not counted."
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "group('env')", "By environment"),
        Binding("g", "group('cause')", "By cause"),
        Binding("f", "next_fix", "Next fix"),
        Binding("c", "copy", "Copy fix"),
        Binding("w", "copy_hosts", "Copy hosts", show=False),
        Binding("s", "skipped", "Skipped files", show=False),
        *[Binding(str(i), f"choose({i})", "", show=False) for i in range(1, 10)],
    ]
    AUTO_FOCUS = "#fleet-groups"
    WIDE = 110  # at this width and more, the list and the pane sit side by side

    def __init__(self, summary: FleetSummary, *, ascii: bool = False) -> None:
        super().__init__()
        self.summary = summary
        self.ascii = ascii
        self.mode = BY_CAUSE
        self.entries: list[Entry] = []
        self.entry: Entry | None = None
        self.fix_index = 0

    def compose(self) -> ComposeResult:
        yield Static(top_text(self.summary), id="fleet-top")
        yield Static(headline_text(self.summary, self.ascii), id="fleet-headline")
        with Container(id="fleet-body"):
            yield OptionList(id="fleet-groups")
            with VerticalScroll(id="fleet-detail-scroll"):
                yield Static("", id="fleet-detail")
        yield Static("", id="fleet-status")
        yield Footer()

    def on_mount(self) -> None:
        self.fill()

    def on_resize(self) -> None:
        self.set_class(self.size.width >= self.WIDE, "wide")
        self.set_class(self.size.height >= 34, "tall")
        names = 8 if self.size.width >= self.WIDE else 4  # the list names every host anyway
        self.query_one("#fleet-headline", Static).update(headline_text(self.summary, self.ascii, names))

    # -- the list --------------------------------------------------------------------------

    def build_entries(self) -> list[Entry]:
        return cause_entries(self.summary) if self.mode == BY_CAUSE else env_entries(self.summary)

    def fill(self, keep: str | None = None) -> None:
        """(Re)build the list for the current grouping; keep the row ``keep`` selected if it is there."""
        entries = self.build_entries()
        skipped = skipped_entry(self.summary)
        self.entries = entries + ([skipped] if skipped else [])
        ol = self.query_one("#fleet-groups", OptionList)
        ol.clear_options()
        options: list[Option | None] = [Option(entry_label(e, self.summary, self.ascii), id=e.key) for e in entries]
        if skipped is not None:
            if entries:
                options.append(None)  # a rule: the files not counted are a section of their own
            options.append(Option(entry_label(skipped, self.summary, self.ascii), id=skipped.key))
        ol.add_options(options)
        ol.border_title = MODE_TITLE[self.mode]
        ol.border_subtitle = f"g: {MODE_TITLE[BY_ENV if self.mode == BY_CAUSE else BY_CAUSE].lower()}"
        keys = [e.key for e in self.entries]
        index = keys.index(keep) if keep in keys else 0
        self.entry = None
        if self.entries:
            ol.highlighted = index
            self.show(self.entries[index])
        self.refresh_bindings()

    @on(OptionList.OptionHighlighted, "#fleet-groups")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        entry = next((e for e in self.entries if e.key == event.option.id), None)
        if entry is not None and entry is not self.entry:
            self.show(entry)

    @on(OptionList.OptionSelected, "#fleet-groups")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#fleet-detail-scroll", VerticalScroll).focus()

    # -- the pane --------------------------------------------------------------------------

    def show(self, entry: Entry, fix_index: int = 0) -> None:
        changed = entry is not self.entry
        self.entry = entry
        self.fix_index = fix_index
        self.query_one("#fleet-detail", Static).update(entry_detail(entry, self.summary, fix_index, self.ascii))
        scroll = self.query_one("#fleet-detail-scroll", VerticalScroll)
        scroll.border_title = "Files not counted" if entry.key == SKIPPED_KEY else entry.name
        if changed:
            scroll.scroll_home(animate=False)
        else:
            self.call_after_refresh(self._scroll_to_fix)
        self.status(self.hint())
        self.refresh_bindings()

    def _scroll_to_fix(self) -> None:
        """Bring the marked fix into view (its lines counted as the pane renders them)."""
        if self.entry is None or self.entry.key == SKIPPED_KEY:
            return
        parts, at = detail_parts(self.entry, self.fix_index, self.ascii)
        width = self.query_one("#fleet-detail", Static).content_region.width
        if at is None or width <= 0:
            return
        console = self.app.console
        options = console.options.update_width(width)
        top = sum(len(console.render_lines(p, options, pad=False)) for p in parts[:at])
        height = len(console.render_lines(parts[at], options, pad=False))
        scroll = self.query_one("#fleet-detail-scroll", VerticalScroll)
        scroll.scroll_to_region(Region(0, top, width, height), animate=False, immediate=True)

    def hint(self) -> Text:
        entry = self.entry
        if entry is None or entry.key == SKIPPED_KEY:
            return Text("")
        fixes = entry.fixes
        if not fixes:
            return Text("w copies the host list (for srun -w, pdsh -w, clush -w).", style="dim")
        more = f"f: fix {self.fix_index + 2 if self.fix_index + 1 < len(fixes) else 1} of {len(fixes)}; "
        copy = f"c copies fix {self.fix_index + 1}'s commands; {more if len(fixes) > 1 else ''}w the host list."
        return Text(copy, style="dim")

    def status(self, text: Text) -> None:
        self.query_one("#fleet-status", Static).update(text)

    @property
    def fix(self) -> FleetFix | None:
        fixes = self.entry.fixes if self.entry else []
        return fixes[self.fix_index] if 0 <= self.fix_index < len(fixes) else None

    # -- keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "group":
            return parameters[0] != self.mode  # one `g` in the footer: the grouping not shown
        if action == "skipped":
            return bool(self.summary.skipped)
        if action == "copy":
            return True if self.fix is not None and self.fix.commands else None
        if action == "next_fix":
            return True if self.entry is not None and len(self.entry.fixes) > 1 else None
        if action == "copy_hosts":
            return True if self.entry is not None and self.entry.hosts else None
        return True

    def action_group(self, mode: str) -> None:
        """Switch between rows per root cause and rows per environment, staying on the same problem."""
        if mode == self.mode:
            return
        entry = self.entry
        self.mode = mode
        self.fill(self._counterpart(entry) if entry is not None else None)

    def _counterpart(self, entry: Entry) -> str | None:
        """The key, in the grouping just switched to, of the row that ``entry`` is about."""
        if entry.key == SKIPPED_KEY:
            return SKIPPED_KEY
        if self.mode == BY_ENV:  # a cause's (largest) environment
            fp = entry.fingerprints[0][0] if entry.fingerprints else None
            return next((e.key for e in self.build_entries() if e.fingerprints and e.fingerprints[0][0] == fp), None)
        cause = entry.sections[0].cause if entry.sections else None  # an environment's worst cause
        return f"cause:{cause}" if cause is not None else None

    def _select(self, key: str) -> None:
        keys = [e.key for e in self.entries]
        if key in keys:
            self.query_one("#fleet-groups", OptionList).highlighted = keys.index(key)
            self.show(self.entries[keys.index(key)])

    def action_next_fix(self) -> None:
        if self.entry is not None and self.entry.fixes:
            self.show(self.entry, (self.fix_index + 1) % len(self.entry.fixes))

    def action_choose(self, n: int) -> None:
        if self.entry is not None and 1 <= n <= len(self.entry.fixes):
            self.show(self.entry, n - 1)

    def action_copy(self) -> None:
        fix = self.fix
        if fix is None or not fix.commands:
            return
        self.app.copy_to_clipboard("\n".join(fix.commands))
        lines = "1 line" if len(fix.commands) == 1 else f"{len(fix.commands)} lines"
        self.status(
            Text(
                f"Copied fix {self.fix_index + 1} ({lines}) for {compress_hosts(fix.hosts)} "
                "to the clipboard (via your terminal; or select the text).",
                style="green",
            )
        )
        self.notify("Copied to the clipboard", timeout=2)

    def action_copy_hosts(self) -> None:
        if self.entry is None or not self.entry.hosts:
            return
        self.app.copy_to_clipboard(self.entry.hostlist)
        self.status(Text(f"Copied the host list of {nodes(len(self.entry.hosts))} to the clipboard.", style="green"))
        self.notify("Copied to the clipboard", timeout=2)

    def action_skipped(self) -> None:
        if self.summary.skipped:
            self._select(SKIPPED_KEY)
