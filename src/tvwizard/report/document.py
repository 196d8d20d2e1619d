"""What a human report says, as format-free blocks; Markdown and HTML render the same blocks.

The order is the issue's: verdict and root causes, fixes, then the facts (checklist, torch and
torchvision, Python, GPU, env vars, system, packages), probes and steps, the logs (folded),
and what was redacted.  Long text lives in :class:`Log` blocks, which each renderer trims
to its own budget (Markdown: GitHub's comment limit; HTML: a per-log cap), always saying so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tvwizard.report.facts import PACKAGES, VERDICTS, first_line, iter_logs, summarize_facts
from tvwizard.report.redact import summary_lines
from tvwizard.units import duration

# Inline text: a list of (style, text) with style "text" | "code" | "bold".
Inline = list[tuple[str, str]]

ICONS = {
    "ok": "✅",
    "works": "✅",
    "error": "❌",
    "failed": "❌",
    "broken": "❌",
    "crashed": "💥",
    "timeout": "⏱️",
    "skipped": "⏭️",
    "warning": "⚠️",
    "degraded": "⚠️",
    "info": "ℹ️",
    "unknown": "❔",
}


def icon(status: Any) -> str:
    return ICONS.get(str(status), "❔")


def plain(text: Any) -> tuple[str, str]:
    """An inline run of ordinary text."""
    return ("text", str(text))


def code(text: Any) -> tuple[str, str]:
    """An inline run shown as code (a command, a path, a version)."""
    return ("code", str(text))


def bold(text: Any) -> tuple[str, str]:
    """An inline run in bold."""
    return ("bold", str(text))


@dataclass
class Heading:
    level: int
    inline: Inline
    anchor: str = ""


@dataclass
class Para:
    inline: Inline


@dataclass
class Note:
    inline: Inline
    kind: str = "note"  # note | warning


@dataclass
class Bullets:
    items: list[Inline]


@dataclass
class Table:
    header: list[Inline]
    rows: list[list[Inline]]


@dataclass
class Code:
    text: str
    lang: str = "text"


@dataclass
class Log:
    """Long text that a renderer may trim (head and tail kept, a note in the middle)."""

    label: Inline
    text: str
    dropped_note: str = ""  # the runner already dropped part of it


@dataclass
class Details:
    summary: Inline
    blocks: list[Any] = field(default_factory=list)


@dataclass
class Footer:
    inline: Inline


Block = Heading | Para | Note | Bullets | Table | Code | Log | Details | Footer


def walk(blocks: list[Any]) -> Iterator[Any]:
    for block in blocks:
        yield block
        if isinstance(block, Details):
            yield from walk(block.blocks)


def _v(value: Any) -> Inline:
    return [plain("—")] if value in (None, "", []) else [plain(value)]


def _cv(value: Any) -> Inline:
    return [plain("—")] if value in (None, "", []) else [code(value)]


def verdict_line(facts: Mapping[str, Any]) -> tuple[str, str]:
    verdict = facts["meta"]["verdict"]
    return VERDICTS.get(verdict, VERDICTS["unknown"])


def _finding_blocks(finding: Mapping[str, Any], symptoms: list[Mapping[str, Any]]) -> list[Any]:
    sev = str(finding.get("severity", "info"))
    out: list[Any] = [
        Heading(3, [plain(f"{icon(sev)} {finding.get('title') or finding['id']} "), code(finding["id"])]),
    ]
    if finding.get("explanation"):
        for para in str(finding["explanation"]).split("\n\n"):
            if para.strip():
                out.append(Para([plain(para.strip())]))
    evidence = [e for e in finding.get("evidence") or [] if isinstance(e, dict)]
    if evidence:
        out.append(Para([bold("Evidence")]))
        items = []
        for e in evidence:
            item: Inline = [code(e.get("probe", "?")), plain(": "), plain(e.get("fact", ""))]
            if e.get("detail"):
                item += [plain(" — "), code(first_line(e["detail"], 300))]
            items.append(item)
        out.append(Bullets(items))
    if symptoms:
        out.append(Para([bold("What it causes")]))
        out.append(
            Bullets(
                [
                    [plain(f"{icon(s.get('severity'))} {s.get('title') or s['id']} "), code(s["id"])]
                    + ([plain(": " + first_line(s["explanation"], 300))] if s.get("explanation") else [])
                    for s in symptoms
                ]
            )
        )
    return out


def _fix_blocks(n: int, fix: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(3, [plain(f"{n}. {fix.get('title') or fix.get('id')} "), code(fix.get("id", ""))])]
    line: Inline = [plain("For "), code(fix["finding"])]
    for other in fix.get("also_for") or []:
        line += [plain(", "), code(other)]
    if fix.get("kind"):
        line += [plain(" · kind: "), plain(fix["kind"])]
    out.append(Para(line))
    if fix.get("why"):
        out.append(Para([plain(fix["why"])]))
    commands = [str(x) for x in fix.get("commands") or []]
    env = fix.get("env") or {}
    if env:
        commands += [f"unset {k}" if v is None else f"export {k}={v}" for k, v in env.items()]
    if commands:
        out.append(Code("\n".join(commands), "sh"))
    items = []
    if fix.get("changes"):
        items.append([bold("Changes: "), plain(fix["changes"])])
    if fix.get("undo"):
        items.append([bold("Undo: "), plain(fix["undo"])])
    if fix.get("download"):
        items.append([bold("Download: "), plain(fix["download"])])
    if fix.get("restart"):
        items.append([bold("Restart"), plain(" the interpreter (or notebook kernel) afterwards.")])
    if items:
        out.append(Bullets(items))
    return out


def _facts_blocks(facts: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(2, [plain("Environment")], "environment")]
    pk = facts["packages"]
    out.append(Heading(3, [plain("torch and torchvision")]))
    rows = [
        ("Version", "version", False),
        ("Variant", "variant", False),
        ("CUDA (build)", "cuda", False),
        ("Imported from", "origin", True),
        ("Installed in", "location", True),
    ]
    table = Table([[plain("")], *[[code(p)] for p in PACKAGES]], [])
    for label, key, as_code in rows:
        table.rows.append([[plain(label)], *[(_cv if as_code else _v)(pk[p].get(key)) for p in PACKAGES]])
    table.rows.append(
        [
            [plain("Installs found")],
            *[
                [
                    plain(
                        f"{pk[p]['installs']}"
                        + (" ⚠️ " + ", ".join(pk[p]["all_locations"]) if pk[p]["installs"] > 1 else "")
                    )
                ]
                for p in PACKAGES
            ],
        ]
    )
    out.append(table)

    py = facts["python"]
    out.append(Heading(3, [plain("Python")]))
    version = py["version"] or "—"
    if py["implementation"]:
        version += f" ({py['implementation']})"
    prow = [
        ("Version", [plain(version)]),
        ("Executable", _cv(py["executable"])),
        ("Prefix", _cv(py["prefix"])),
        ("Environment", _v(py["env_kind"])),
        ("Chosen by", _v(py["how_chosen"])),
        ("Platform", _v(py["platform"])),
        ("Working directory", _cv(py["cwd"])),
    ]
    out.append(Table([[plain("")], [plain("")]], [[[plain(k)], v] for k, v in prow if v != [plain("—")]]))

    gpu = facts["gpu"]
    out.append(Heading(3, [plain("GPU and driver")]))
    if gpu["driver"] or gpu["cuda"] or gpu["gpus"]:
        line = [
            plain("Driver "),
            code(gpu["driver"] or "?"),
            plain(", driver supports CUDA up to "),
            code(gpu["cuda"] or "?"),
        ]
        if gpu["source"]:
            line.append(plain(f" (read with {gpu['source']})"))
        if gpu["kernel_module"] and gpu["driver"] and gpu["kernel_module"] != gpu["driver"]:
            line += [plain("; the loaded kernel module is "), code(gpu["kernel_module"])]
        out.append(Para(line))
    else:
        out.append(Para([plain("No NVIDIA driver or GPU seen." if not gpu["error"] else f"GPU: {gpu['error']}")]))
    if gpu["gpus"]:
        hidden = any(g["visible"] is False for g in gpu["gpus"])
        mig = any(g["mig"] == "enabled" for g in gpu["gpus"])  # a column only when it matters
        head = [[plain("#")], [plain("GPU")], [plain("Compute capability")], [plain("Memory")]]
        head += [[plain("MIG")]] if mig else []
        head += [[plain("Visible to CUDA")]] if hidden else []
        rows = []
        for g in gpu["gpus"]:
            row = [[plain(g["index"])], _v(g["name"]), _v(g["capability"]), _v(g["memory"])]
            row += [_v(g["mig"])] if mig else []
            row += [[plain({True: "yes", False: "no (CUDA_VISIBLE_DEVICES)"}.get(g["visible"], "?"))]] if hidden else []
            rows.append(row)
        out.append(Table(head, rows))
    if gpu["visibility"]:
        out.append(Para([plain(gpu["visibility"] + ".")]))
    troubled = {node: state for node, state in gpu["nodes"].items() if state != "ok"}
    if gpu["gpus"] and troubled:
        out.append(Para([plain("Device nodes: " + ", ".join(f"{n} {s}" for n, s in troubled.items()))]))

    out.append(Heading(3, [plain("Environment variables")]))
    if facts["env"]:
        out.append(
            Table(
                [[plain("Variable")], [plain("Value")]],
                [[[code(k)], [plain("(unset)")] if v is None else _cv(v or '""')] for k, v in facts["env"].items()],
            )
        )
    else:
        out.append(Para([plain("None of the allowlisted variables is set (or the envvars probe did not run).")]))

    if facts["system"]:
        out.append(Heading(3, [plain("System")]))
        out.append(Table([[plain("")], [plain("")]], [[[plain(k)], _v(v)] for k, v in facts["system"].items()]))

    if facts["relevant_distributions"]:
        out.append(Heading(3, [plain("Relevant packages")]))
        out.append(
            Table(
                [[plain("Package")], [plain("Version")], [plain("Location")]],
                [[[plain(d["name"])], _v(d["version"]), _cv(d["location"])] for d in facts["relevant_distributions"]],
            )
        )
    if facts["libraries"]:
        out.append(Heading(3, [plain("Shared libraries torch and torchvision need")]))
        out.append(
            Table(
                [[plain("Library")], [plain("Found at")], [plain("Found via")]],
                [[[plain(lib["name"])], _cv(lib["path"]), _v(lib.get("via"))] for lib in facts["libraries"]],
            )
        )
    return out


def _probe_blocks(facts: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(2, [plain("Probes")], "probes")]
    if not facts["probes"]:
        return [*out, Para([plain("No probe ran.")])]
    rows = []
    for p in facts["probes"]:
        note = p["error"] or ""
        if p["signal"]:
            note = f"{p['signal']}; {note}" if note else p["signal"]
        elif p["returncode"] not in (None, 0) and not note:
            note = f"exit code {p['returncode']}"
        rows.append(
            [
                [plain(icon(p["status"]) + " "), code(p["name"])],
                [plain(p["status"])],
                [plain(duration(p["duration"]))],
                _v(note),
            ]
        )
    out.append(Table([[plain("Probe")], [plain("Status")], [plain("Duration")], [plain("Notes")]], rows))
    for p in facts["probes"]:  # step tables: the live probe, and any probe where a step says something
        if p["steps"] and (p["name"] == "live" or any(s["status"] != "ok" or s["summary"] for s in p["steps"])):
            out.append(Heading(3, [plain("Steps of "), code(p["name"])]))
            out.append(
                Table(
                    [[plain("Step")], [plain("Status")], [plain("Duration")], [plain("Result")]],
                    [
                        [
                            [plain(icon(s["status"]) + " "), code(s["name"])],
                            [plain(s["status"])],
                            [plain(duration(s["duration"]))],
                            _v(s["summary"]),
                        ]
                        for s in p["steps"]
                    ],
                )
            )
    return out


def _log_blocks(report: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = []
    for log in iter_logs(report):
        parts: list[Any] = []
        if log["error"]:
            parts.append(Para([bold("Error: "), plain(first_line(log["error"], 500))]))
        if log["fault"].strip():
            parts.append(Log([plain("Fault traceback (faulthandler)")], log["fault"].rstrip()))
        for step, tb in log["tracebacks"]:
            parts.append(Log([plain("Traceback in step "), code(step)], tb.rstrip()))
        if log["log"].strip():
            dropped = ""
            if log["log_dropped"]:
                kept = log["log_dropped"]
                dropped = f"the probe runner did not keep {kept:,} bytes of this log (floods are bounded)"
            parts.append(Log([plain(f"Log ({log['log_lines']:,} lines)")], log["log"].rstrip(), dropped))
        if not any(isinstance(x, Log) for x in parts):
            continue
        bits = [f"{icon(log['status'])} {log['status']}"]
        if log["fault"].strip() or log["tracebacks"]:
            bits.append("traceback")
        if log["log_lines"]:
            bits.append(f"{log['log_lines']:,} log lines")
        out.append(Details([plain("Probe "), code(log["probe"]), plain(" · " + " · ".join(bits))], parts))
    if out:
        out.insert(0, Heading(2, [plain("Logs")], "logs"))
    return out


def _user_blocks(data: Mapping[str, Any]) -> list[Any]:
    """What the user saw: their import, command or pasted traceback, and its first traceback
    (``data``: the facts' ``user`` section)."""
    if not data:
        return []
    request = " ".join(data["request"])
    said: Inline
    if data["source"] == "import":
        said = [plain("Imported in the target: "), code("import " + ", ".join(data["request"]))]
    elif data["source"] == "command":
        said = [plain("Ran in the target, at the user's request: "), code(request)]
        if data.get("returncode") is not None:
            said.append(plain(f" (exit code {data['returncode']})"))
    else:
        said = [plain("The user pasted a traceback (redacted as it was read).")]
    blocks: list[Any] = [Heading(2, [plain("What failed for the user")], "user"), Para(said)]
    failure = data["failure"]
    if failure is not None:
        first = first_line(f"{failure.get('type') or 'Error'}: {failure.get('message') or ''}", 500)
        blocks.append(Para([bold("First error: "), code(first)]))
        if str(failure.get("traceback") or "").strip():
            blocks.append(Log([plain("First traceback")], str(failure["traceback"]).rstrip()))
    elif data["status"] == "ok":
        blocks.append(Para([plain("It worked.")]))
    elif data["status"] is not None:
        blocks.append(Para([bold(f"{data['status']}: "), plain(first_line(data["error"], 500))]))
    return blocks


def _changes_blocks(changes: list[Mapping[str, Any]]) -> list[Any]:
    """ "What was changed": each fix tvwizard ran before this diagnosis (command, time,
    result, the verdict before and after), so a report never hides that the env was touched."""
    if not changes:
        return []
    out: list[Any] = [Heading(2, [plain("What was changed")], "what-was-changed")]
    out.append(Para([plain("tvwizard ran these fixes (after a yes) before the diagnosis below:")]))
    rows = []
    for ch in changes:
        commands: Inline = []
        for i, cmd in enumerate(ch.get("commands") or []):
            commands += ([plain("; ")] if i else []) + [code(cmd)]
        after = ch.get("verdict_after") or "not checked"
        rows.append(
            [
                [plain(ch.get("time", ""))],
                [plain(f"{ch.get('title', '')} ("), code(ch.get("finding", "")), plain(")")],
                commands or [plain("")],
                [plain(ch.get("result", ""))],
                [plain(f"{ch.get('verdict_before', '') or '?'} → {after}")],
            ]
        )
    out.append(
        Table(
            [[plain("Time")], [plain("Fix")], [plain("Command")], [plain("Result")], [plain("Verdict before → after")]],
            rows,
        )
    )
    return out


def build_document(report: Mapping[str, Any]) -> list[Any]:
    """The report as blocks, in reading order."""
    facts = summarize_facts(report)
    meta = facts["meta"]
    emoji, words = verdict_line(facts)
    pk = facts["packages"]
    blocks: list[Any] = [Heading(1, [plain(f"{emoji} "), *_md_words(words)])]
    line: Inline = [bold(f"tvwizard {meta['tvwizard_version'] or '?'}"), plain(" report")]
    if meta["created"]:
        line.append(plain(f" · {meta['created']}"))
    if facts["python"]["version"]:
        line.append(plain(f" · Python {facts['python']['version']}"))
        if facts["python"]["env_kind"]:
            line.append(plain(f" ({facts['python']['env_kind']})"))
    for p in PACKAGES:
        if pk[p]["version"]:
            line += [plain(" · "), code(f"{p} {pk[p]['version']}")]
    if meta["exit_code"] is not None:
        line.append(plain(f" · exit code {meta['exit_code']}"))
    if meta["duration"] is not None:
        line.append(plain(f" · took {duration(meta['duration'])}"))
    blocks.append(Para(line))
    red = facts["redaction"]
    if red and not red.get("enabled"):
        blocks.append(Note([plain(summary_lines(red)[0])], "warning"))

    blocks += _user_blocks(facts["user"])
    blocks += _changes_blocks(report.get("changes") or [])

    fd = facts["findings"]
    roots = fd["roots"]
    problems = [f for f in roots if f.get("severity") in ("error", "warning")]
    notes = [f for f in roots if f not in problems]
    if problems:
        blocks.append(Heading(2, [plain("Root cause" if len(problems) == 1 else "Root causes")], "root-causes"))
        for f in problems:
            blocks += _finding_blocks(f, fd["symptoms"].get(f["id"], []))
    elif meta["verdict"] != "works":
        blocks.append(Heading(2, [plain("Root cause")], "root-causes"))
        blocks.append(Para([plain("tvwizard found no root cause. The probes and logs below are what it saw.")]))
    if fd["fixes"]:
        blocks.append(Heading(2, [plain("Fixes")], "fixes"))
        blocks.append(Para([plain("In order; the first one is the one tvwizard recommends.")]))
        for n, fix in enumerate(fd["fixes"], 1):
            blocks += _fix_blocks(n, fix)
    if notes:
        blocks.append(Heading(2, [plain("Notes")], "notes"))
        for f in notes:
            blocks += _finding_blocks(f, fd["symptoms"].get(f["id"], []))

    if facts["checks"]:
        blocks.append(Heading(2, [plain("Checklist")], "checklist"))
        rows = []
        for chk in facts["checks"]:
            rows.append(
                [
                    [plain(icon(chk.get("status")))],
                    [plain(chk.get("title") or chk.get("id", ""))],
                    _v(chk.get("summary")),
                    [plain(duration(chk.get("duration")))],
                ]
            )
        blocks.append(Table([[plain("")], [plain("Check")], [plain("Result")], [plain("Time")]], rows))
    blocks += _facts_blocks(facts)
    blocks += _probe_blocks(facts)
    blocks += _log_blocks(report)
    blocks.append(Heading(2, [plain("Redaction")], "redaction"))
    blocks.append(Bullets([[plain(line)] for line in summary_lines(red)]))
    blocks.append(
        Footer(
            [
                plain(f"Written by tvwizard {meta['tvwizard_version'] or '?'} · "),
                plain(f"schema {meta['schema'] or '?'} · "),
                plain("the JSON report ("),
                code("tvwizard report --format json"),
                plain(") has every field and the full logs."),
            ]
        )
    )
    return blocks


def _md_words(words: str) -> Inline:
    """``a `code` b`` → inline segments (for the fixed verdict phrases)."""
    out: Inline = []
    for i, part in enumerate(words.split("`")):
        if part:
            out.append(code(part) if i % 2 else plain(part))
    return out
