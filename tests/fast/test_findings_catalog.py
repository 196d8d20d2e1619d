"""docs/findings.md names every finding id the rules can produce, and no other.

The ids are read from the rules' source (``Finding(id=...)`` and the ``fid`` a rule picks),
so a new rule without a catalog row, or a row for a rule that is gone, fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _strings(node: ast.AST) -> set[str]:
    """The string constants ``node`` can evaluate to (a constant, or either arm of ``a if c else b``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def rule_ids() -> set[str]:
    ids: set[str] = set()
    for path in (ROOT / "src" / "tvwizard" / "diagnosis").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        picked: dict[str, set[str]] = {}  # name -> the strings assigned to it (e.g. fid)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                picked.setdefault(node.targets[0].id, set()).update(_strings(node.value))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Finding":
                for kw in node.keywords:
                    if kw.arg == "id":
                        found = _strings(kw.value)
                        if not found and isinstance(kw.value, ast.Name):
                            found = picked.get(kw.value.id, set())
                        assert found, f"{path.name}:{node.lineno}: cannot tell the finding id {ast.unparse(kw.value)}"
                        ids |= found
    return ids


def catalog_ids() -> list[str]:
    text = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    return re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.MULTILINE)


def test_the_catalog_lists_every_finding_once() -> None:
    listed = catalog_ids()
    assert len(listed) == len(set(listed)), "a finding is listed twice"
    code = rule_ids()
    assert {"driver-too-old", "gpu-arch-unsupported", "import-timeout", "op-timeout"} <= code  # the reader works
    assert sorted(code - set(listed)) == [], "findings the rules produce but docs/findings.md does not list"
    assert sorted(set(listed) - code) == [], "rows in docs/findings.md for findings no rule produces"
