"""Issue 18 against a real env: a downstream package that imports an API torchvision removed.

A private copy of the real ``healthy`` env (torch 2.14.1 + torchvision 0.29.1 from real wheels)
gets ``oldsr`` 1.4.2 (``tests/downstream.py``: BasicSR's ``degradations.py`` line 8, the
``functional_tensor`` import of XPixelGroup/BasicSR#533) installed by pip as a real
distribution with its RECORD.  It is diagnosed through each of the three ways in, and the
source-edit fix is followed until ``import oldsr`` works.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import downstream
import pytest
import realenvs

pytestmark = pytest.mark.real

TITLE = (
    "oldsr 1.4.2 (`oldsr/data/degradations.py`, line 8) imports `torchvision.transforms.functional_tensor`, "
    "which torchvision removed in 0.17.0; you have torchvision 0.29.1"
)


@pytest.fixture
def env(tmp_path: Path) -> Path:
    try:
        root = realenvs.clone("healthy", tmp_path / "env")
    except realenvs.Unavailable as exc:
        pytest.skip(str(exc))
    wheel = downstream.build_wheel(tmp_path)
    python = str(root / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return root


def tvwizard(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tvwizard", *args],
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        cwd=cwd,
        timeout=600,
    )


def removed_api(report: dict) -> dict:
    return next(f for f in report["findings"] if f["id"] == "removed-api-used")


def assert_diagnosed(report: dict, *, with_edit: bool = True) -> dict:
    finding = removed_api(report)
    assert finding["title"].startswith(TITLE), finding["title"]
    fixes = [f["id"] for f in finding["fixes"]]
    assert fixes == ["install-pair-with-api", "edit-removed-import"] if with_edit else ["install-pair-with-api"]
    pair = finding["fixes"][0]
    assert "torch==2.1.2" in pair["commands"][0] and "torchvision==0.16.2" in pair["commands"][0]
    assert "replaces your torch" in pair["why"]
    owner = next(e for e in finding["evidence"] if e["fact"] == "owner")
    assert owner["detail"] == "oldsr 1.4.2 lists oldsr/data/degradations.py in its RECORD; the file matches RECORD"
    return finding


def test_check_import_names_the_owner_line_and_the_fixes(env: Path, tmp_path: Path) -> None:
    proc = tvwizard("--python", str(env / "bin" / "python"), "check", "--json", "--import", "oldsr", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert report["verdict"] == "degraded"  # torchvision itself works: imports, nms
    assert_diagnosed(report)
    user = next(p for p in report["probes"] if p["name"] == "user")
    assert user["data"]["failure"]["module"] == "torchvision.transforms.functional_tensor"
    assert [p["name"] for p in report["probes"]][-1] == "user"  # after the standard probes


def test_check_command_runs_the_users_script(env: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import torch\nprint('epoch 1')\nimport oldsr\n")
    proc = tvwizard(
        "--python", str(env / "bin" / "python"), "check", "--json", "--", "python", "train.py", cwd=tmp_path
    )
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert_diagnosed(report)
    user = next(p for p in report["probes"] if p["name"] == "user")
    assert user["data"]["returncode"] == 1 and user["data"]["request"] == ["python", "train.py"]
    assert any(line["text"] == "epoch 1" for line in user["log"])


def test_explain_a_pasted_real_traceback_runs_only_the_metadata_probes(env: Path, tmp_path: Path) -> None:
    failed = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import oldsr"], capture_output=True, text=True, cwd=tmp_path
    )
    assert "No module named 'torchvision.transforms.functional_tensor'" in failed.stderr
    proc = tvwizard(
        "--python", str(env / "bin" / "python"), "explain", "--json", "-", cwd=tmp_path, stdin=failed.stderr
    )
    out = json.loads(proc.stdout)
    assert out["classification"]["finding"] == "removed-api-used" and out["classification"]["confirmed"]
    assert [p["name"] for p in out["report"]["probes"]] == ["interpreter", "distributions", "user"]
    assert_diagnosed(out["report"])


def test_following_the_source_edit_makes_the_import_work(env: Path, tmp_path: Path) -> None:
    python = str(env / "bin" / "python")
    plan = json.loads(tvwizard("--python", python, "check", "--json", "--import", "oldsr", cwd=tmp_path).stdout)
    edit = removed_api(plan)["fixes"][1]
    assert "+from torchvision.transforms.functional import rgb_to_grayscale" in edit["changes"]
    proc = tvwizard("--python", python, "fix", "--import", "oldsr", "--apply", "--choice", "2", "--yes", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "✓ removed-api-used is gone." in proc.stdout and "torchvision works now." in proc.stdout
    works = subprocess.run([python, "-c", "import oldsr.data.degradations as d; print(d.gray)"], capture_output=True)
    assert works.returncode == 0, works.stderr
    subprocess.run(edit["undo"], shell=True, check=True)  # the undo line, as a person pastes it
    again = subprocess.run([python, "-c", "import oldsr"], capture_output=True, text=True)
    assert "functional_tensor" in again.stderr
