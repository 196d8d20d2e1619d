"""docs/findings.md names every finding id the rules declare, and no other; rules declare what they emit.

The declarations (``@rule(needs=..., emits=..., priority=...)``) are the catalog in code: the
ids are held to docs/findings.md here, each rule module's ``Finding(id=...)`` literals are held
to its rules' declarations (read from the source), and ``diagnose`` reports at run time a rule
that emits an id it did not declare.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tvwizard.diagnosis import rules
from tvwizard.diagnosis.engine import diagnose
from tvwizard.facts.evidence import Evidence
from tvwizard.model import Finding, Severity, Target

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "src" / "tvwizard" / "diagnosis" / "rules"


def _strings(node: ast.AST) -> set[str]:
    """The string constants ``node`` can evaluate to (a constant, or either arm of ``a if c else b``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    return set()


def source_ids(path: Path) -> set[str]:
    """The finding ids a module's source builds (``Finding(id=...)`` and the ``fid`` it picks)."""
    ids: set[str] = set()
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


def test_the_catalog_lists_every_declared_finding_once() -> None:
    listed = catalog_ids()
    assert len(listed) == len(set(listed)), "a finding is listed twice"
    declared = rules.declared_ids()
    assert {"driver-too-old", "gpu-arch-unsupported", "import-timeout", "op-timeout"} <= declared
    assert sorted(declared - set(listed)) == [], "findings the rules declare but docs/findings.md does not list"
    assert sorted(set(listed) - declared) == [], "rows in docs/findings.md for findings no rule declares"


@pytest.mark.parametrize("module", rules.MODULES)
def test_each_rule_module_builds_only_ids_its_rules_declare(module: str) -> None:
    declared = {fid for r in rules.RULES if r.module == module for fid in r.emits}
    built = source_ids(RULES_DIR / f"{module}.py")
    assert built, f"the reader found no Finding in {module}.py"
    assert sorted(built - declared) == [], f"{module}.py builds findings no rule there declares"


def test_every_rule_module_is_loaded_and_rules_run_in_module_order() -> None:
    assert sorted(p.stem for p in RULES_DIR.glob("*.py") if p.stem != "__init__") == sorted(rules.MODULES)
    keys = [(rules.MODULES.index(r.module), r.line) for r in rules.RULES]
    assert keys == sorted(keys)


def test_a_rule_that_emits_an_undeclared_id_is_reported(monkeypatch) -> None:
    def sneaky(_ev: Evidence) -> Finding:
        return Finding(id="made-up", severity=Severity.ERROR, title="made up")

    monkeypatch.setattr(rules, "RULES", [rules.Rule("sneaky", sneaky, (), emits=("version-mismatch",))])
    found = diagnose(Evidence(target=Target(python="/x/python")))
    assert [f.id for f in found] == ["made-up", "internal-error"]
    assert found[1].title == "tvwizard rule sneaky emitted finding ids it does not declare: made-up"


def test_a_rule_naming_an_unknown_probe_or_an_undeclared_rank_fails_at_registration() -> None:
    def fn(_ev: Evidence) -> None:
        return None

    with pytest.raises(ValueError, match="needs unknown probes \\['distribution'\\]"):
        rules.rule(needs=("distribution",), emits=("version-mismatch",))(fn)
    with pytest.raises(ValueError, match="ranks ids it does not emit"):
        rules.rule(needs=("live",), emits=("version-mismatch",), priority={"torch-missing": 1})(fn)
    with pytest.raises(ValueError, match="must declare"):
        rules.rule(needs=("live",), emits=())(fn)


def test_root_priorities_come_from_the_declarations() -> None:
    ranks = rules.root_priority()
    ordered = sorted(ranks, key=lambda fid: ranks[fid])
    assert ordered[:4] == ["import-crash", "import-timeout", "torch-missing", "torchvision-missing"]
    assert (
        ordered.index("shadowed-module") < ordered.index("build-variant-mismatch") < ordered.index("version-mismatch")
    )
