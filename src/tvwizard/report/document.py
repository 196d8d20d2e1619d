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


def t(text: Any) -> tuple[str, str]:
    return ("text", str(text))


def c(text: Any) -> tuple[str, str]:
    return ("code", str(text))


def b(text: Any) -> tuple[str, str]:
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
    return [t("—")] if value in (None, "", []) else [t(value)]


def _cv(value: Any) -> Inline:
    return [t("—")] if value in (None, "", []) else [c(value)]


def verdict_line(facts: Mapping[str, Any]) -> tuple[str, str]:
    verdict = facts["meta"]["verdict"]
    return VERDICTS.get(verdict, VERDICTS["unknown"])


def _finding_blocks(finding: Mapping[str, Any], symptoms: list[Mapping[str, Any]]) -> list[Any]:
    sev = str(finding.get("severity", "info"))
    out: list[Any] = [
        Heading(3, [t(f"{icon(sev)} {finding.get('title') or finding['id']} "), c(finding["id"])]),
    ]
    if finding.get("explanation"):
        for para in str(finding["explanation"]).split("\n\n"):
            if para.strip():
                out.append(Para([t(para.strip())]))
    evidence = [e for e in finding.get("evidence") or [] if isinstance(e, dict)]
    if evidence:
        out.append(Para([b("Evidence")]))
        items = []
        for e in evidence:
            item: Inline = [c(e.get("probe", "?")), t(": "), t(e.get("fact", ""))]
            if e.get("detail"):
                item += [t(" — "), c(first_line(e["detail"], 300))]
            items.append(item)
        out.append(Bullets(items))
    if symptoms:
        out.append(Para([b("What it causes")]))
        out.append(
            Bullets(
                [
                    [t(f"{icon(s.get('severity'))} {s.get('title') or s['id']} "), c(s["id"])]
                    + ([t(": " + first_line(s["explanation"], 300))] if s.get("explanation") else [])
                    for s in symptoms
                ]
            )
        )
    return out


def _fix_blocks(n: int, fix: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(3, [t(f"{n}. {fix.get('title') or fix.get('id')} "), c(fix.get("id", ""))])]
    line: Inline = [t("For "), c(fix["finding"])]
    for other in fix.get("also_for") or []:
        line += [t(", "), c(other)]
    if fix.get("kind"):
        line += [t(" · kind: "), t(fix["kind"])]
    out.append(Para(line))
    if fix.get("why"):
        out.append(Para([t(fix["why"])]))
    commands = [str(x) for x in fix.get("commands") or []]
    env = fix.get("env") or {}
    if env:
        commands += [f"unset {k}" if v is None else f"export {k}={v}" for k, v in env.items()]
    if commands:
        out.append(Code("\n".join(commands), "sh"))
    items = []
    if fix.get("changes"):
        items.append([b("Changes: "), t(fix["changes"])])
    if fix.get("undo"):
        items.append([b("Undo: "), t(fix["undo"])])
    if fix.get("download"):
        items.append([b("Download: "), t(fix["download"])])
    if fix.get("restart"):
        items.append([b("Restart"), t(" the interpreter (or notebook kernel) afterwards.")])
    if items:
        out.append(Bullets(items))
    return out


def _facts_blocks(facts: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(2, [t("Environment")], "environment")]
    pk = facts["packages"]
    out.append(Heading(3, [t("torch and torchvision")]))
    rows = [
        ("Version", "version", False),
        ("Variant", "variant", False),
        ("CUDA (build)", "cuda", False),
        ("Imported from", "origin", True),
        ("Installed in", "location", True),
    ]
    table = Table([[t("")], *[[c(p)] for p in PACKAGES]], [])
    for label, key, code in rows:
        table.rows.append([[t(label)], *[(_cv if code else _v)(pk[p].get(key)) for p in PACKAGES]])
    table.rows.append(
        [
            [t("Installs found")],
            *[
                [
                    t(
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
    out.append(Heading(3, [t("Python")]))
    version = py["version"] or "—"
    if py["implementation"]:
        version += f" ({py['implementation']})"
    prow = [
        ("Version", [t(version)]),
        ("Executable", _cv(py["executable"])),
        ("Prefix", _cv(py["prefix"])),
        ("Environment", _v(py["env_kind"])),
        ("Chosen by", _v(py["how_chosen"])),
        ("Platform", _v(py["platform"])),
        ("Working directory", _cv(py["cwd"])),
    ]
    out.append(Table([[t("")], [t("")]], [[[t(k)], v] for k, v in prow if v != [t("—")]]))

    gpu = facts["gpu"]
    out.append(Heading(3, [t("GPU and driver")]))
    if gpu["driver"] or gpu["cuda"] or gpu["gpus"]:
        line = [t("Driver "), c(gpu["driver"] or "?"), t(", driver supports CUDA up to "), c(gpu["cuda"] or "?")]
        if gpu["source"]:
            line.append(t(f" (read with {gpu['source']})"))
        if gpu["kernel_module"] and gpu["driver"] and gpu["kernel_module"] != gpu["driver"]:
            line += [t("; the loaded kernel module is "), c(gpu["kernel_module"])]
        out.append(Para(line))
    else:
        out.append(Para([t("No NVIDIA driver or GPU seen." if not gpu["error"] else f"GPU: {gpu['error']}")]))
    if gpu["gpus"]:
        hidden = any(g["visible"] is False for g in gpu["gpus"])
        mig = any(g["mig"] == "enabled" for g in gpu["gpus"])  # a column only when it matters
        head = [[t("#")], [t("GPU")], [t("Compute capability")], [t("Memory")]]
        head += [[t("MIG")]] if mig else []
        head += [[t("Visible to CUDA")]] if hidden else []
        rows = []
        for g in gpu["gpus"]:
            row = [[t(g["index"])], _v(g["name"]), _v(g["capability"]), _v(g["memory"])]
            row += [_v(g["mig"])] if mig else []
            row += [[t({True: "yes", False: "no (CUDA_VISIBLE_DEVICES)"}.get(g["visible"], "?"))]] if hidden else []
            rows.append(row)
        out.append(Table(head, rows))
    if gpu["visibility"]:
        out.append(Para([t(gpu["visibility"] + ".")]))
    troubled = {node: state for node, state in gpu["nodes"].items() if state != "ok"}
    if gpu["gpus"] and troubled:
        out.append(Para([t("Device nodes: " + ", ".join(f"{n} {s}" for n, s in troubled.items()))]))

    out.append(Heading(3, [t("Environment variables")]))
    if facts["env"]:
        out.append(
            Table(
                [[t("Variable")], [t("Value")]],
                [[[c(k)], [t("(unset)")] if v is None else _cv(v or '""')] for k, v in facts["env"].items()],
            )
        )
    else:
        out.append(Para([t("None of the allowlisted variables is set (or the envvars probe did not run).")]))

    if facts["system"]:
        out.append(Heading(3, [t("System")]))
        out.append(Table([[t("")], [t("")]], [[[t(k)], _v(v)] for k, v in facts["system"].items()]))

    if facts["relevant_distributions"]:
        out.append(Heading(3, [t("Relevant packages")]))
        out.append(
            Table(
                [[t("Package")], [t("Version")], [t("Location")]],
                [[[t(d["name"])], _v(d["version"]), _cv(d["location"])] for d in facts["relevant_distributions"]],
            )
        )
    if facts["libraries"]:
        out.append(Heading(3, [t("Shared libraries torch and torchvision need")]))
        out.append(
            Table(
                [[t("Library")], [t("Found at")], [t("Found via")]],
                [[[t(lib["name"])], _cv(lib["path"]), _v(lib.get("via"))] for lib in facts["libraries"]],
            )
        )
    return out


def _probe_blocks(facts: Mapping[str, Any]) -> list[Any]:
    out: list[Any] = [Heading(2, [t("Probes")], "probes")]
    if not facts["probes"]:
        return [*out, Para([t("No probe ran.")])]
    rows = []
    for p in facts["probes"]:
        note = p["error"] or ""
        if p["signal"]:
            note = f"{p['signal']}; {note}" if note else p["signal"]
        elif p["returncode"] not in (None, 0) and not note:
            note = f"exit code {p['returncode']}"
        rows.append(
            [
                [t(icon(p["status"]) + " "), c(p["name"])],
                [t(p["status"])],
                [t(duration(p["duration"]))],
                _v(note),
            ]
        )
    out.append(Table([[t("Probe")], [t("Status")], [t("Duration")], [t("Notes")]], rows))
    for p in facts["probes"]:  # step tables: the live probe, and any probe where a step says something
        if p["steps"] and (p["name"] == "live" or any(s["status"] != "ok" or s["summary"] for s in p["steps"])):
            out.append(Heading(3, [t("Steps of "), c(p["name"])]))
            out.append(
                Table(
                    [[t("Step")], [t("Status")], [t("Duration")], [t("Result")]],
                    [
                        [
                            [t(icon(s["status"]) + " "), c(s["name"])],
                            [t(s["status"])],
                            [t(duration(s["duration"]))],
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
            parts.append(Para([b("Error: "), t(first_line(log["error"], 500))]))
        if log["fault"].strip():
            parts.append(Log([t("Fault traceback (faulthandler)")], log["fault"].rstrip()))
        for step, tb in log["tracebacks"]:
            parts.append(Log([t("Traceback in step "), c(step)], tb.rstrip()))
        if log["log"].strip():
            dropped = ""
            if log["log_dropped"]:
                kept = log["log_dropped"]
                dropped = f"the probe runner did not keep {kept:,} bytes of this log (floods are bounded)"
            parts.append(Log([t(f"Log ({log['log_lines']:,} lines)")], log["log"].rstrip(), dropped))
        if not any(isinstance(x, Log) for x in parts):
            continue
        bits = [f"{icon(log['status'])} {log['status']}"]
        if log["fault"].strip() or log["tracebacks"]:
            bits.append("traceback")
        if log["log_lines"]:
            bits.append(f"{log['log_lines']:,} log lines")
        out.append(Details([t("Probe "), c(log["probe"]), t(" · " + " · ".join(bits))], parts))
    if out:
        out.insert(0, Heading(2, [t("Logs")], "logs"))
    return out


def _user_blocks(data: Mapping[str, Any]) -> list[Any]:
    """What the user saw: their import, command or pasted traceback, and its first traceback
    (``data``: the facts' ``user`` section)."""
    if not data:
        return []
    request = " ".join(data["request"])
    said: Inline
    if data["source"] == "import":
        said = [t("Imported in the target: "), c("import " + ", ".join(data["request"]))]
    elif data["source"] == "command":
        said = [t("Ran in the target, at the user's request: "), c(request)]
        if data.get("returncode") is not None:
            said.append(t(f" (exit code {data['returncode']})"))
    else:
        said = [t("The user pasted a traceback (redacted as it was read).")]
    blocks: list[Any] = [Heading(2, [t("What failed for the user")], "user"), Para(said)]
    failure = data["failure"]
    if failure is not None:
        first = first_line(f"{failure.get('type') or 'Error'}: {failure.get('message') or ''}", 500)
        blocks.append(Para([b("First error: "), c(first)]))
        if str(failure.get("traceback") or "").strip():
            blocks.append(Log([t("First traceback")], str(failure["traceback"]).rstrip()))
    elif data["status"] == "ok":
        blocks.append(Para([t("It worked.")]))
    elif data["status"] is not None:
        blocks.append(Para([b(f"{data['status']}: "), t(first_line(data["error"], 500))]))
    return blocks


def _changes_blocks(changes: list[Mapping[str, Any]]) -> list[Any]:
    """ "What was changed": each fix tvwizard ran before this diagnosis (command, time,
    result, the verdict before and after), so a report never hides that the env was touched."""
    if not changes:
        return []
    out: list[Any] = [Heading(2, [t("What was changed")], "what-was-changed")]
    out.append(Para([t("tvwizard ran these fixes (after a yes) before the diagnosis below:")]))
    rows = []
    for ch in changes:
        commands: Inline = []
        for i, cmd in enumerate(ch.get("commands") or []):
            commands += ([t("; ")] if i else []) + [c(cmd)]
        after = ch.get("verdict_after") or "not checked"
        rows.append(
            [
                [t(ch.get("time", ""))],
                [t(f"{ch.get('title', '')} ("), c(ch.get("finding", "")), t(")")],
                commands or [t("")],
                [t(ch.get("result", ""))],
                [t(f"{ch.get('verdict_before', '') or '?'} → {after}")],
            ]
        )
    out.append(Table([[t("Time")], [t("Fix")], [t("Command")], [t("Result")], [t("Verdict before → after")]], rows))
    return out


def build_document(report: Mapping[str, Any]) -> list[Any]:
    """The report as blocks, in reading order."""
    facts = summarize_facts(report)
    meta = facts["meta"]
    emoji, words = verdict_line(facts)
    pk = facts["packages"]
    blocks: list[Any] = [Heading(1, [t(f"{emoji} "), *_md_words(words)])]
    line: Inline = [b(f"tvwizard {meta['tvwizard_version'] or '?'}"), t(" report")]
    if meta["created"]:
        line.append(t(f" · {meta['created']}"))
    if facts["python"]["version"]:
        line.append(t(f" · Python {facts['python']['version']}"))
        if facts["python"]["env_kind"]:
            line.append(t(f" ({facts['python']['env_kind']})"))
    for p in PACKAGES:
        if pk[p]["version"]:
            line += [t(" · "), c(f"{p} {pk[p]['version']}")]
    if meta["exit_code"] is not None:
        line.append(t(f" · exit code {meta['exit_code']}"))
    if meta["duration"] is not None:
        line.append(t(f" · took {duration(meta['duration'])}"))
    blocks.append(Para(line))
    red = facts["redaction"]
    if red and not red.get("enabled"):
        blocks.append(Note([t(summary_lines(red)[0])], "warning"))

    blocks += _user_blocks(facts["user"])
    blocks += _changes_blocks(report.get("changes") or [])

    fd = facts["findings"]
    roots = fd["roots"]
    problems = [f for f in roots if f.get("severity") in ("error", "warning")]
    notes = [f for f in roots if f not in problems]
    if problems:
        blocks.append(Heading(2, [t("Root cause" if len(problems) == 1 else "Root causes")], "root-causes"))
        for f in problems:
            blocks += _finding_blocks(f, fd["symptoms"].get(f["id"], []))
    elif meta["verdict"] != "works":
        blocks.append(Heading(2, [t("Root cause")], "root-causes"))
        blocks.append(Para([t("tvwizard found no root cause. The probes and logs below are what it saw.")]))
    if fd["fixes"]:
        blocks.append(Heading(2, [t("Fixes")], "fixes"))
        blocks.append(Para([t("In order; the first one is the one tvwizard recommends.")]))
        for n, fix in enumerate(fd["fixes"], 1):
            blocks += _fix_blocks(n, fix)
    if notes:
        blocks.append(Heading(2, [t("Notes")], "notes"))
        for f in notes:
            blocks += _finding_blocks(f, fd["symptoms"].get(f["id"], []))

    if facts["checks"]:
        blocks.append(Heading(2, [t("Checklist")], "checklist"))
        rows = []
        for chk in facts["checks"]:
            rows.append(
                [
                    [t(icon(chk.get("status")))],
                    [t(chk.get("title") or chk.get("id", ""))],
                    _v(chk.get("summary")),
                    [t(duration(chk.get("duration")))],
                ]
            )
        blocks.append(Table([[t("")], [t("Check")], [t("Result")], [t("Time")]], rows))
    blocks += _facts_blocks(facts)
    blocks += _probe_blocks(facts)
    blocks += _log_blocks(report)
    blocks.append(Heading(2, [t("Redaction")], "redaction"))
    blocks.append(Bullets([[t(line)] for line in summary_lines(red)]))
    blocks.append(
        Footer(
            [
                t(f"Written by tvwizard {meta['tvwizard_version'] or '?'} · "),
                t(f"schema {meta['schema'] or '?'} · "),
                t("the JSON report ("),
                c("tvwizard report --format json"),
                t(") has every field and the full logs."),
            ]
        )
    )
    return blocks


def _md_words(words: str) -> Inline:
    """``a `code` b`` → inline segments (for the fixed verdict phrases)."""
    out: Inline = []
    for i, part in enumerate(words.split("`")):
        if part:
            out.append(c(part) if i % 2 else t(part))
    return out
