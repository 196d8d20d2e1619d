"""The text of a finding (with its evidence and symptoms) and of a fix, as Rich Text."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tvwizard.model import Finding, Fix, Severity
from tvwizard.tui import palette
from tvwizard.tui.format import severity_mark

MAX_EVIDENCE_LINES = 12


def no_fix_words(f: Finding, cause: Finding | None) -> str:
    """Why a finding has no fix here, and what to do next: never a silent dead end."""
    if cause is not None and cause.fixes:
        return f"Fix its cause and this goes too: f shows the fix for {cause.id}."
    if cause is not None:
        return (
            f"Its cause ({cause.id}) has no fix tvwizard can write for this environment. Next: the evidence "
            "above names the file and where it came from; n, n writes a report to share with whoever "
            "maintains this environment."
        )
    if f.severity is not Severity.ERROR:
        return "Nothing to do unless it bothers you: torchvision's verdict does not depend on it."
    return (
        "tvwizard knows no command that fixes this in this environment. Next: the evidence above says which "
        "file and why; d checks again after you change something; n, n writes a report for a ticket."
    )


def finding_detail(f: Finding, symptoms: list[Finding], cause: Finding | None = None) -> RenderableType:
    mark, style = severity_mark(f.severity)
    muted = palette.style("muted")
    parts: list[RenderableType] = []
    head = Text()
    head.append(mark, style=style)
    head.append(" ")
    head.append(palette.text(f.title), style="bold")
    head.append(f"  {f.id}", style=muted)
    parts.append(head)
    if cause is not None:
        parts.append(Text.assemble(("Symptom of: ", muted), (palette.text(cause.title), "")))
    if f.explanation:
        parts.append(Text(""))
        parts.append(Text(palette.text(f.explanation)))
    if symptoms:
        parts.append(Text(""))
        parts.append(Text("What it causes", style="bold"))
        for s in symptoms:
            smark, sstyle = severity_mark(s.severity)
            parts.append(
                Text.assemble(
                    f"  {palette.mark('symptom')} ", (smark + " ", sstyle), palette.text(s.title), (f"  {s.id}", muted)
                )
            )
    if f.evidence:
        parts.append(Text(""))
        parts.append(Text("Evidence", style="bold"))
        for e in f.evidence:
            parts.append(Text.assemble("  ", (f"{e.probe} / {e.fact}", palette.style("info"))))
            lines = (e.detail or "").strip().splitlines()
            if len(lines) > MAX_EVIDENCE_LINES:
                lines = [
                    f"{palette.mark('more')} {len(lines) - MAX_EVIDENCE_LINES} lines above",
                    *lines[-MAX_EVIDENCE_LINES:],
                ]
            for line in lines:
                parts.append(Text("    " + palette.text(line), style=muted))
    parts.append(Text(""))
    if f.fixes:
        parts.append(Text("Fixes", style="bold"))
        for i, fix in enumerate(f.fixes, 1):
            parts.append(Text.assemble(f"  {i}. ", palette.text(fix.title)))
        parts.append(Text("  f (or n) shows the commands", style=muted))
    else:
        parts.append(Text("No fix here", style="bold"))
        parts.append(Text("  " + no_fix_words(f, cause)))
    return Group(*parts)


def fix_detail(fix: Fix) -> RenderableType:
    parts: list[RenderableType] = [Text(palette.text(fix.title), style="bold")]
    if fix.why:
        parts.append(Text(palette.text(fix.why)))
    facts = []
    if fix.changes:
        facts.append(("Changes", fix.changes))
    if fix.undo:
        facts.append(("Undo", fix.undo))
    if fix.download:
        facts.append(("Download", fix.download))
    if fix.restart:
        facts.append(("Then", "restart Python (or the notebook kernel)"))
    for label, value in facts:
        parts.append(Text.assemble((f"{label}: ", "bold"), palette.text(value)))
    return Group(*parts)
