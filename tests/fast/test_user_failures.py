"""What failed for the user: their import, their command, their pasted traceback (issue 18).

The ``user`` probe runs for real in a subprocess (this interpreter) against a synthetic site
folder: a stub torchvision without ``transforms.functional_tensor`` (as 0.17+ is) and the
downstream package of ``tests/downstream.py`` with a true RECORD.  Tracebacks pasted into
``explain`` are real texts from the issues each file under ``data/tracebacks/`` cites.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import downstream
import pytest
from conftest import run_probe_sync
from fakes import fake_env_vars, run_tvwizard

from tvwizard.diagnosis.tracebacks import classify
from tvwizard.engine.registry import by_name, user_probe
from tvwizard.engine.session import SessionOptions, run_session
from tvwizard.facts import removed_apis
from tvwizard.fixes.apply import apply_fix
from tvwizard.model import RunStatus, Target
from tvwizard.probes._traceback import parse, site_relative

TRACEBACKS = Path(__file__).parent / "data" / "tracebacks"

# Each pasted text and the class it must get (the finding, and the table entry for removed APIs).
EXPECTED = {
    "removed-api-functional-tensor.txt": ("removed-api-used", "transforms-functional-tensor"),
    "removed-api-functional-tensor-no-header.txt": ("removed-api-used", "transforms-functional-tensor"),
    "removed-api-pillow-version.txt": ("removed-api-used", "pil-pillow-version"),
    "removed-api-pillow-version-from.txt": ("removed-api-used", "pil-pillow-version"),
    "removed-api-models-utils.txt": ("removed-api-used", "models-utils"),
    "removed-api-makedir-exist-ok.txt": ("removed-api-used", "datasets-utils-makedir-exist-ok"),
    "removed-api-makedir-exist-ok-attribute.txt": ("removed-api-used", "datasets-utils-makedir-exist-ok"),
    "optional-package-pyav.txt": ("optional-package-missing", "video-pyav"),
    "version-mismatch.txt": ("version-mismatch", None),
    "abi-mismatch.txt": ("abi-mismatch", None),
    "missing-shared-library.txt": ("missing-shared-library", None),
    "gpu-arch-unsupported.txt": ("gpu-arch-unsupported", None),
    "numpy-abi.txt": ("numpy-abi", None),
    "first-import-differs.txt": ("first-import-differs", None),
    "shadowed-module.txt": ("shadowed-module", None),
    "torchvision-missing.txt": ("torchvision-missing", None),
    "driver-too-old.txt": ("driver-too-old", None),
    "gpu-driver-missing.txt": ("gpu-driver-missing", None),
    "import-crash.txt": ("import-crash", None),
    "torch-missing.txt": ("torch-missing", None),
    "unsupported-python.txt": ("unsupported-python", None),
    "corrupt-file.txt": ("corrupt-file", None),
    "library-path-override.txt": ("library-path-override", None),
    "library-path-override-conda-lib.txt": ("library-path-override", None),
    "cuda-unavailable.txt": ("cuda-unavailable", None),
    "cuda-unavailable-visible-devices.txt": ("cuda-unavailable", None),
    "foreign-site-packages.txt": ("foreign-site-packages", None),
    "unknown.txt": (None, None),
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    downstream.stub_torchvision(root)
    downstream.install_files(root)
    return root


def _env(site: Path) -> dict[str, str]:
    return fake_env_vars(site)


# -- reading and classifying tracebacks ------------------------------------------------------
def test_every_stored_traceback_has_an_expected_class() -> None:
    assert sorted(p.name for p in TRACEBACKS.glob("*.txt")) == sorted(EXPECTED)
    for path in TRACEBACKS.glob("*.txt"):
        assert path.read_text().startswith("# source: https://github.com/"), f"{path.name} must cite its issue"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_pasted_traceback_is_classified(name: str) -> None:
    text = (TRACEBACKS / name).read_text()
    finding, api = EXPECTED[name]
    cls = classify(parse(text), raw_text=text)
    assert cls.finding == finding
    assert (cls.api.id if cls.api else None) == api
    if finding is None:
        assert not cls.known and "live" in cls.probes  # unknown: the full check
    else:
        assert "live" not in cls.probes or finding not in ("removed-api-used", "optional-package-missing")


def test_the_failing_frame_and_line_of_a_real_traceback() -> None:
    failure = parse((TRACEBACKS / "removed-api-functional-tensor.txt").read_text())
    assert failure["type"] == "ModuleNotFoundError"
    assert len(failure["frames"]) == 7
    last = failure["frames"][-1]
    assert last["line"] == 8 and last["code"] == downstream.FAILING_CODE
    assert site_relative(last["file"]) == "basicsr/data/degradations.py"
    ipy = parse((TRACEBACKS / "optional-package-pyav.txt").read_text())
    assert ipy["frames"][-1]["file"].endswith("torchvision/io/video.py") and ipy["frames"][-1]["line"] == 45
    assert ipy["message"].startswith("PyAV is not installed") and "install PyAV" in ipy["message"]


@pytest.mark.parametrize(
    "text",
    ["", "no traceback here\njust a log\n", "\x00\xff" * 1000, "Traceback (most recent call last):\n" * 50_000],
)
def test_hostile_text_parses_to_something_bounded(text: str) -> None:
    start = time.monotonic()
    failure = parse(text)
    assert time.monotonic() - start < 5
    if failure is not None:
        assert len(failure["traceback"]) <= 64 * 1024 and len(failure["frames"]) <= 200


def test_removed_api_table_entries_are_cited_and_matched() -> None:
    for api in removed_apis.entries():
        assert api.sources, api.id
        if api.kind != "optional":
            assert api.removed_in and api.replacement, api.id
    match = removed_apis.match
    assert match("ModuleNotFoundError", "No module named 'torchvision.transforms.functional_pil'").api.id == (
        "transforms-functional-pil"
    )
    # `from torchvision.transforms import functional_tensor`
    assert match("ImportError", "cannot import name 'functional_tensor' from 'torchvision.transforms' (/x)").api.id == (
        "transforms-functional-tensor"
    )
    assert match("ModuleNotFoundError", "No module named 'torchvision.transforms.v2'") is None
    assert match("ImportError", "cannot import name 'resize' from 'torchvision.transforms.functional'") is None
    edit = removed_apis.by_id("transforms-functional-tensor").edit
    assert edit.apply(downstream.FAILING_CODE) == "from torchvision.transforms.functional import rgb_to_grayscale"
    pil = removed_apis.by_id("pil-pillow-version").edit
    line = "from PIL import Image, ImageOps, ImageEnhance, PILLOW_VERSION"
    assert pil.applies_to(line) and not pil.applies_to("print(PILLOW_VERSION)")


# -- the user probe ------------------------------------------------------------------------
def test_import_names_the_failing_line_and_its_owner(site: Path) -> None:
    run = run_probe_sync("user", env=_env(site), options={"imports": ["json", "oldsr", "csv"]})
    assert run.status is RunStatus.OK, run.error
    assert [s.name for s in run.steps][:2] == ["import:json", "import:oldsr"]
    assert "import:csv" not in [s.name for s in run.steps]  # it stops at the first failure
    failure = run.data["failure"]
    assert failure["type"] == "ModuleNotFoundError"
    assert failure["module"] == "torchvision.transforms.functional_tensor"
    frame = failure["frames"][-1]
    assert frame["line"] == downstream.FAILING_LINE and frame["code"] == downstream.FAILING_CODE
    owner = run.data["owners"][frame["file"]]
    assert (owner["dist"], owner["version"], owner["record_path"]) == ("oldsr", "1.4.2", downstream.FAILING_FILE)
    assert owner["hash_ok"] is True
    assert "importlib" not in failure["traceback"]  # read as the user's own `import oldsr`


def test_an_edited_file_no_longer_matches_its_record(site: Path) -> None:
    path = site / downstream.FAILING_FILE
    path.write_text(path.read_text() + "# edited\n")
    run = run_probe_sync("user", env=_env(site), options={"imports": ["oldsr"]})
    assert run.data["owners"][str(path)]["hash_ok"] is False


def test_a_pasted_path_from_another_machine_is_found_here_by_its_package_path(site: Path) -> None:
    failure = {
        "type": "ModuleNotFoundError",
        "message": "No module named 'torchvision.transforms.functional_tensor'",
        "frames": [
            {"file": "~/miniconda3/envs/x/lib/python3.10/site-packages/oldsr/data/degradations.py", "line": 8},
            {"file": "C:\\Users\\<user>\\venv\\Lib\\site-packages\\nothere\\x.py", "line": 1},
        ],
        "traceback": "",
    }
    run = run_probe_sync("user", env=_env(site), options={"failure": failure})
    owners = run.data["owners"]
    assert owners[failure["frames"][0]["file"]]["dist"] == "oldsr"
    assert owners[failure["frames"][1]["file"]] is None


def test_a_command_runs_in_the_target_and_its_first_traceback_is_kept(site: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('training')\nimport oldsr\n")
    run = run_probe_sync("user", env=_env(site), cwd=tmp_path, options={"command": ["python", "train.py"]})
    assert run.data["returncode"] == 1 and run.data["source"] == "command"
    assert run.step("command").data["argv"][0] == sys.executable  # `python` is the target
    frames = run.data["failure"]["frames"]
    assert frames[0]["file"].endswith("train.py") and frames[-1]["line"] == downstream.FAILING_LINE
    assert run.data["owners"][frames[-1]["file"]]["dist"] == "oldsr"
    assert any(line.text == "training" for line in run.log)


def test_a_command_gets_no_terminal(tmp_path: Path) -> None:
    code = "import os, sys; print('TTY', os.isatty(0), os.isatty(1), os.isatty(2), repr(sys.stdin.read()))"
    run = run_probe_sync("user", cwd=tmp_path, options={"command": [sys.executable, "-c", code]})
    assert any(line.text == "TTY False False False ''" for line in run.log), run.log


def test_a_command_that_hangs_is_killed_at_its_limit(tmp_path: Path) -> None:
    start = time.monotonic()
    run = run_probe_sync(
        "user", cwd=tmp_path, timeout=2, options={"command": ["python", "-c", "import time; time.sleep(60)"]}
    )
    assert run.status is RunStatus.TIMEOUT
    assert time.monotonic() - start < 15


def test_a_command_that_floods_is_bounded(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "for i in range(200000): print('out', i); sys.stderr.write('err %d\\n' % i)\n"
        "raise SystemExit('the end')\n"
    )
    run = run_probe_sync("user", cwd=tmp_path, options={"command": ["python", "-c", code]})
    assert run.status is RunStatus.OK
    assert run.log_dropped > 0 and len(run.log) < 3000
    assert run.data["returncode"] == 1 and len(run.data["failure"]["traceback"]) <= 64 * 1024


def test_a_command_that_forks_does_not_keep_tvwizard_waiting(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "sys.exit(3)\n"
    )
    start = time.monotonic()
    run = run_probe_sync("user", cwd=tmp_path, timeout=30, options={"command": ["python", "-c", code]})
    assert time.monotonic() - start < 15
    assert run.data["returncode"] == 3
    pid = int(pidfile.read_text())
    for _ in range(50):  # the runner ends the whole process group once the probe is done
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        pytest.fail("the command's own child outlived the probe")


# -- the diagnosis and its fixes -----------------------------------------------------------
def _session(site: Path, user, cwd: Path):
    target = Target(python=sys.executable, executable=sys.executable, version="3.11.7", prefix=str(site), cwd=str(cwd))
    opts = SessionOptions(
        probes=[by_name("interpreter"), by_name("distributions"), user], env=_env(site), collect_host=False
    )
    return asyncio.run(run_session(target, opts))


def test_removed_api_finding_names_owner_line_and_versions_and_offers_fixes(site: Path, tmp_path: Path) -> None:
    report = _session(site, user_probe(imports=["oldsr"]), tmp_path)
    finding = next(f for f in report.findings if f.id == "removed-api-used")
    assert finding.title == (
        "oldsr 1.4.2 (`oldsr/data/degradations.py`, line 8) imports `torchvision.transforms.functional_tensor`, "
        "which torchvision removed in 0.17.0; you have torchvision 0.29.1"
    )
    assert [f.id for f in finding.fixes] == ["install-pair-with-api", "edit-removed-import"]
    pair, edit = finding.fixes
    assert "torch==2.1.2" in pair.commands[0] and "torchvision==0.16.2" in pair.commands[0]
    assert "numpy<2" in pair.commands[0] and "replaces your torch" in pair.why
    assert "Keeps your torch" in edit.why or "keeps your torch" in edit.why
    assert "+from torchvision.transforms.functional import rgb_to_grayscale" in edit.changes
    assert report.verdict == "unknown" and report.exit_code == 1  # no import probe here
    user_check = next(c for c in report.checks if c.id == "user")
    assert user_check.title == "import oldsr" and str(user_check.status) == "error"


def test_following_the_source_edit_makes_the_import_work_and_undo_restores_it(site: Path, tmp_path: Path) -> None:
    report = _session(site, user_probe(imports=["oldsr"]), tmp_path)
    edit = next(f for f in report.findings if f.id == "removed-api-used").fixes[-1]
    result = asyncio.run(apply_fix(edit, [sys.executable], env=_env(site)))
    assert result.ok, result.output
    assert (site / (downstream.FAILING_FILE + ".tvwizard-bak")).exists()
    after = run_probe_sync("user", env=_env(site), options={"imports": ["oldsr"]})
    assert after.data["failure"] is None
    subprocess.run(edit.undo, shell=True, check=True)  # the undo line, as a person would paste it
    again = run_probe_sync("user", env=_env(site), options={"imports": ["oldsr"]})
    assert again.data["failure"]["module"] == "torchvision.transforms.functional_tensor"


def test_the_source_edit_refuses_a_line_that_changed(site: Path, tmp_path: Path) -> None:
    report = _session(site, user_probe(imports=["oldsr"]), tmp_path)
    edit = next(f for f in report.findings if f.id == "removed-api-used").fixes[-1]
    path = site / downstream.FAILING_FILE
    path.write_text(path.read_text().replace(downstream.FAILING_CODE, "import torchvision  # changed meanwhile"))
    before = path.read_text()
    result = asyncio.run(apply_fix(edit, [sys.executable], env=_env(site)))
    assert not result.ok and path.read_text() == before
    assert any("no longer contains" in line for line in result.output)


def test_a_command_failure_gets_the_same_finding(site: Path, tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("import oldsr\n")
    report = _session(site, user_probe(command=["python", "train.py"]), tmp_path)
    assert "removed-api-used" in report.finding_ids()
    assert next(c for c in report.checks if c.id == "user").title == "python train.py"


# -- the command line ------------------------------------------------------------------------
tvwizard = functools.partial(run_tvwizard, timeout=180)


def test_a_command_never_runs_without_the_double_dash(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    (tmp_path / "train.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    proc = tvwizard("--python", sys.executable, "check", "python", "train.py", cwd=tmp_path)
    assert proc.returncode == 2 and "put -- before the command" in proc.stderr
    assert not marker.exists()
    both = tvwizard("check", "--import", "x", "--", "python", "train.py", cwd=tmp_path)
    assert both.returncode == 2 and not marker.exists()
    helptext = tvwizard("check", "--help").stdout
    assert "only when given after --" in " ".join(helptext.split())


def test_explain_runs_only_the_probes_that_can_confirm(site: Path, tmp_path: Path) -> None:
    text = (TRACEBACKS / "removed-api-functional-tensor.txt").read_text()
    proc = tvwizard("--python", sys.executable, "explain", "-", "--json", env=_env(site), cwd=tmp_path, stdin_text=text)
    out = json.loads(proc.stdout)
    assert out["classification"]["finding"] == "removed-api-used" and out["classification"]["confirmed"]
    assert [p["name"] for p in out["report"]["probes"]] == ["interpreter", "distributions", "user"]
    user = out["report"]["probes"][-1]["data"]
    assert user["source"] == "pasted" and user["failure"]["frames"][-1]["line"] == 8
    assert proc.returncode == 1


def test_explain_says_when_it_does_not_know_and_runs_the_full_check(tmp_path: Path) -> None:
    text = (TRACEBACKS / "unknown.txt").read_text()
    proc = tvwizard("--python", sys.executable, "explain", str(TRACEBACKS / "unknown.txt"), cwd=tmp_path)
    assert "does not recognise this kind of error; running the full check" in proc.stdout
    js = tvwizard("--python", sys.executable, "explain", "--json", "-", cwd=tmp_path, stdin_text=text)
    out = json.loads(js.stdout)
    assert out["classification"]["known"] is False
    assert {"interpreter", "distributions", "resolution", "native", "envvars", "toolchain", "live", "user"} == {
        p["name"] for p in out["report"]["probes"]
    }
    assert "user-code-failed" in [f["id"] for f in out["report"]["findings"]]


def test_explain_redacts_what_it_reads(tmp_path: Path) -> None:
    home = os.path.expanduser("~")
    token = "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7"
    text = (
        "Traceback (most recent call last):\n"
        f'  File "{home}/proj/train.py", line 3, in <module>\n'
        f"    login('{token}')\n"
        "ModuleNotFoundError: No module named 'torchvision.models.utils'\n"
    )
    proc = tvwizard("--python", sys.executable, "explain", "--json", "-", cwd=tmp_path, stdin_text=text)
    out = json.loads(proc.stdout)
    pasted = json.dumps([out["failure"], next(p for p in out["report"]["probes"] if p["name"] == "user")])
    assert home not in pasted and token not in pasted  # what was read; the report's own redaction is `report`'s
    assert token not in proc.stdout
    assert out["failure"]["frames"][0]["file"] == "~/proj/train.py"


def test_an_old_torchvision_under_a_new_pillow_gets_the_newer_torchvision_first(tmp_path: Path) -> None:
    """pytorch/vision#1712: torchvision < 0.5 imports PIL.PILLOW_VERSION, which Pillow 7 removed."""
    site = tmp_path / "site"
    functional = (
        "import math\nimport numbers\n\nimport torch\nfrom PIL import Image, ImageOps, ImageEnhance, PILLOW_VERSION\n"
    )
    downstream.install_files(
        site,
        {
            "torchvision/__init__.py": "from torchvision import transforms\n",
            "torchvision/transforms/__init__.py": "from . import functional\n",
            "torchvision/transforms/functional.py": functional,
        },
        "torchvision",
        "0.4.2",
    )
    downstream.install_files(
        site,
        {
            "PIL/__init__.py": "__version__ = '7.0.0'\n",
            "PIL/Image.py": "",
            "PIL/ImageOps.py": "",
            "PIL/ImageEnhance.py": "",
        },
        "Pillow",
        "7.0.0",
    )
    downstream.install_files(site, {"torch/__init__.py": "__version__ = '1.3.1'\n"}, "torch", "1.3.1")
    report = _session(site, user_probe(imports=["torchvision"]), tmp_path)
    finding = next(f for f in report.findings if f.id == "removed-api-used")
    assert finding.title == (
        "torchvision 0.4.2 (`torchvision/transforms/functional.py`, line 5) imports `PIL.PILLOW_VERSION`, "
        "which Pillow removed in 7.0.0; you have Pillow 7.0.0"
    )
    assert [f.id for f in finding.fixes] == ["install-newest-pair", "edit-removed-import"]
    assert "torchvision 0.5.0 and later no longer import PIL.PILLOW_VERSION" in finding.fixes[0].why
    assert "+from PIL import Image, ImageOps, ImageEnhance, __version__ as PILLOW_VERSION" in finding.fixes[1].changes


def test_check_obeys_timeout_for_the_users_command(tmp_path: Path) -> None:
    start = time.monotonic()
    proc = tvwizard(
        "--python", sys.executable, "check", "--json", "--timeout", "3",
        "--", "python", "-c", "import time; time.sleep(120)",
        cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    user = next(p for p in report["probes"] if p["name"] == "user")
    assert user["status"] == "timeout" and "no answer after 3 s" in user["error"]
    hung = next(f for f in report["findings"] if f["id"] == "user-code-failed")
    assert hung["title"].startswith("python -c import time; time.sleep(120) did not finish: no answer after 3 s")
    assert time.monotonic() - start < 60
    assert proc.returncode == 1


def test_a_known_kind_of_failure_is_folded_under_its_root_cause() -> None:
    """The user's command died of `operator torchvision::nms does not exist` (fudan-generative-vision/hallo#98):
    the user finding is a symptom of version-mismatch, whose fixes are the ones to follow."""
    from tvwizard.diagnosis.engine import order
    from tvwizard.diagnosis.rules.user_code import user_failure
    from tvwizard.facts.evidence import Evidence
    from tvwizard.model import Finding, ProbeRun, Severity

    failure = parse((TRACEBACKS / "version-mismatch.txt").read_text())
    run = ProbeRun("user", "Your command", RunStatus.OK, data={"source": "command", "request": ["python", "x.py"]})
    run.data["failure"] = failure
    ev = Evidence(target=Target(python=sys.executable), probes={"user": run})
    symptom = user_failure(ev)
    assert symptom.id == "user-code-failed" and symptom.caused_by == "version-mismatch"
    assert symptom.title.startswith("python x.py failed at `/usr/local/lib/python3.10/dist-packages/torch/")
    root = Finding(id="version-mismatch", severity=Severity.ERROR, title="torchvision 0.18.0 is for torch 2.3")
    assert [(f.id, f.caused_by) for f in order([symptom, root])] == [
        ("version-mismatch", None),
        ("user-code-failed", "version-mismatch"),
    ]
    alone = order([user_failure(ev)])  # no such root found: the user's failure stands, with where to look
    assert alone[0].caused_by is None and alone[0].fixes[0].kind == "manual"
