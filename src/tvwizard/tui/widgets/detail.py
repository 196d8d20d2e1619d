"""The text of a finding (with its evidence and symptoms) and of a fix, as Rich Text."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tvwizard.model import Finding, Fix
from tvwizard.tui.format import SEVERITY

MAX_EVIDENCE_LINES = 12


def finding_detail(f: Finding, symptoms: list[Finding], cause: Finding | None = None) -> RenderableType:
    mark, style = SEVERITY.get(f.severity, ("•", ""))
    parts: list[RenderableType] = []
    head = Text()
    head.append(f"{mark} ", style=style)
    head.append(f.title, style="bold")
    head.append(f"  {f.id}", style="dim")
    parts.append(head)
    if cause is not None:
        parts.append(Text.assemble(("Symptom of: ", "dim"), (cause.title, "")))
    if f.explanation:
        parts.append(Text(""))
        parts.append(Text(f.explanation))
    if symptoms:
        parts.append(Text(""))
        parts.append(Text("What it causes", style="bold"))
        for s in symptoms:
            smark, sstyle = SEVERITY.get(s.severity, ("•", ""))
            parts.append(Text.assemble("  ↳ ", (smark + " ", sstyle), s.title, (f"  {s.id}", "dim")))
    if f.evidence:
        parts.append(Text(""))
        parts.append(Text("Evidence", style="bold"))
        for e in f.evidence:
            parts.append(Text.assemble("  ", (f"{e.probe} / {e.fact}", "cyan")))
            lines = (e.detail or "").strip().splitlines()
            if len(lines) > MAX_EVIDENCE_LINES:
                lines = [f"… {len(lines) - MAX_EVIDENCE_LINES} lines above", *lines[-MAX_EVIDENCE_LINES:]]
            for line in lines:
                parts.append(Text("    " + line, style="dim"))
    if f.fixes:
        parts.append(Text(""))
        parts.append(Text("Fixes", style="bold"))
        for i, fix in enumerate(f.fixes, 1):
            parts.append(Text.assemble(f"  {i}. ", fix.title))
        parts.append(Text("  press f to see the commands", style="dim"))
    return Group(*parts)


def fix_detail(fix: Fix) -> RenderableType:
    parts: list[RenderableType] = [Text(fix.title, style="bold")]
    if fix.why:
        parts.append(Text(fix.why))
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
        parts.append(Text.assemble((f"{label}: ", "bold"), value))
    return Group(*parts)
