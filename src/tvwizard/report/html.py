"""The HTML report: one self-contained file, readable offline, in light and dark.

No scripts, no external fonts, styles or images: inline CSS only, with ``color-scheme`` and a
``prefers-color-scheme: dark`` palette.  Every piece of report text is escaped.  Logs are in
``<details>`` blocks; a log longer than ``max_log_chars`` keeps its head and tail, with a
line that says what was cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape as _html_escape
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
)
from tvwizard.report.facts import VERDICTS
from tvwizard.report.markdown import trim_text

__all__ = ["render_html"]

#: Per log, in characters; longer logs keep head and tail (the JSON report has them whole).
HTML_LOG_LIMIT = 64_000

_CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --border: #d1d9e0;
  --code-bg: #f6f8fa; --note-bg: #ddf4ff; --note-border: #54aeff; --warn-bg: #fff8c5;
  --warn-border: #d4a72c; --accent: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --border: #3d444d; --code-bg: #151b23;
    --note-bg: #0c2d6b; --note-border: #1f6feb; --warn-bg: #3b2e00; --warn-border: #9e6a03;
    --accent: #4493f8; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 70rem; padding: 1.5rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
  sans-serif; }
h1 { font-size: 1.7rem; border-bottom: 1px solid var(--border); padding-bottom: .3rem; }
h2 { font-size: 1.35rem; border-bottom: 1px solid var(--border); padding-bottom: .2rem;
  margin-top: 2rem; }
h3 { font-size: 1.1rem; margin-top: 1.4rem; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas,
  "Liberation Mono", monospace; }
code { background: var(--code-bg); padding: .1em .35em; border-radius: 4px;
  overflow-wrap: anywhere; }
pre { background: var(--code-bg); border: 1px solid var(--border); border-radius: 6px;
  padding: .8rem; overflow: auto; max-height: 40rem; white-space: pre; }
pre code { background: none; padding: 0; }
table { border-collapse: collapse; margin: .6rem 0; display: block; overflow-x: auto;
  max-width: 100%; }
th, td { border: 1px solid var(--border); padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
th { background: var(--code-bg); }
details { border: 1px solid var(--border); border-radius: 6px; padding: .4rem .8rem;
  margin: .6rem 0; }
summary { cursor: pointer; font-weight: 600; }
.note, .warning { border-left: 4px solid var(--note-border); background: var(--note-bg);
  padding: .5rem .8rem; border-radius: 4px; margin: .8rem 0; }
.warning { border-color: var(--warn-border); background: var(--warn-bg); }
.meta, footer { color: var(--muted); }
footer { border-top: 1px solid var(--border); margin-top: 2rem; padding-top: .6rem;
  font-size: .85rem; }
"""


def escape(text: str) -> str:
    """Report text for HTML: control characters shown visibly, then HTML-escaped."""
    return _html_escape(inert(text.replace("\r\n", "\n")))


def _inline(segments: Inline) -> str:
    out = []
    for style, s in segments:
        if style == "code":
            out.append(f"<code>{escape(s)}</code>")
        elif style == "bold":
            out.append(f"<strong>{escape(s)}</strong>")
        else:  # prose may quote code the Markdown way: `x` → <code>x</code>
            parts = escape(s).split("`")
            if len(parts) % 2 == 0:  # an unmatched backtick: leave the text as it is
                parts = [escape(s)]
            out.append("".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts)))
    return "".join(out)


def _slug(block: Heading) -> str:
    return f' id="{escape(block.anchor)}"' if block.anchor else ""


def _block(block: Any, max_log_chars: int) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}{_slug(block)}>{_inline(block.inline)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.inline)}</p>"
    if isinstance(block, Note):
        kind = "warning" if block.kind == "warning" else "note"
        return f'<div class="{kind}">{_inline(block.inline)}</div>'
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{_inline(item)}</li>" for item in block.items) + "\n</ul>"
    if isinstance(block, Table):
        head = ""
        if any(_inline(h) for h in block.header):
            head = "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in block.header) + "</tr></thead>"
        rows = "\n".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table>{head}<tbody>\n{rows}\n</tbody></table>"
    if isinstance(block, Code):
        return f'<pre><code class="language-{escape(block.lang)}">{escape(block.text)}</code></pre>'
    if isinstance(block, Log):
        why = f"longer than {max_log_chars:,} characters; the JSON report has it all"
        text, cut = trim_text(block.text, max_log_chars, why)
        parts = [f"<p>{_inline(block.label)}:"]
        if cut:
            parts.append(" <em>(trimmed)</em>")
        if block.dropped_note:
            parts.append(f" <em>({escape(block.dropped_note)})</em>")
        parts.append(f"</p>\n<pre><code>{escape(text)}</code></pre>")
        return "".join(parts)
    if isinstance(block, Details):
        inner = "\n".join(_block(x, max_log_chars) for x in block.blocks)
        return f"<details><summary>{_inline(block.summary)}</summary>\n{inner}\n</details>"
    if isinstance(block, Footer):
        return f"<footer>{_inline(block.inline)}</footer>"
    raise TypeError(f"unknown block {block!r}")


def render_html(report: Mapping[str, Any], *, max_log_chars: int = HTML_LOG_LIMIT) -> str:
    """The report as one self-contained HTML page (no external assets, no scripts)."""
    blocks = build_document(report)
    verdict = str(report.get("verdict") or "unknown")
    title = VERDICTS.get(verdict, VERDICTS["unknown"])[1].replace("`", "")
    body = "\n".join(_block(x, max_log_chars) for x in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>tvwizard report: {escape(title)}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
