"""The Markdown report: for a GitHub issue or comment, a ticket, a chat.

It renders well on GitHub (tables, ``<details>`` for logs, no raw HTML beyond ``<details>``,
``<summary>``, ``<br>`` and ``<sub>``) and stays within GitHub's comment size: when the
whole report would pass :data:`GITHUB_COMMENT_LIMIT` characters, the logs are trimmed (the
head and the tail of each kept, fairly shared) and each trimmed log says so where the cut
is, and a note above the logs says so too.  Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tvwizard.inert import inert
from tvwizard.report.document import (
    Bullets,
    Code,
    Details,
    Footer,
    Heading,
    Inline,
    Log,
    Note,
    Para,
    Table,
    build_document,
    walk,
)

__all__ = ["GITHUB_COMMENT_LIMIT", "render_markdown", "trim_text"]

#: GitHub's limit on an issue body or comment, in characters.
GITHUB_COMMENT_LIMIT = 65_536
_MARGIN = 256  # room for rounding in the budget arithmetic
_MIN_LOG = 400  # a trimmed log keeps at least this much (when the budget allows any)


def trim_text(text: str, limit: int, why: str) -> tuple[str, bool]:
    """``text`` cut to about ``limit`` characters: the head (⅓) and tail (⅔) kept, at line
    boundaries, with a line in the middle that says how much was cut and ``why``."""
    if len(text) <= limit:
        return text, False
    lines = text.splitlines()
    note_room = 200
    room = max(limit - note_room, 0)
    head_room, tail_room = room // 3, room - room // 3
    head: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > head_room:
            break
        head.append(line)
        used += len(line) + 1
    tail: list[str] = []
    used = 0
    for line in reversed(lines[len(head) :]):
        if used + len(line) + 1 > tail_room:
            break
        tail.append(line)
        used += len(line) + 1
    tail.reverse()
    if not head and not tail and room:  # one enormous line: cut inside it
        return text[: room // 3] + f"\n… [{len(text) - room:,} characters trimmed: {why}] …\n" + text[
            -(room - room // 3) :
        ], True
    cut_lines = len(lines) - len(head) - len(tail)
    cut_chars = len(text) - sum(len(x) + 1 for x in head) - sum(len(x) + 1 for x in tail)
    note = f"… [{cut_chars:,} characters ({cut_lines:,} lines) trimmed here: {why}] …"
    return "\n".join([*head, note, *tail]), True


# -- inline -------------------------------------------------------------------------------


def _html_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _prose(s: str) -> str:
    # HTML-escaped (``<user>`` would vanish as a tag); ``~`` escaped (GitHub strikes ``~a b~``);
    # ``[``/``]`` escaped (no link or image from an error message); ``#`` escaped and each line
    # break a ``<br>`` on the same line, so no line of untrusted text starts a heading, quote
    # or list.
    s = _html_text(s).replace("~", "\\~").replace("[", "\\[").replace("]", "\\]").replace("#", "\\#")
    return s.replace("\n", "<br>")


def _text(s: str, in_table: bool) -> str:
    s = inert(s.replace("\r\n", "\n"))
    parts = s.split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick: all of it is prose
        parts = [s]
    s = "`".join(p.replace("\n", " ⏎ ") if i % 2 else _prose(p) for i, p in enumerate(parts))
    if in_table:
        s = s.replace("|", "\\|")
    return s


def _code(s: str, in_table: bool) -> str:
    s = inert(s.replace("\r\n", "\n")).replace("\n", " ⏎ ")
    if in_table:
        s = s.replace("|", "\\|")
    ticks = max((len(m) for m in re.findall(r"`+", s)), default=0)
    fence = "`" * (ticks + 1)
    pad = " " if ticks or s.startswith(" ") or s.endswith(" ") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def inline(segments: Inline, in_table: bool = False) -> str:
    out = []
    for style, s in segments:
        if style == "code":
            out.append(_code(s, in_table))
        elif style == "bold":
            out.append(f"**{_text(s, in_table).strip()}**" + (" " if s.endswith(" ") else ""))
        else:
            out.append(_text(s, in_table))
    return "".join(out)


def _fence(text: str, lang: str = "text") -> str:
    text = inert(text.replace("\r\n", "\n"))
    ticks = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, ticks + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


# -- blocks -------------------------------------------------------------------------------


def _block(block: Any, logs: Mapping[int, str]) -> str:
    if isinstance(block, Heading):
        return "#" * block.level + " " + inline(block.inline).strip()
    if isinstance(block, Para):
        return inline(block.inline)
    if isinstance(block, Note):
        label = "**Warning:** " if block.kind == "warning" else "**Note:** "
        return "> " + label + inline(block.inline)
    if isinstance(block, Bullets):
        return "\n".join("- " + inline(item) for item in block.items)
    if isinstance(block, Table):
        head = "| " + " | ".join(inline(h, True) or " " for h in block.header) + " |"
        sep = "|" + "|".join("---" for _ in block.header) + "|"
        rows = ["| " + " | ".join(inline(cell, True) or " " for cell in row) + " |" for row in block.rows]
        return "\n".join([head, sep, *rows])
    if isinstance(block, Code):
        return _fence(block.text, block.lang)
    if isinstance(block, Log):
        text = logs.get(id(block), block.text)
        parts = [inline(block.label) + ":"]
        if block.dropped_note:
            parts.append("_(" + _text(block.dropped_note, False) + ")_")
        parts.append(_fence(text))
        return "\n\n".join(parts)
    if isinstance(block, Details):
        inner = "\n\n".join(_block(x, logs) for x in block.blocks)
        # the summary is HTML: GitHub does not render Markdown there, so code → <code>
        summary = "".join(
            f"<code>{_text(s, False)}</code>" if style == "code" else _text(s, False) for style, s in block.summary
        )
        return f"<details><summary>{summary}</summary>\n\n{inner}\n\n</details>"
    if isinstance(block, Footer):
        return "---\n\n<sub>" + inline(block.inline) + "</sub>"
    raise TypeError(f"unknown block {block!r}")


def _render(blocks: list[Any], logs: Mapping[int, str], trim_note: str | None) -> str:
    parts = []
    for block in blocks:
        parts.append(_block(block, logs))
        if trim_note and isinstance(block, Heading) and block.anchor == "logs":
            parts.append("> **Note:** " + _text(trim_note, False))
    return "\n\n".join(parts) + "\n"


def _share(sizes: list[int], budget: int) -> list[int]:
    """Water-filling: each log gets min(its size, a fair share of what is left)."""
    alloc = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    left = budget
    for n, i in enumerate(order):
        fair = left // (len(order) - n)
        alloc[i] = min(sizes[i], fair)
        left -= alloc[i]
    return alloc


def render_markdown(report: Mapping[str, Any], *, max_chars: int = GITHUB_COMMENT_LIMIT) -> str:
    """The report as GitHub-flavoured Markdown, at most ``max_chars`` characters."""
    blocks = build_document(report)
    logs = [x for x in walk(blocks) if isinstance(x, Log)]
    full = _render(blocks, {}, None)
    if len(full) <= max_chars:
        return full
    why = f"to fit GitHub's {GITHUB_COMMENT_LIMIT:,}-character limit; the JSON report has it all"
    if max_chars != GITHUB_COMMENT_LIMIT:
        why = f"to fit {max_chars:,} characters; the JSON report has it all"
    note = (
        "Some logs below are trimmed (head and tail kept) to keep this report under "
        f"{max_chars:,} characters; each cut says how much it left out. "
        "`tvwizard report --format json` writes them in full."
    )
    skeleton = len(_render(blocks, {id(x): "" for x in logs}, note))
    budget = max_chars - skeleton - _MARGIN - 220 * len(logs)
    for _attempt in range(6):
        alloc = _share([len(x.text) for x in logs], max(budget, 0))
        trimmed: dict[int, str] = {}
        for x, n in zip(logs, alloc, strict=True):
            if n >= len(x.text):
                continue
            if n < _MIN_LOG:
                trimmed[id(x)] = f"… [all {len(x.text):,} characters trimmed: {why}] …"
            else:
                trimmed[id(x)] = trim_text(x.text, n, why)[0]
        out = _render(blocks, trimmed, note)
        if len(out) <= max_chars:
            return out
        budget -= len(out) - max_chars + _MARGIN
    # Still too long without logs (a huge package list): cut the end, and say so.
    tail = f"\n\n> **Note:** this report was cut at {max_chars:,} characters; the JSON report has it all.\n"
    cut = out.rfind("\n\n", 0, max_chars - len(tail))
    return out[: cut if cut > 0 else max_chars - len(tail)] + tail
