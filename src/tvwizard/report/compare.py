"""``tvwizard compare A.json B.json``: what differs between two reports.

Typical pairs: a machine where ``import torchvision`` works and one where it does not, or
the same machine yesterday and today.  :func:`load_report` reads a JSON report written by
this or an earlier tvwizard of the same schema major, and refuses anything else with a
message that says what the file is and what to do.  :func:`compare_reports` returns the
differences as data (``tvwizard.compare/1``); :func:`render_compare_text` shows them as a
table, :func:`render_compare_json` as JSON.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tvwizard.inert import inert, inert_json, inert_line
from tvwizard.model import SCHEMA
from tvwizard.report.facts import PACKAGES, summarize_facts

__all__ = [
    "COMPARE_SCHEMA",
    "ReportLoadError",
    "comparable_report",
    "compare_reports",
    "load_report",
    "parse_schema",
    "render_compare_json",
    "render_compare_text",
]

COMPARE_SCHEMA = "tvwizard.compare/1"
_SCHEMA_RE = re.compile(r"^tvwizard\.report/(\d+)(?:\.(\d+))?$")


class ReportLoadError(ValueError):
    """A file that ``compare`` cannot read as a report; ``str()`` is the message for the user."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def parse_schema(schema: Any) -> int | None:
    """The major version of a ``tvwizard.report/N`` schema string, or None if it is not one."""
    m = _SCHEMA_RE.match(schema) if isinstance(schema, str) else None
    return int(m.group(1)) if m else None


SUPPORTED_MAJOR = parse_schema(SCHEMA) or 1


def check_report_dict(data: Any, path: str = "<report>") -> dict[str, Any]:
    """``data`` if it is a report this tvwizard can read, else :class:`ReportLoadError`."""
    if not isinstance(data, dict):
        raise ReportLoadError(path, f"not a tvwizard report (the JSON is a {type(data).__name__}, not an object)")
    schema = data.get("schema")
    if schema is None:
        raise ReportLoadError(
            path,
            'not a tvwizard report (no "schema" key); write one with `tvwizard report --format json -o FILE`',
        )
    major = parse_schema(schema)
    if major is None:
        raise ReportLoadError(path, f"not a tvwizard report: its schema is {schema!r}, not 'tvwizard.report/N'")
    if major > SUPPORTED_MAJOR:
        raise ReportLoadError(
            path,
            f"written by a newer tvwizard (schema {schema!r}; this tvwizard reads "
            f"'tvwizard.report/{SUPPORTED_MAJOR}'). Upgrade tvwizard to compare it.",
        )
    if major < SUPPORTED_MAJOR:
        raise ReportLoadError(
            path,
            f"written by an older tvwizard (schema {schema!r}), which this tvwizard no longer reads "
            f"(it reads 'tvwizard.report/{SUPPORTED_MAJOR}'). Run the report again with this tvwizard.",
        )
    for key, kind in (
        ("probes", list),
        ("findings", list),
        ("checks", list),
        ("target", dict),
        ("system", dict),
    ):
        if key in data and not isinstance(data[key], kind):
            raise ReportLoadError(
                path, f"malformed report: {key!r} is a {type(data[key]).__name__}, not a {kind.__name__}"
            )
    return data


#: The largest report file ``compare`` and ``fleet`` read (README, "Limits").  A real report is
#: well under 1 MB (logs are capped when written); anything bigger is not one of ours.
MAX_REPORT_BYTES = 16 * 2**20


def _read_capped(path: str | Path, name: str) -> bytes:
    """The bytes of a *regular* file of at most :data:`MAX_REPORT_BYTES`, else :class:`ReportLoadError`.

    Opened without blocking (a FIFO named ``*.json`` must not hang ``fleet``), checked to be a
    regular file after the open (a symlink to ``/dev/zero`` is a device, not a report), and read
    to at most the cap plus one byte (a file that grows while it is read cannot exhaust memory).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ReportLoadError(name, "no such file") from None
    except IsADirectoryError:
        raise ReportLoadError(name, "is a directory, not a report file") from None
    except OSError as e:
        raise ReportLoadError(name, f"cannot read it ({e.strerror or e})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ReportLoadError(name, "is a directory, not a report file")
        if not stat.S_ISREG(st.st_mode):
            kind = {
                stat.S_ISFIFO(st.st_mode): "a FIFO (named pipe)",
                stat.S_ISCHR(st.st_mode): "a character device",
                stat.S_ISBLK(st.st_mode): "a block device",
                stat.S_ISSOCK(st.st_mode): "a socket",
            }.get(True, "not a regular file")
            raise ReportLoadError(name, f"is {kind}, not a report file")
        if st.st_size > MAX_REPORT_BYTES:
            raise ReportLoadError(name, _too_big(st.st_size))
        chunks: list[bytes] = []
        left = MAX_REPORT_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise ReportLoadError(name, f"cannot read it ({e.strerror or e})") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_REPORT_BYTES:
        raise ReportLoadError(name, _too_big(len(raw), at_least=True))
    return raw


def _too_big(size: int, *, at_least: bool = False) -> str:
    return (
        f"{'over' if at_least else ''} {size / 2**20:,.1f} MiB".strip()
        + f": larger than any report ({MAX_REPORT_BYTES // 2**20} MiB at most are read)"
    )


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a JSON report for ``compare``; :class:`ReportLoadError` with a clear message if not."""
    name = str(path)
    raw = _read_capped(path, name)
    if not raw.strip():
        raise ReportLoadError(name, "the file is empty (was the report written completely?)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ReportLoadError(
            name, f"not a JSON report (not UTF-8 text: byte {e.start} is {raw[e.start]:#04x})"
        ) from None
    head = text.lstrip()[:200]
    if head.startswith("#") or head.lower().startswith(("<!doctype html", "<html")):
        kind = "Markdown" if head.startswith("#") else "HTML"
        raise ReportLoadError(
            name,
            f"this is a {kind} report; compare reads JSON reports: `tvwizard report --format json -o FILE`",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        end = len(text.rstrip())
        # A string still open at the end of the text is reported where it *starts*.
        unterminated = e.msg.startswith("Unterminated string")
        if unterminated or e.pos >= end - 1 or (e.msg.startswith("Expecting") and e.pos >= end - 2):
            lines = text.count("\n") + 1
            where = (
                f"line {lines}, in a string opened at line {e.lineno}, column {e.colno}"
                if unterminated
                else f"line {e.lineno}, column {e.colno} (character {e.pos:,} of {len(text):,})"
            )
            raise ReportLoadError(
                name,
                f"the JSON ends too early at {where}: the file looks truncated. Write the report again, "
                "or copy it whole.",
            ) from None
        raise ReportLoadError(name, f"not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise ReportLoadError(name, "not a report: its JSON is nested too deeply to read") from None
    except ValueError as e:  # an integer of thousands of digits (int_max_str_digits), and the like
        raise ReportLoadError(name, f"not a report: its JSON holds a value that cannot be read ({e})") from None
    return check_report_dict(data, name)


def comparable_report(path: str | Path) -> dict[str, Any]:
    """:func:`load_report`, and everything ``compare`` reads from it readable: a report with the
    right schema but wrong types inside (a list where an object goes, a number for a title) is
    refused here with :class:`ReportLoadError`, not halfway through a comparison.  (``fleet``
    reads less of each report and checks what it reads itself.)"""
    name = str(path)
    report = load_report(path)
    try:
        compare_reports(report, report)
    except RecursionError:
        raise ReportLoadError(name, "malformed report: nested too deeply") from None
    except Exception as exc:  # any shape no reader expects
        raise ReportLoadError(name, f"malformed report ({type(exc).__name__}: {str(exc)[:200]})") from None
    return report


# -- comparing ---------------------------------------------------------------------------


def _s(value: Any) -> str | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _section(name: str, title: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    keys = list(a) + [k for k in b if k not in a]
    rows = []
    same = 0
    for key in keys:
        va, vb = _s(a.get(key)), _s(b.get(key))
        if va == vb:
            same += 1
            continue
        change = "added" if va is None else "removed" if vb is None else "changed"
        rows.append({"key": key, "a": va, "b": vb, "change": change})
    return {"name": name, "title": title, "rows": rows, "same": same}


def _dist_map(facts: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for d in facts["distributions"]:
        out.setdefault(d["name"].lower().replace("_", "-"), []).append(d.get("version") or "?")
    return {k: ", ".join(v) for k, v in sorted(out.items())}


def _finding_map(facts: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for f in facts["findings"]["all"]:
        label = f"{f.get('severity', '?')}: {f.get('title') or f['id']}"
        if f.get("caused_by"):
            label += f" (caused by {f['caused_by']})"
        out[f["id"]] = label
    return out


def compare_reports(
    a: Mapping[str, Any], b: Mapping[str, Any], *, labels: tuple[str, str] = ("A", "B")
) -> dict[str, Any]:
    """The differences between two report dicts, as data (``tvwizard.compare/1``).

    Sections: summary (verdict, exit code), versions, variants, import locations, python,
    gpu, env, packages, libraries, findings, checks, probes.  Each has ``rows`` (only what
    differs: ``key``, ``a``, ``b``, ``change`` = added | removed | changed) and ``same`` (how
    many keys were equal).
    """
    fa, fb = summarize_facts(a), summarize_facts(b)

    def side(f: Mapping[str, Any], label: str) -> dict[str, Any]:
        m = f["meta"]
        return {
            "label": label,
            "schema": m["schema"],
            "tvwizard_version": m["tvwizard_version"],
            "created": m["created"],
            "verdict": m["verdict"],
        }

    def versions(f: Mapping[str, Any]) -> dict[str, Any]:
        out = {"python": f["python"]["version"]}
        out.update({p: f["packages"][p]["version"] for p in PACKAGES})
        out.update({f"{p} (dist)": f["packages"][p]["dist_version"] for p in PACKAGES})
        out.update({"nvidia driver": f["gpu"]["driver"], "driver CUDA": f["gpu"]["cuda"]})
        out["tvwizard"] = f["meta"]["tvwizard_version"]
        return out

    def variants(f: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in PACKAGES:
            out[f"{p} variant"] = f["packages"][p]["variant"]
            out[f"{p} CUDA"] = f["packages"][p]["cuda"]
        return out

    def locations(f: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in PACKAGES:
            out[f"{p} imported from"] = f["packages"][p]["origin"]
            out[f"{p} installed in"] = f["packages"][p]["location"]
            out[f"{p} installs"] = f["packages"][p]["installs"]
        return out

    def gpu(f: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for g in f["gpu"]["gpus"]:
            out[f"gpu {g['index']}"] = " · ".join(
                x for x in (g["name"], g["capability"] and f"sm {g['capability']}") if x
            )
        return out

    def libraries(f: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, list[str]] = {}
        for lib in f["libraries"]:
            out.setdefault(lib["name"], []).append(lib["path"])
        return {k: ", ".join(v) for k, v in sorted(out.items())}

    def checks(f: Mapping[str, Any]) -> dict[str, Any]:
        return {c.get("id", "?"): f"{c.get('status')}: {c.get('summary') or ''}".rstrip(": ") for c in f["checks"]}

    def probes(f: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for p in f["probes"]:
            out[p["name"]] = p["status"]
            for s in p["steps"]:
                out[f"{p['name']}.{s['name']}"] = s["status"]
        return out

    specs = [
        (
            "summary",
            "Summary",
            lambda f: {"verdict": f["meta"]["verdict"], "exit code": f["meta"]["exit_code"]},
        ),
        ("versions", "Versions", versions),
        ("variants", "Build variants", variants),
        ("import_locations", "Import locations", locations),
        (
            "python",
            "Python",
            lambda f: {k: f["python"][k] for k in ("executable", "prefix", "env_kind", "platform", "implementation")},
        ),
        ("gpu", "GPUs", gpu),
        ("system", "System", lambda f: f["system"]),
        # set but empty is not unset: CUDA_VISIBLE_DEVICES="" hides every GPU
        ("env", "Environment variables", lambda f: {k: '""' if v == "" else v for k, v in f["env"].items()}),
        ("packages", "Packages", _dist_map),
        ("libraries", "Shared libraries", libraries),
        ("findings", "Findings", _finding_map),
        ("checks", "Checks", checks),
        ("probes", "Probes and steps", probes),
    ]
    sections = [_section(name, title, fn(fa), fn(fb)) for name, title, fn in specs]
    ids_a, ids_b = set(_finding_map(fa)), set(_finding_map(fb))
    notes = []
    sa, sb = a.get("schema"), b.get("schema")
    if sa != sb:
        notes.append(f"the reports use different schema versions ({sa} vs {sb}); fields one lacks show as missing")
    if bool((fa["redaction"] or {}).get("enabled")) != bool((fb["redaction"] or {}).get("enabled")):
        notes.append("one report is redacted and the other is not: paths and names may differ only because of that")
    return {
        "schema": COMPARE_SCHEMA,
        "a": side(fa, labels[0]),
        "b": side(fb, labels[1]),
        "differences": sum(len(s["rows"]) for s in sections),
        "findings": {
            "only_a": sorted(ids_a - ids_b),
            "only_b": sorted(ids_b - ids_a),
            "both": sorted(ids_a & ids_b),
        },
        "notes": notes,
        "sections": sections,
    }


def render_compare_json(diff: Mapping[str, Any]) -> str:
    """The comparison as JSON (2-space indent, trailing newline)."""
    return inert_json(json.dumps(diff, indent=2, ensure_ascii=False)) + "\n"


def render_compare_text(diff: Mapping[str, Any], *, width: int = 110) -> str:
    """The comparison as a readable plain-text table (rich, no colours), one table per section."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False, emoji=False)
    a, b = diff["a"], diff["b"]
    for letter, side in (("A", a), ("B", b)):
        created = side.get("created") or "?"
        version = side.get("tvwizard_version") or "?"
        line = f"{letter} = {side['label']}  ({created}, tvwizard {version}, verdict {side.get('verdict')})"
        console.print(Text(inert_line(line)))
    for note in diff.get("notes") or []:
        console.print(Text(inert_line(f"note: {note}")))
    if not diff["differences"]:
        console.print(Text("\nNo differences."))
        return buf.getvalue()
    console.print(Text(f"\n{diff['differences']} difference(s); ~ changed, + only in B, - only in A:"))
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for section in diff["sections"]:
        if not section["rows"]:
            continue
        table = Table(
            title=inert_line(f"{section['title']} ({len(section['rows'])} differ, {section['same']} same)"),
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            expand=False,
        )
        table.add_column("", no_wrap=True)
        table.add_column("", overflow="fold")
        table.add_column("A", overflow="fold")
        table.add_column("B", overflow="fold")
        for row in section["rows"]:
            table.add_row(
                marks.get(row["change"], "?"),
                Text(inert_line(row["key"])),
                Text("—" if row["a"] is None else inert_line(row["a"])),
                Text("—" if row["b"] is None else inert_line(row["b"])),
            )
        console.print()
        console.print(table)
    text = buf.getvalue()
    return "\n".join(inert(line.rstrip()) for line in text.splitlines()) + "\n"
