"""Only the facts layer reads probe data (issue 14): outside ``facts/`` (and the ``probes/`` that
write it and the ``engine/`` that carries it) no code indexes a probe's or a step's raw dict.
Code reads through :class:`~tvwizard.facts.evidence.Evidence` and the typed step readers of
``facts/steps.py`` instead."""

from __future__ import annotations

import re
from pathlib import Path

import tvwizard

SOURCE = Path(tvwizard.__file__).parent
ALLOWED = ("facts", "probes", "engine")
RAW_READ = re.compile(r"\.step_data\(|\.data\.get\(|\.data\[|\bev\.data\(")


def raw_reads(root: Path) -> list[str]:
    """``path:line: text`` for every raw probe-data read under ``root`` outside the allowed layers."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).parts[0] in ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_READ.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_no_raw_probe_data_read_outside_the_facts_layer():
    assert raw_reads(SOURCE) == []


def test_the_pattern_catches_the_reads_it_replaced(tmp_path):
    """The reads this boundary replaced (diagnosis/ before the typed step readers) are caught;
    the same text inside facts/ is allowed."""
    rules = tmp_path / "diagnosis" / "rules"
    rules.mkdir(parents=True)
    (rules / "old.py").write_text(
        'ok = ev.step_data("import_torch").get("ok")\n'
        'correct = step.data.get("correct")\n'
        'files = step.data["files"]\n'
        'cwd = ev.data("live").get("cwd")\n'
        "fine = ev.import_step('import_torch')\n"
    )
    (tmp_path / "facts").mkdir()
    (tmp_path / "facts" / "evidence.py").write_text('x = self.step_data("extensions").get("files")\n')
    assert [r.split(":")[1] for r in raw_reads(tmp_path)] == ["1", "2", "3", "4"]
