"""fixes/catalog.py: every fix built in fixes/, one id per fix, one wording per id."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tvwizard.fixes import catalog

SRC = Path(__file__).resolve().parents[2] / "src" / "tvwizard"


def _calls(path: Path, name: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and (getattr(n.func, "id", None) == name or getattr(n.func, "attr", None) == name)
    ]


def test_no_rule_builds_a_fix_itself() -> None:
    built = [f"{p.name}:{c.lineno}" for p in (SRC / "diagnosis").rglob("*.py") for c in _calls(p, "Fix")]
    assert built == [], "Fix(...) belongs in fixes/ (catalog.build by id)"


def test_diagnosis_never_imports_from_fixes_internals_nor_fixes_from_diagnosis() -> None:
    for path in (SRC / "fixes").rglob("*.py"):
        assert "tvwizard.diagnosis" not in path.read_text(encoding="utf-8"), path.name


def test_every_fix_id_a_rule_asks_for_is_in_the_catalog() -> None:
    asked = set()
    for path in (SRC / "diagnosis").rglob("*.py"):
        for call in _calls(path, "build"):
            if call.args and isinstance(call.args[0], ast.Constant):
                asked.add(call.args[0].value)
    assert asked and sorted(asked - catalog.fix_ids()) == []
    # the table of CUDA start-up errors names catalog fixes too
    from tvwizard.facts import cuda_errors

    table = {r.fix_id for r in (*cuda_errors.REASONS, *cuda_errors.GENERIC_REASONS)}
    assert sorted(table - set(catalog.MANUAL)) == []


@pytest.mark.parametrize("fix_id", sorted(catalog.MANUAL))
def test_manual_fixes_come_out_fresh_with_their_own_id(fix_id: str) -> None:
    first, second = catalog.build(fix_id), catalog.build(fix_id)
    assert first.id == fix_id and first == second and first is not second
    first.why += " changed"
    assert catalog.build(fix_id).why == catalog.MANUAL[fix_id].why


def test_one_fix_one_wording_the_reboot_fix_is_written_once() -> None:
    text = (SRC / "fixes" / "catalog.py").read_text(encoding="utf-8")
    assert text.count('"reboot-after-driver-update"') == 1
    assert "container-gpus" not in text  # the same fix was also filed under this id
