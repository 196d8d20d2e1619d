"""``tvwizard fleet``: many nodes' reports aggregated, from real report JSON.

The templates in ``data/fleet-*.json`` are real, redacted reports: ``tvwizard --python
<env>/bin/python report --json`` on the ``healthy`` and ``cpu-torch-cuda-tv`` real envs.
:func:`write_fleet` turns them into a varied fleet (GPU models, drivers, torch builds, root
causes, degraded nodes) of any size; ``benchmarks/fleet_bench.py`` uses it too.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tvwizard.cli import build_parser, main
from tvwizard.fleet import (
    FLEET_SCHEMA,
    Fingerprint,
    FleetSummary,
    aggregate,
    compress_hosts,
    host_for_path,
    render_fleet_json,
    render_fleet_text,
)

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
HEALTHY_JSON = DATA / "fleet-healthy.json"  # the `healthy` real env: works
BROKEN_JSON = DATA / "fleet-broken.json"  # `cpu-torch-cuda-tv`: build-variant-mismatch


def template(name: str) -> dict[str, Any]:
    return json.loads((HEALTHY_JSON if name == "healthy" else BROKEN_JSON).read_text(encoding="utf-8"))


# -- a varied fleet from the real templates ---------------------------------------------------


def set_torch(report: dict[str, Any], version: str) -> None:
    """Make the report's torch ``version`` (``2.14.0+cu128``) wherever the facts read it."""
    tag = version.split("+", 1)[1] if "+" in version else None
    for probe in report["probes"]:
        if probe["name"] == "distributions":
            vpy = probe["data"]["version_py"]["torch"]
            vpy["values"]["__version__"] = version
            vpy["local_tag"] = tag
            for d in probe["data"]["dists"]:
                if d["name"] == "torch":
                    d["version"] = version
        if probe["name"] == "live":
            for step in probe["steps"]:
                if step["name"] == "import_torch" and "version" in step["data"]:
                    step["data"]["version"] = version


def set_gpu(report: dict[str, Any], driver: str | None, model: str | None, count: int) -> None:
    gpu = report["system"]["gpu"]
    gpu["driver"] = driver
    gpu["gpus"] = [  # the shape tvwizard.gpu.collect_gpus writes
        {
            "index": i,
            "name": model,
            "uuid": "<redacted>",
            "compute_capability": "9.0",
            "cc_major": 9,
            "cc_minor": 0,
            "memory_total_mib": 81559,
            "mig_mode": "disabled",
            "visible": True,
            "cuda_index": i,
            "errors": {},
        }
        for i in range(count if model else 0)
    ]
    if driver:
        gpu["state"] = "ok"


def set_cause(report: dict[str, Any], cause: str, title: str) -> None:
    """The report's root cause becomes ``cause`` (its symptoms follow); other roots go."""
    first = report["findings"][0]
    old = first["id"]
    first["id"], first["title"] = cause, title
    kept = [first]
    for f in report["findings"][1:]:
        if f.get("caused_by") == old:
            f["caused_by"] = cause
            kept.append(f)
    report["findings"] = kept


def make_degraded(report: dict[str, Any]) -> None:
    report["verdict"] = "degraded"
    report["exit_code"] = 0
    report["findings"] = [
        {
            "id": "cuda-unavailable",
            "severity": "warning",
            "title": "torch is a CUDA build but CUDA is not available",
            "explanation": "No GPU is visible to torch.",
            "evidence": [],
            "fixes": [],
            "caused_by": None,
            "checks": [],
        }
    ]


RACKS = [  # (GPU model, GPUs per node, driver)
    ("NVIDIA H100 80GB HBM3", 8, "580.65.06"),
    ("NVIDIA A100-SXM4-80GB", 4, "570.133.20"),
    ("NVIDIA L40S", 2, "580.65.06"),
]
OLD_DRIVER = "470.256.02"
CAUSES = {  # cause -> (template, title)
    "driver-too-old": ("broken", "the NVIDIA driver 470.256.02 is too old for torch's CUDA 13.0 build"),
    "build-variant-mismatch": ("broken", None),  # the template's own
    "version-mismatch": ("broken", "torchvision 0.29.1 is made for torch 2.14.1; your torch is 2.13.0+cpu"),
}


def _variant(i: int, rng: random.Random) -> tuple[str, str, int]:
    """(kind, rack index, torch) for host number ``i``: mostly healthy, a few of each problem."""
    roll = rng.random()
    if roll < 0.05:
        return "driver-too-old", i % 3, 0
    if roll < 0.10:
        return "build-variant-mismatch", i % 3, 0
    if roll < 0.13:
        return "version-mismatch", i % 3, 0
    if roll < 0.15:
        return "degraded", i % 3, 0
    return "healthy", (i // 100) % 3, 1 if (i // 100) % 5 == 4 else 0  # every 5th block runs an older torch


def write_fleet(folder: Path, n: int = 1000, seed: int = 9, indent: int | None = 2) -> dict[str, tuple[str, str]]:
    """Write ``n`` varied reports ``folder/nodeNNNN.json``; returns host → (status, cause).

    Each distinct environment is rendered once and its ``created`` stamp is varied per host,
    so writing 1,000 real-sized reports takes about a second.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    texts: dict[tuple[str, int, int], tuple[str, str]] = {}
    expected: dict[str, tuple[str, str]] = {}
    for i in range(1, n + 1):
        host = f"node{i:04d}"
        kind, rack, old_torch = _variant(i, rng)
        key = (kind, rack, old_torch)
        if key not in texts:
            model, count, driver = RACKS[rack]
            if kind in ("healthy", "degraded"):
                report = template("healthy")
                if old_torch:
                    set_torch(report, "2.14.0+cu130")
                if kind == "degraded":
                    make_degraded(report)
            else:
                report = template("broken")
                _, title = CAUSES[kind]
                if kind == "driver-too-old":
                    driver = OLD_DRIVER
                if title:
                    set_cause(report, kind, title)
            set_gpu(report, driver, model, count)
            texts[key] = (json.dumps(report, indent=indent, ensure_ascii=False) + "\n", report["created"])
        text, created = texts[key]
        stamp = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00"
        (folder / f"{host}.json").write_text(text.replace(created, stamp, 1), encoding="utf-8")
        status = {"healthy": "healthy", "degraded": "degraded"}.get(kind, "broken")
        cause = {"healthy": "healthy", "degraded": "cuda-unavailable"}.get(kind, kind)
        expected[host] = (status, cause)
    return expected


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[str, str]]]:
    folder = tmp_path_factory.mktemp("fleet") / "reports"
    return folder, write_fleet(folder, 1000)


# -- the real reports ------------------------------------------------------------------------------


def test_templates_are_real_redacted_reports() -> None:
    for path in (HEALTHY_JSON, BROKEN_JSON):
        text = path.read_text(encoding="utf-8")
        assert json.loads(text)["schema"] == "tvwizard.report/1"
        assert str(Path.home()) + "/" not in text, f"{path.name} leaks the home folder"
        assert json.loads(text)["redaction"]["enabled"] is True


def test_two_real_reports(tmp_path: Path) -> None:
    (tmp_path / "gpu01.json").write_bytes(HEALTHY_JSON.read_bytes())
    (tmp_path / "gpu02.json").write_bytes(BROKEN_JSON.read_bytes())
    s = aggregate([tmp_path])
    assert [(h.host, h.status, h.cause) for h in s.hosts] == [
        ("gpu01", "healthy", "healthy"),
        ("gpu02", "broken", "build-variant-mismatch"),
    ]
    assert s.headline() == "1 node healthy · 1 node `build-variant-mismatch`: gpu02"
    broken = s.groups[0]
    assert broken.cause == "build-variant-mismatch" and broken.hosts == ["gpu02"]
    assert broken.fingerprint == Fingerprint("2.13.0+cpu", "0.29.1+cu130", "cpu / cu130", None, None)
    assert broken.title.startswith("torchvision 0.29.1+cu130 is a CUDA 13.0 build")
    assert [f.id for f in broken.fixes] == ["install-paired-torchvision", "install-newest-pair"]
    assert "pip install --no-deps torchvision==0.28.0+cpu" in broken.fixes[0].commands[0]
    assert s.hosts[1].other_causes == ["version-mismatch"]
    assert s.groups[1].fingerprint.torch == "2.14.1+cu130" and s.groups[1].fingerprint.variant == "cu130"
    assert s.exit_code == 1


# -- 1,000 varied reports ------------------------------------------------------------------------


def test_thousand_reports_grouped(thousand: tuple[Path, dict[str, tuple[str, str]]]) -> None:
    folder, expected = thousand
    s = aggregate([folder])
    assert len(s.hosts) == 1000 and not s.skipped and not s.ignored
    assert {h.host: (h.status, h.cause) for h in s.hosts} == expected

    by_cause: dict[str, list[str]] = {}
    for host, (_, cause) in sorted(expected.items()):
        by_cause.setdefault(cause, []).append(host)
    assert {c.cause: c.hosts for c in s.causes} == by_cause
    assert s.causes[-1].cause == "healthy"  # problems first, the healthy majority last
    assert [c.cause for c in s.causes[:-1]] == sorted(
        (c for c in by_cause if c != "healthy"), key=lambda c: (c == "cuda-unavailable", -len(by_cause[c]), c)
    )

    # driver-too-old nodes all carry the old driver, on whatever GPU their rack has
    old = next(c for c in s.causes if c.cause == "driver-too-old")
    assert {fp.driver for fp, _ in old.fingerprints} == {OLD_DRIVER}
    assert {fp.gpu for fp, _ in old.fingerprints} == {f"{n}× {m}" for m, n, _ in RACKS}
    assert old.fixes and all(f.commands for f in old.fixes)
    assert old.title == CAUSES["driver-too-old"][1]

    # every (cause, fingerprint) group is homogeneous, and together they cover every host once
    hosts = {h.host: h for h in s.hosts}
    seen = [host for g in s.groups for host in g.hosts]
    assert sorted(seen) == sorted(hosts)
    for g in s.groups:
        assert {(hosts[h].cause, hosts[h].fingerprint) for h in g.hosts} == {(g.cause, g.fingerprint)}
    # fingerprint groups: healthy racks, the older-torch blocks, and the broken envs
    assert sum(len(f.hosts) for f in s.fingerprints) == 1000
    assert any(f.fingerprint.torch == "2.14.0+cu130" for f in s.fingerprints)
    assert s.fingerprints == sorted(s.fingerprints, key=lambda f: -len(f.hosts))

    n_healthy = len(by_cause["healthy"])
    assert s.headline().startswith(f"{n_healthy} nodes healthy · ")
    assert f"{len(old.hosts)} nodes `driver-too-old`: " in s.headline()
    assert s.counts()["degraded"] == len(by_cause["cuda-unavailable"])
    assert s.exit_code == 1


def test_thousand_reports_text_and_json(thousand: tuple[Path, dict[str, tuple[str, str]]]) -> None:
    folder, _ = thousand
    s = aggregate([folder])
    text = render_fleet_text(s)
    assert text.startswith(f"tvwizard fleet: 1000 nodes from {folder}\n")
    assert "✗ `driver-too-old` · " in text and "host list: node[" in text
    assert "Environments:" in text
    doc = json.loads(render_fleet_json(s))
    assert doc["schema"] == FLEET_SCHEMA and doc["counts"]["hosts"] == 1000


# -- outliers named --------------------------------------------------------------------------------


def _small_fleet(folder: Path, healthy: int, bad: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    good = HEALTHY_JSON.read_text(encoding="utf-8")
    variants: dict[str, str] = {}
    for cause in set(bad.values()):
        report = template("broken")
        set_cause(report, cause, CAUSES.get(cause, ("broken", f"{cause} title"))[1] or report["findings"][0]["title"])
        set_gpu(report, OLD_DRIVER, "NVIDIA H100 80GB HBM3", 8)
        variants[cause] = json.dumps(report)
    for i in range(1, healthy + len(bad) + 1):
        host = f"node{i}"
        (folder / f"{host}.json").write_text(variants[bad[host]] if host in bad else good, encoding="utf-8")


def test_headline_names_the_outliers(tmp_path: Path) -> None:
    bad = {"node17": "driver-too-old", "node42": "driver-too-old", "node64": "driver-too-old"}
    _small_fleet(tmp_path, 61, bad)
    s = aggregate([tmp_path])
    assert s.headline() == "61 nodes healthy · 3 nodes `driver-too-old`: node17, node42, node64"
    text = render_fleet_text(s)
    assert "✗ `driver-too-old` · 3 nodes: node17, node42, node64" in text
    assert "driver 470.256.02 · 8× NVIDIA H100 80GB HBM3" in text
    assert "✓ healthy · 61 nodes: node[1-16,18-41,43-63]" in text
    assert "fix: Keep torch 2.13.0+cpu; install torchvision 0.28.0 (cpu)" in text
    ascii_text = render_fleet_text(s, ascii=True)
    assert ascii_text.isascii() or "×" in ascii_text  # marks are ASCII; GPU names are data
    assert "x `driver-too-old` - 3 nodes" in ascii_text


def test_long_host_lists_are_compressed(tmp_path: Path) -> None:
    bad = {f"node{i}": "driver-too-old" for i in range(20, 40)}
    _small_fleet(tmp_path, 30, bad)
    assert aggregate([tmp_path]).headline() == "30 nodes healthy · 20 nodes `driver-too-old`: node[20-39]"


@pytest.mark.parametrize(
    ("hosts", "text"),
    [
        (["node01", "node02", "node03", "node07"], "node[01-03,07]"),
        (["node9", "node10", "node11"], "node[9-11]"),
        (["gpu-a1", "login", "gpu-a2", "gpu-b5"], "gpu-a[1-2],gpu-b5,login"),
        (["n1"], "n1"),
        (["node001", "node1000"], "node001,node1000"),
        ([], ""),
    ],
)
def test_compress_hosts(hosts: list[str], text: str) -> None:
    assert compress_hosts(hosts) == text


# -- host names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "root", "host"),
    [
        ("/r/node17.json", "/r", "node17"),
        ("/r/node17.example.org.json", "/r", "node17.example.org"),
        ("/r/tvwizard-report.json.node17", "/r", "node17"),  # rpdcp, clush --rcopy
        ("/r/node17/tmp/tvwizard-report.json", "/r", "node17"),  # ansible fetch without flat
        ("/r/tvwizard-report.json", "/r", None),
        ("/r/node17.json.tmp", "/r", "node17.json"),  # not a host suffix: the name before it
    ],
)
def test_host_for_path(path: str, root: str, host: str | None) -> None:
    assert host_for_path(path, root) == host


def test_host_from_report_field_when_the_name_says_nothing(tmp_path: Path) -> None:
    report = template("healthy")
    report["host"] = "node05"  # a later /1 writer might add it (unredacted)
    (tmp_path / "tvwizard-report.json").write_text(json.dumps(report), encoding="utf-8")
    assert [h.host for h in aggregate([tmp_path]).hosts] == ["node05"]
    report["host"] = "<host>"  # redacted: useless, the file name it is
    (tmp_path / "tvwizard-report.json").write_text(json.dumps(report), encoding="utf-8")
    assert [h.host for h in aggregate([tmp_path]).hosts] == ["tvwizard-report"]


def test_same_host_twice_keeps_the_newer(tmp_path: Path) -> None:
    old, new = template("broken"), template("healthy")
    old["created"], new["created"] = "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"
    (tmp_path / "monday").mkdir()
    (tmp_path / "tuesday").mkdir()
    (tmp_path / "tuesday" / "node3.json").write_text(json.dumps(new), encoding="utf-8")
    (tmp_path / "monday" / "node3.json").write_text(json.dumps(old), encoding="utf-8")
    s = aggregate([tmp_path])
    assert [(h.host, h.status) for h in s.hosts] == [("node3", "healthy")]
    assert [(Path(x.path).parent.name, x.kind) for x in s.skipped] == [("monday", "superseded")]
    assert "older report of node3" in s.skipped[0].reason
    assert s.exit_code == 0  # a superseded file is not a problem


# -- bad files: listed and skipped ---------------------------------------------------------------


def test_bad_files_are_listed_and_skipped(tmp_path: Path) -> None:
    good = HEALTHY_JSON.read_text(encoding="utf-8")
    future = json.loads(good)
    future["schema"] = "tvwizard.report/2"
    ancient = json.loads(good)
    ancient["schema"] = "tvwizard.report/0"
    wrong_shape = json.loads(good)
    wrong_shape["findings"] = {"oops": 1}
    files = {
        "ok1.json": good,
        "truncated.json": good[: len(good) // 2],
        "empty.json": "",
        "malformed.json": "{this is not json",
        "other-schema.json": json.dumps({"schema": "slurm.jobinfo/3"}),
        "no-schema.json": json.dumps({"hello": "world"}),
        "list.json": "[1, 2]",
        "future.json": json.dumps(future),
        "ancient.json": json.dumps(ancient),
        "markdown.json": "# tvwizard report\n",
        "wrong-shape.json": json.dumps(wrong_shape),
        "binary.json": "\udcff",
    }
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    (tmp_path / "notes.txt").write_text("not a report", encoding="utf-8")
    (tmp_path / ".ok1.json.123.tmp").write_text(good[:100], encoding="utf-8")  # a report being written

    s = aggregate([tmp_path])
    assert [h.host for h in s.hosts] == ["ok1"]
    reasons = {Path(x.path).name: x.reason for x in s.skipped}
    assert set(reasons) == set(files) - {"ok1.json"}
    assert "truncated" in reasons["truncated.json"]
    assert "empty" in reasons["empty.json"]
    assert "not valid JSON" in reasons["malformed.json"]
    assert "not a tvwizard report" in reasons["other-schema.json"]
    assert "not a tvwizard report" in reasons["no-schema.json"]
    assert "not a tvwizard report" in reasons["list.json"]
    assert "newer tvwizard" in reasons["future.json"] and "Upgrade tvwizard to aggregate it" in reasons["future.json"]
    assert "older tvwizard" in reasons["ancient.json"]
    assert "Markdown report" in reasons["markdown.json"] and "fleet reads JSON" in reasons["markdown.json"]
    assert "malformed report" in reasons["wrong-shape.json"]
    assert "not UTF-8" in reasons["binary.json"]
    assert s.ignored == [str(tmp_path / "notes.txt")]
    assert s.exit_code == 1  # a node whose report cannot be read is not known to be healthy
    assert s.headline() == "1 node healthy · 11 reports unreadable"
    text = render_fleet_text(s)
    assert "Skipped (11 files, not counted):" in text and "future.json: written by a newer tvwizard" in text


def test_other_tvwizard_versions_of_the_same_major(tmp_path: Path) -> None:
    older = template("healthy")
    older["tvwizard_version"] = "0.0.9"
    for key in ("probes", "checks", "timings", "redaction", "duration"):  # optional in /1
        older.pop(key)
    newer = template("broken")
    newer["tvwizard_version"] = "0.3.0"
    newer["schema"] = "tvwizard.report/1"
    newer["a_key_from_the_future"] = {"x": [1, 2]}  # additive: ignored
    (tmp_path / "a.json").write_text(json.dumps(older), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(newer), encoding="utf-8")
    (tmp_path / "c.json").write_text(HEALTHY_JSON.read_text(encoding="utf-8"), encoding="utf-8")
    s = aggregate([tmp_path])
    assert [(h.host, h.status, h.tvwizard_version) for h in s.hosts] == [
        ("a", "healthy", "0.0.9"),
        ("b", "broken", "0.3.0"),
        ("c", "healthy", "0.1.0"),
    ]
    assert s.hosts[0].fingerprint.torch is None  # no probes: nothing known, still counted
    assert s.versions() == {"0.0.9": 1, "0.3.0": 1, "0.1.0": 1}
    assert "Written by tvwizard 0.0.9 (1), 0.3.0 (1), 0.1.0 (1)" in render_fleet_text(s)


def test_nothing_readable(tmp_path: Path) -> None:
    assert aggregate([tmp_path]).exit_code == 2
    (tmp_path / "x.json").write_text("", encoding="utf-8")
    s = aggregate([tmp_path, tmp_path / "missing.json"])
    assert s.exit_code == 2 and s.headline() == "no readable report (2 files skipped)"
    assert "no such file" in {Path(x.path).name: x.reason for x in s.skipped}["missing.json"]


# -- JSON round trip ---------------------------------------------------------------------------------


def test_json_round_trip(tmp_path: Path) -> None:
    _small_fleet(tmp_path / "r", 5, {"node2": "driver-too-old", "node6": "build-variant-mismatch"})
    (tmp_path / "r" / "bad.json").write_text("{", encoding="utf-8")
    s = aggregate([tmp_path / "r"])
    text = render_fleet_json(s)
    doc = json.loads(text)
    assert doc["schema"] == FLEET_SCHEMA
    assert doc["exit_code"] == 1 and doc["counts"]["unreadable"] == 1
    back = FleetSummary.from_dict(doc)
    assert render_fleet_json(back) == text
    assert back.groups == s.groups and back.causes == s.causes and back.fingerprints == s.fingerprints
    assert [g["hostlist"] for g in doc["groups"]] == ["node6", "node2", "node[1,3-5,7]"]
    with pytest.raises(ValueError, match=r"not a tvwizard\.fleet/1"):
        FleetSummary.from_dict({"schema": "tvwizard.report/1"})


# -- the CLI ---------------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ok, mixed, empty = tmp_path / "ok", tmp_path / "mixed", tmp_path / "empty"
    _small_fleet(ok, 3, {})
    _small_fleet(mixed, 3, {"node2": "build-variant-mismatch"})
    empty.mkdir()
    assert main(["fleet", str(ok)]) == 0
    assert "3 nodes healthy" in capsys.readouterr().out
    assert main(["fleet", str(mixed)]) == 1
    assert "3 nodes healthy · 1 node `build-variant-mismatch`: node2" in capsys.readouterr().out
    assert main(["fleet", str(ok / "node1.json"), str(mixed / "node2.json")]) == 1  # files, not folders
    capsys.readouterr()
    assert main(["fleet", str(empty)]) == 2
    assert "no readable report" in capsys.readouterr().err
    assert main(["fleet", "--json", str(mixed)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["counts"] == {
        "hosts": 4,
        "healthy": 3,
        "degraded": 0,
        "unknown": 0,
        "broken": 1,
        "unreadable": 0,
        "superseded": 0,
        "ignored": 0,
    }
    with pytest.raises(SystemExit) as exc:
        main(["fleet"])
    assert exc.value.code == 2


def test_report_json_alias() -> None:
    parser = build_parser()
    assert parser.parse_args(["report", "--json", "-o", "r/{host}.json"]).format == "json"
    assert parser.parse_args(["report", "--format", "html"]).format == "html"
    assert parser.parse_args(["report"]).format is None


# -- the recipes -----------------------------------------------------------------------------------


def _doc_commands() -> list[str]:
    """Every ``tvwizard …`` command line in docs/fleet.md's code blocks and the k8s manifests."""
    doc = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    text = "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```", doc, flags=re.MULTILINE | re.DOTALL))
    for path in sorted((ROOT / "assets" / "k8s").glob("*.yaml")):
        text += "\n" + path.read_text(encoding="utf-8")
    found = []
    for m in re.finditer(r"(?:^|[\s'\"(;&|])(tvwizard(?: [^\n'\"`;&|>]+))", text):
        line = m.group(1).split(" #")[0].strip()
        if line.split()[1] in ("report", "fleet", "check", "--python"):
            found.append(line)
    return found


def test_recipes_use_real_options() -> None:
    commands = _doc_commands()
    assert len(commands) >= 6
    parser = build_parser()
    for cmd in commands:
        argv = [a for a in cmd.split()[1:] if a != "\\"]
        argv = [re.sub(r"\$\(?\{?(\w+)\}?\)?", r"x", a) for a in argv]  # $(NODE_NAME), ${DIR}
        parser.parse_args(argv)  # exits 2 on an unknown option
    text = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    for engine in ("srun --nodes=", "pdsh -w", "clush -w", "ansible ", "-m fetch", "kubectl apply"):
        assert engine in text, engine


def _load_yaml_documents(text: str) -> list[Any]:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return [_mini_yaml(doc) for doc in re.split(r"^---\s*$", text, flags=re.MULTILINE) if doc.strip()]
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _mini_yaml(text: str) -> Any:
    """Block-style YAML as the manifests use it: mappings, ``- `` lists, scalars, ``|`` blocks.

    Enough to check the structure where no YAML library is installed; it raises on
    indentation it cannot make sense of (tabs, a child less indented than its key).
    """
    lines = [
        (len(raw) - len(raw.lstrip(" ")), raw.strip())
        for raw in text.splitlines()
        if raw.strip() and not raw.lstrip().startswith("#")
    ]
    assert not any("\t" in raw for raw in text.splitlines()), "tabs in YAML"
    pos = 0

    def scalar(v: str) -> Any:
        v = v.split(" #")[0].strip()
        if v in ("true", "false"):
            return v == "true"
        if re.fullmatch(r"-?\d+", v):
            return int(v)
        if v[:1] in "\"'" and v[-1:] == v[:1]:
            return v[1:-1]
        if v.startswith("[") and v.endswith("]"):
            return [scalar(x) for x in v[1:-1].split(",") if x.strip()]
        return v

    def block(indent: int) -> Any:
        nonlocal pos
        if pos >= len(lines):
            return None
        if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
            out_list: list[Any] = []
            while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith("-"):
                item = lines[pos][1][1:].strip()
                if not item:
                    pos += 1
                    out_list.append(block(lines[pos][0]))
                elif item in ("|", ">", "|-", ">-"):  # "- |": a block scalar
                    pos += 1
                    body = []
                    while pos < len(lines) and lines[pos][0] > indent:
                        body.append(lines[pos][1])
                        pos += 1
                    out_list.append("\n".join(body))
                elif re.match(r"^[\w.\-/]+:(\s|$)", item):  # "- key: value" starts a mapping
                    lines[pos] = (indent + 2, item)
                    out_list.append(block(indent + 2))
                else:
                    out_list.append(scalar(item))
                    pos += 1
            return out_list
        out: dict[str, Any] = {}
        while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith("- "):
            key, sep, rest = lines[pos][1].partition(":")
            assert sep, f"not a mapping line: {lines[pos][1]!r}"
            rest = rest.strip()
            pos += 1
            if rest in ("|", ">", "|-", ">-"):
                body = []
                while pos < len(lines) and lines[pos][0] > indent:
                    body.append(lines[pos][1])
                    pos += 1
                out[key.strip()] = "\n".join(body)
            elif rest:
                out[key.strip()] = scalar(rest)
            elif pos < len(lines) and (
                lines[pos][0] > indent or (lines[pos][0] == indent and lines[pos][1].startswith("-"))
            ):
                out[key.strip()] = block(lines[pos][0])
            else:
                out[key.strip()] = None
        assert pos >= len(lines) or lines[pos][0] < indent, f"bad indentation at {lines[pos][1]!r}"
        return out

    result = block(lines[0][0]) if lines else None
    assert pos == len(lines), f"could not parse from {lines[pos][1]!r}"
    return result


@pytest.mark.parametrize("name", ["tvwizard-daemonset.yaml", "tvwizard-job.yaml"])
def test_k8s_manifests(name: str) -> None:
    text = (ROOT / "assets" / "k8s" / name).read_text(encoding="utf-8")
    docs = _load_yaml_documents(text)
    workload = next(d for d in docs if d["kind"] in ("DaemonSet", "Job"))
    assert workload["kind"] == ("DaemonSet" if "daemonset" in name else "Job")
    assert workload["apiVersion"] in ("apps/v1", "batch/v1")
    assert workload["metadata"]["name"]
    pod = workload["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if "tvwizard" in json.dumps(c)]
    command = " ".join(str(x) for x in (container.get("command") or []) + (container.get("args") or []))
    assert "tvwizard" in command and "report --json -o /reports/$(NODE_NAME).json" in command
    env = {e["name"]: e for e in container["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/reports" in mounts
    assert {v["name"] for v in pod["volumes"]} >= {m["name"] for m in container["volumeMounts"]}
    if workload["kind"] == "Job":
        assert pod["restartPolicy"] in ("Never", "OnFailure")
        assert workload["spec"]["completions"] == workload["spec"]["parallelism"]


def test_mini_yaml_parser() -> None:
    doc = _mini_yaml("a: 1\nb:\n  - x\n  - name: y\n    v: 'z'\nc:\n  d: true\ne: |\n  line1\n  line2\n")
    assert doc == {"a": 1, "b": ["x", {"name": "y", "v": "z"}], "c": {"d": True}, "e": "line1\nline2"}


if __name__ == "__main__":  # python tests/fast/test_fleet.py DIR [N]: write a fleet to look at
    print(len(write_fleet(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1000)))
