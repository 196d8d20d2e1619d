"""The doctor-style checklist: verdict first, one line per check, then the findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from tvwizard.model import CheckStatus, Finding, Report, Severity
from tvwizard.units import duration

MARKS = {
    CheckStatus.OK: ("✓", "[OK]", "green"),
    CheckStatus.WARNING: ("!", "[!]", "yellow"),
    CheckStatus.ERROR: ("✗", "[X]", "red"),
    CheckStatus.CRASHED: ("crashed", "[CRASHED]", "bold red"),
    CheckStatus.TIMEOUT: ("timeout", "[TIMEOUT]", "bold red"),
    CheckStatus.SKIPPED: ("-", "[-]", "dim"),
    CheckStatus.INFO: ("•", "[i]", "cyan"),
}
SEVERITY = {
    Severity.ERROR: ("✗", "[X]", "red"),
    Severity.WARNING: ("!", "[!]", "yellow"),
    Severity.INFO: ("•", "[i]", "cyan"),
}


ASCII_TABLE = str.maketrans(
    {
        "·": "-",
        "…": "...",
        "—": "-",
        "–": "-",
        "↳": "->",
        "→": "->",
        "≤": "<=",
        "≥": ">=",
        "✓": "OK",
        "✗": "X",
        "•": "*",
        "×": "x",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
    }
)


class AsciiFile:
    """A text stream that writes only ASCII: for terminals that cannot show ✓ / ✗ (or --ascii)."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        clean = text.translate(ASCII_TABLE).encode("ascii", "replace").decode("ascii")
        return self.stream.write(clean)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def fileno(self) -> int:
        return self.stream.fileno()


def can_draw_unicode(console: Console) -> bool:
    try:
        "✓✗•↳…·".encode(console.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return not console.is_dumb_terminal


def render_checklist(report: Report, console: Console, *, verbose: bool = False, ascii_only: bool = False) -> None:
    uni = not ascii_only and can_draw_unicode(console)
    arrow, dot = ("↳", "·") if uni else ("->", "-")
    roots = [f for f in report.findings if f.caused_by is None]
    errors = [f for f in roots if f.severity is Severity.ERROR]
    warnings = [f for f in roots if f.severity is Severity.WARNING]
    t = report.target
    console.print(
        f"[bold]tvwizard[/] {report.tvwizard_version} {dot} {escape(t.python)} "
        f"(Python {t.version}, {t.env_kind}; {t.how_chosen})",
        highlight=False,
    )
    if report.verdict == "works":
        extra = f", {len(warnings)} warning(s)" if warnings else ""
        console.print(
            f"[bold green]{'✓' if uni else 'OK'} torchvision works[/]{extra} {dot} "
            f"checked in {duration(report.duration)}",
            highlight=False,
        )
    else:
        console.print(
            f"[bold red]{'✗' if uni else 'X'} torchvision is broken[/]: {len(errors)} problem(s), "
            f"{len(warnings)} warning(s) {dot} checked in {duration(report.duration)}",
            highlight=False,
        )
    console.print()
    width = max((len(c.title) for c in report.checks), default=10)
    marks = {c.id: _mark(c.status, uni) for c in report.checks}
    mark_width = max((len(m) for m in marks.values()), default=3)
    for c in report.checks:
        style = MARKS[c.status][2]
        dur = f" [dim]({duration(c.duration)})[/]" if verbose and c.duration is not None else ""
        console.print(
            f"[{style}]{escape(marks[c.id]):<{mark_width}}[/] {escape(c.title):<{width}}  {escape(c.summary)}{dur}",
            highlight=False,
        )
    shown = [f for f in report.findings if verbose or f.severity is not Severity.INFO]
    if shown:
        console.print()
        console.print("[bold]Findings[/] (root causes first)")
    shown_fixes: dict[tuple[str, ...], str] = {}
    for f in shown:
        if f.caused_by is not None:
            continue
        _finding(console, f, report, verbose, uni, arrow, shown_fixes)
    console.print()
    if report.verdict != "works":
        console.print(
            "Next: [bold]tvwizard fix[/] shows the fix plan, [bold]tvwizard fix --apply[/] applies one "
            "after you confirm; [bold]tvwizard report[/] writes a redacted report for a ticket.",
            highlight=False,
        )
    if not verbose:
        console.print("[dim]-v shows every detail, evidence and each probe's duration.[/]", highlight=False)


def _mark(status: CheckStatus, uni: bool) -> str:
    mark_u, mark_a, _ = MARKS[status]
    return f"[{mark_u}]" if uni else mark_a


def _finding(
    console: Console,
    f: Finding,
    report: Report,
    verbose: bool,
    uni: bool,
    arrow: str,
    shown_fixes: dict[tuple[str, ...], str],
) -> None:
    from tvwizard.fixes.shell import LABELS, detect_shell, fix_lines

    shell = detect_shell()
    mu, ma, style = SEVERITY[f.severity]
    console.print(f"[{style}]{mu if uni else ma}[/] [bold]{escape(f.title)}[/] [dim]({f.id})[/]", highlight=False)
    if f.explanation:
        console.print(f"    {escape(f.explanation)}", highlight=False)
    for s in (x for x in report.findings if x.caused_by == f.id):
        console.print(f"    {arrow} [dim]{escape(s.title)} ({s.id})[/]", highlight=False)
        if verbose:
            for e in s.evidence:
                _evidence(console, e.probe, e.fact, e.detail, indent=8)
    if verbose:
        for e in f.evidence:
            _evidence(console, e.probe, e.fact, e.detail, indent=4)
    for i, fix in enumerate(f.fixes, 1):
        key = fix.key()
        if key in shown_fixes:
            console.print(f"    [bold]Fix {i}:[/] the same as {shown_fixes[key]} above", highlight=False)
            continue
        shown_fixes[key] = f"fix {i} of {f.id}"
        where = f" (in {LABELS.get(shell, shell)}; `tvwizard fix --shell` for another)" if fix.kind == "env" else ""
        console.print(f"    [bold]Fix {i}:[/] {escape(fix.title)}{escape(where)}", highlight=False)
        if verbose and fix.why:
            console.print(f"      {escape(fix.why)}", highlight=False)
        for cmd in fix_lines(fix, shell):
            console.print(f"      [cyan]{escape(cmd)}[/]", highlight=False, soft_wrap=True)
        notes = [
            x
            for x in (
                f"downloads {fix.download}" if fix.download else "",
                "restart Python afterwards" if fix.restart else "",
            )
            if x
        ]
        if notes:
            console.print(f"      [dim]{escape('; '.join(notes))}[/]", highlight=False)


def _evidence(console: Console, probe: str, fact: str, detail: str, indent: int) -> None:
    pad = " " * indent
    lines = (detail or "").strip().splitlines()
    console.print(f"{pad}[dim]evidence ({probe} / {fact}):[/]", highlight=False)
    for line in lines[-25:]:
        console.print(f"{pad}  [dim]{escape(line)}[/]", highlight=False, soft_wrap=True)
