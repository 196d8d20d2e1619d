"""Read the first Python traceback out of text: a log, a pasted error, a command's stderr.

Shared by the ``user`` probe (which reads the stderr of the user's own command inside the
target) and by tvwizard (``tvwizard explain`` reads what a person pasted), so it is
stdlib-only and parses on Python 3.8.

Understands CPython's format (``Traceback (most recent call last):`` / ``File "p", line N,
in f`` / the source line / caret lines / ``Type: message``), chained exceptions (the first
printed one is the original cause, so it is the one kept), and IPython's (``File
~/x.py:5, in <module>`` and ``/path/x.py in <module>`` with ``---->`` source lines).
Text that is not a traceback gives ``None``; nothing here raises on odd input.

A failure, as data::

    {"type": "ModuleNotFoundError", "message": "No module named 'x'",
     "frames": [{"file": str, "line": int|None, "function": str, "code": str}, ...],
     "traceback": str}   # the traceback's own lines, bounded
"""

from __future__ import annotations

import re

MAX_TEXT = 64 * 1024  # a traceback kept as text is bounded
MAX_FRAMES = 200

_START = re.compile(r"^\s*Traceback \(most recent call last\):\s*$")
# CPython's frame line; faulthandler's has no comma before "in"
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:,? in (?P<function>.*))?\s*$')
# IPython 8: "File ~/x.py:5, in <module>" ; IPython 7: "/path/x.py in <module>()" (then "---> 5 code")
_IPY_FRAME = re.compile(r"^\s*File (?P<file>\S.*?):(?P<line>\d+), in (?P<function>.*?)\s*$")
_IPY7_FRAME = re.compile(r"^(?P<file>(?:[A-Za-z]:)?[~/\\][^\s].*?\.py) in (?P<function>\S+?)(?:\(.*\))?\s*$")
_IPY_ARROW = re.compile(r"^\s*-*> ?(?P<line>\d+)\s(?P<code>.*)$")
_EXC = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Warning|Interrupt|Exit|error|Failure))(?::\s?(?P<msg>.*))?$"
)
_BARE_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<msg>.*))?$")
_IPY_HEAD = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception))\s+Traceback \(most recent call last\)")
_CARETS = re.compile(r"^\s*[~^]+\s*$")


def _frame(match, code=""):
    line = match.groupdict().get("line")
    return {
        "file": match.group("file"),
        "line": int(line) if line else None,
        "function": (match.group("function") or "").strip(),
        "code": code,
    }


def parse(text):
    """The first traceback in ``text`` as a failure dict, or None when there is none."""
    if not isinstance(text, str) or not text:
        return None
    lines = text[: MAX_TEXT * 4].splitlines()
    start = None
    ipython_type = None
    for i, line in enumerate(lines):
        if _START.match(line):
            start = i
            break
        head = _IPY_HEAD.match(line.strip())
        if head:
            start, ipython_type = i, head.group("type")
            break
    if start is None:  # a traceback pasted without its first line: start at its first frame
        first = next((i for i, line in enumerate(lines) if _FRAME.match(line)), None)
        if first is None:
            return _frameless(lines)
        start = first - 1
    frames = []
    exc_type, message = ipython_type, ""
    end = len(lines)
    i = start + 1
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        m = _FRAME.match(raw) or _IPY_FRAME.match(raw) or (_IPY7_FRAME.match(stripped) if ipython_type else None)
        if m:
            frames.append(_frame(m))
            i += 1
            continue
        if not stripped or _CARETS.match(raw):
            i += 1
            continue
        arrow = _IPY_ARROW.match(raw) if ipython_type else None
        if arrow:
            if frames:
                frames[-1]["code"] = arrow.group("code").strip()
                if frames[-1]["line"] is None:
                    frames[-1]["line"] = int(arrow.group("line"))
            i += 1
            continue
        if raw[:1] in (" ", "\t") and not ipython_type:
            if frames and not frames[-1]["code"]:
                frames[-1]["code"] = stripped
            i += 1
            continue
        if ipython_type and re.match(r"^\s*\d+\s", raw):  # IPython context lines around the arrow
            i += 1
            continue
        exc = _EXC.match(stripped) or (_BARE_EXC.match(stripped) if not ipython_type else None)
        if exc:
            exc_type = exc.group("type")
            message = (exc.group("msg") or "").strip()
            end = i + 1
            # a message may run over several lines (PyAV's "See https://…" lines): keep those
            # up to a blank line, the next traceback or the chaining sentence
            while end < len(lines) and lines[end].strip() and not _START.match(lines[end]):
                nxt = lines[end].strip()
                if nxt.startswith(("During handling", "The above exception")):
                    break
                message += "\n" + nxt
                end += 1
            break
        i += 1
    return {
        "type": exc_type or "",
        "message": message[:4000],
        "frames": frames[-MAX_FRAMES:],
        "traceback": "\n".join(lines[max(start, 0) : end])[-MAX_TEXT:],
    }


def _frameless(lines):
    """An error line without a traceback (``ImportError: …`` alone in a log), else None."""
    for line in lines:
        exc = _EXC.match(line.strip())
        if exc and exc.group("msg") is not None:
            return {
                "type": exc.group("type"),
                "message": exc.group("msg").strip()[:4000],
                "frames": [],
                "traceback": line.strip()[:MAX_TEXT],
            }
    return None


def site_relative(path):
    """``basicsr/data/degradations.py`` from ``/venv/lib/python3.10/site-packages/basicsr/…``
    (Windows separators too); None when the path is not under site-/dist-packages."""
    norm = str(path).replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        at = norm.rfind(marker)
        if at >= 0:
            return norm[at + len(marker) :]
    return None
