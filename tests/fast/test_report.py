"""The shareable report: Markdown/HTML golden files, JSON, redaction, compare.

Golden files live in ``tests/fast/golden/`` (``report.md``, ``report.html``).  After an
intended change to the renderers, regenerate them and review the diff::

    TVWIZARD_UPDATE_GOLDEN=1 .venv/bin/pytest tests/fast/test_report.py
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEnv

from tvwizard.model import (
    SCHEMA,
    Check,
    CheckStatus,
    Fact,
    Finding,
    Fix,
    LogLine,
    ProbeRun,
    Report,
    RunStatus,
    Severity,
    StepResult,
    Target,
)
from tvwizard.report import (
    GITHUB_COMMENT_LIMIT,
    Redactor,
    ReportLoadError,
    compare_reports,
    format_for_path,
    load_report,
    redact_report,
    render_compare_json,
    render_compare_text,
    render_html,
    render_json,
    render_markdown,
    render_report,
    summarize_facts,
)
from tvwizard.report.jsonfmt import REPORT_KEYS
from tvwizard.report.markdown import trim_text
from tvwizard.report.redact import is_secret_name

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("TVWIZARD_UPDATE_GOLDEN") == "1"

HOME, USER, HOST = "/home/alice", "alice", "gpu-node-07"
SITE = f"{HOME}/envs/tv/lib/python3.11/site-packages"

TORCHVISION_TRACEBACK = f"""Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "{SITE}/torchvision/__init__.py", line 10, in <module>
    from torchvision import _meta_registrations, datasets, io, models, ops, transforms, utils  # usort:skip
  File "{SITE}/torchvision/_meta_registrations.py", line 163, in <module>
    @torch.library.register_fake("torchvision::nms")
  File "{SITE}/torch/library.py", line 1063, in register
    use_lib._register_fake(op_name, func, _stacklevel=stacklevel + 1)
  File "{SITE}/torch/library.py", line 211, in _register_fake
    handle = entry.fake_impl.register(func_to_register, source)
  File "{SITE}/torch/_library/fake_impl.py", line 50, in register
    if torch._C._dispatch_has_kernel_for_dispatch_key(self.qualname, "Meta"):
RuntimeError: operator torchvision::nms does not exist
"""


def _probe(name: str, status: RunStatus = RunStatus.OK, **kw: Any) -> ProbeRun:
    return ProbeRun(name=name, title=kw.pop("title", name), status=status, **kw)


def make_report(broken: bool = True, flood: bool = True) -> dict[str, Any]:
    """A fixed report: torch 2.13.0+cpu with torchvision 0.29.1+cu130 (broken), or a healthy pair."""
    tv_variant = "cu130"
    torch_variant = "cpu" if broken else "cu130"
    torch_v, tv_v = f"2.13.0+{torch_variant}", f"0.29.1+{tv_variant}"
    # each probe's data in the shape the probe writes (see tests/fast/data/report-*.json, captured)
    version_py = {
        "torch": {"found": True, "local_tag": torch_variant, "cuda_from_tag": None if broken else "13.0"},
        "torchvision": {"found": True, "local_tag": tv_variant, "cuda_from_tag": "13.0"},
    }
    version_py["torch"]["values"] = {"__version__": torch_v, "cuda": None if broken else "13.0"}
    version_py["torchvision"]["values"] = {"__version__": tv_v}
    probes = [
        _probe(
            "interpreter",
            duration=0.081,
            data={
                "python": {
                    "version": "3.11.7",
                    "implementation": "cpython",
                    "executable": f"{HOME}/envs/tv/bin/python",
                    "prefix": f"{HOME}/envs/tv",
                    "base_prefix": "/usr",
                },
                "environment": {"env_kind": "venv", "in_venv": True},
                "platform": {
                    "system": "Linux",
                    "release": "6.8.0-49-generic",
                    "machine": "x86_64",
                    "libc": {"name": "glibc", "version": "2.39"},
                },
            },
        ),
        _probe(
            "distributions",
            duration=0.214,
            data={
                "locations": ["", "/usr/lib/python311.zip", SITE],
                "dists": [
                    {"name": "torch", "version": torch_v, "loc": 2, "installer": "pip"},
                    {"name": "torchvision", "version": "0.29.1", "loc": 2, "installer": "pip"},
                    {"name": "numpy", "version": "2.3.4", "loc": 2, "installer": "pip"},
                    {"name": "pillow", "version": "12.0.0", "loc": 2, "installer": "pip"},
                    {"name": "rich", "version": "15.0.0", "loc": 2, "installer": "pip"},
                ],
                "version_py": version_py,
            },
        ),
        _probe(
            "resolution",
            duration=0.05,
            data={
                "packages": {
                    "torch": {"origin": f"{SITE}/torch/__init__.py"},
                    "torchvision": {"origin": f"{SITE}/torchvision/__init__.py"},
                }
            },
        ),
        _probe(
            "envvars",
            duration=0.01,
            data={
                "vars": {
                    "CUDA_VISIBLE_DEVICES": {"kind": "plain", "redacted": False, "value": "0"},
                    "LD_LIBRARY_PATH": {"kind": "pathlist", "redacted": False, "value": "/usr/local/cuda-13.0/lib64"},
                    "PIP_INDEX_URL": {
                        "kind": "url",
                        "redacted": False,
                        "value": "https://download.pytorch.org/whl/cpu",
                    },
                }
            },
        ),
    ]
    if broken:
        live = _probe(
            "live",
            RunStatus.FAILED,
            title="import torch and torchvision",
            duration=3.402,
            started=0.4,
            returncode=1,
            error="step import_torchvision failed: RuntimeError: operator torchvision::nms does not exist",
            steps=[
                StepResult("import_torch", "ok", 1.532, {"version": torch_v, "cuda": None}),
                StepResult(
                    "import_torchvision",
                    "error",
                    1.704,
                    {
                        "error": {
                            "type": "RuntimeError",
                            "message": "operator torchvision::nms does not exist",
                            "traceback": TORCHVISION_TRACEBACK,
                        }
                    },
                ),
                StepResult(
                    "extensions",
                    "error",
                    0.12,
                    {
                        "error": f"OSError: libc10_cuda.so: cannot open shared "
                        f"object file (loading {SITE}/torchvision/_C.so)"
                    },
                ),
                StepResult("nms_cpu", "skipped", 0.0, {}),
            ],
            log=[
                LogLine(
                    "stderr",
                    f"{SITE}/torchvision/io/image.py:14: UserWarning: Failed to load image Python "
                    "extension: 'libc10_cuda.so: cannot open shared object file'",
                ),
                *[LogLine("stderr", line) for line in TORCHVISION_TRACEBACK.splitlines()],
            ],
        )
    else:
        live = _probe(
            "live",
            title="import torch and torchvision",
            duration=4.101,
            started=0.4,
            returncode=0,
            steps=[
                StepResult("import_torch", "ok", 1.5, {"version": torch_v, "cuda": "13.0"}),
                StepResult("import_torchvision", "ok", 0.9, {"version": tv_v}),
                StepResult("extensions", "ok", 0.1, {"summary": "_C and image loaded"}),
                StepResult("nms_cpu", "ok", 0.02, {"summary": "nms on cpu: 3 boxes kept"}),
                StepResult("nms_cuda:0", "ok", 1.2, {"summary": "nms on cuda:0: 3 boxes kept"}),
            ],
        )
    probes.append(live)
    if flood:
        # ~200 kB of ldd-like noise: exercises the Markdown size limit and HTML trimming.
        lines = [
            f"\tlibdep{i:05d}.so => {SITE}/nvidia/cu13/lib/libdep{i:05d}.so (0x00007f00{i:08x})" for i in range(2600)
        ]
        probes.append(
            _probe(
                "libraries",
                title="shared libraries of torchvision/_C.so",
                duration=0.733,
                log=[LogLine("stdout", line) for line in lines],
                log_dropped=4096,
            )
        )
    findings: list[Finding] = []
    checks = [
        Check("python", "Python interpreter", CheckStatus.OK, "3.11.7 (venv)", 0.081, "interpreter"),
        Check("import-torch", "import torch", CheckStatus.OK, torch_v, 1.532, "live"),
    ]
    if broken:
        fix = Fix(
            id="reinstall-matching-torchvision",
            title="Install the torchvision build that matches torch (CPU)",
            kind="command",
            why="torch is the CPU build; torchvision must come from the same index.",
            commands=[
                f"{HOME}/envs/tv/bin/python -m pip uninstall -y torchvision",
                f"{HOME}/envs/tv/bin/python -m pip install torchvision==0.29.1 "
                "--index-url https://download.pytorch.org/whl/cpu",
            ],
            changes="replaces torchvision 0.29.1+cu130 with 0.29.1+cpu in this environment",
            undo="pip install torchvision==0.29.1+cu130 --index-url https://download.pytorch.org/whl/cu130",
            download="about 2 MB",
            restart=True,
            applicable=True,
        )
        findings = [
            Finding(
                id="build-variant-mismatch",
                severity=Severity.ERROR,
                title="torch is a CPU build but torchvision is a CUDA 13.0 build",
                explanation=(
                    "torch 2.13.0+cpu has no CUDA libraries, and torchvision 0.29.1+cu130 needs them. "
                    "Its `_C` extension cannot load, so its operators are never registered."
                ),
                evidence=[
                    Fact("distributions", f"torch {torch_v}, torchvision {tv_v}"),
                    Fact(
                        "live",
                        "import torchvision failed",
                        "RuntimeError: operator torchvision::nms does not exist",
                    ),
                ],
                fixes=[fix],
                checks=["import-torchvision"],
            ),
            Finding(
                id="missing-shared-library",
                severity=Severity.ERROR,
                title="torchvision/_C.so needs libc10_cuda.so, which is not there",
                explanation="The dynamic loader cannot find libc10_cuda.so (it ships only with CUDA torch).",
                evidence=[Fact("live", "extensions step", "OSError: libc10_cuda.so: cannot open shared object file")],
                caused_by="build-variant-mismatch",
            ),
        ]
        checks += [
            Check(
                "import-torchvision",
                "import torchvision",
                CheckStatus.ERROR,
                "RuntimeError: operator torchvision::nms does not exist",
                1.704,
                "live",
            ),
            Check("nms-cpu", "torchvision.ops.nms on CPU", CheckStatus.SKIPPED, "import failed", None, "live"),
        ]
    else:
        checks += [
            Check("import-torchvision", "import torchvision", CheckStatus.OK, tv_v, 0.9, "live"),
            Check("nms-cuda", "torchvision.ops.nms on cuda:0", CheckStatus.OK, "NVIDIA H200", 1.2, "live"),
        ]
    report = Report(
        target=Target(
            python=f"{HOME}/envs/tv/bin/python",
            executable=f"{HOME}/envs/tv/bin/python",
            version="3.11.7",
            implementation="CPython",
            prefix=f"{HOME}/envs/tv",
            base_prefix="/usr",
            env_kind="venv",
            how_chosen="VIRTUAL_ENV",
            cwd=f"{HOME}/project",
        ),
        probes=probes,
        findings=findings,
        checks=checks,
        verdict="broken" if broken else "works",
        exit_code=1 if broken else 0,
        tvwizard_version="0.1.0",
        created="2026-03-14T09:26:53Z",
        duration=5.318,
        system={
            "os": "Ubuntu 24.04.1 LTS",
            "kernel": "6.8.0-49-generic",
            "cpu": "AMD EPYC 9654 96-Core Processor",
            "memory": "1.5 TiB",
            "gpu": {  # the shape tvwizard.gpu.collect_gpus writes (test_facts_of_collect_gpus_output)
                "state": "ok",
                "source": "nvml",
                "driver": "580.95.05",
                "cuda_driver": "13.0",
                "cuda_driver_int": 13000,
                "reason": None,
                "gpus": [
                    {
                        "index": 0,
                        "name": "NVIDIA H200",
                        "uuid": "GPU-4f1c9a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b",
                        "compute_capability": "9.0",
                        "cc_major": 9,
                        "cc_minor": 0,
                        "memory_total_mib": 143771,
                        "mig_mode": "disabled",
                        "visible": True,
                        "cuda_index": 0,
                        "errors": {},
                    }
                ],
                "visible_devices": {"env": "0", "set": True, "visible": [0], "hidden": []},
                "linux": {
                    "kernel_module": "580.95.05",
                    "nodes": {"/dev/nvidiactl": "ok", "/dev/nvidia-uvm": "ok", "/dev/nvidia0": "ok"},
                },
                "attempts": [{"source": "nvml", "ok": True, "state": "ok", "error": None, "duration": 0.012}],
            },
        },
        timings={"total": 5.318},
    )
    return report.to_dict()


def fixed_redactor() -> Redactor:
    return Redactor(home=HOME, user=USER, host=HOST)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} did not exist and was written; check it and run again")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file; TVWIZARD_UPDATE_GOLDEN=1 to regenerate"


# -- golden files ---------------------------------------------------------------------------


def test_markdown_golden() -> None:
    text, _ = render_report(make_report(), "md", redactor=fixed_redactor())
    _golden("report.md", text)


def test_html_golden() -> None:
    text, _ = render_report(make_report(), "html", redactor=fixed_redactor())
    _golden("report.html", text)


# -- Markdown -------------------------------------------------------------------------------


def test_markdown_order_verdict_causes_fixes_facts() -> None:
    text, _ = render_report(make_report(), "md", redactor=fixed_redactor())
    order = [
        "# ❌ `import torchvision` is broken",
        "## Root cause",
        "build-variant-mismatch",
        "## Fixes",
        "```sh",
        "## Checklist",
        "## Environment",
        "### torch and torchvision",
        "### GPU and driver",
        "### Environment variables",
        "## Probes",
        "## Logs",
        "<details>",
        "## Redaction",
    ]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    # the symptom is listed under its root cause, not as a second root cause
    assert "What it causes" in text and "## Root causes" not in text
    assert text.count("`missing-shared-library`") >= 1


def test_markdown_fits_github_and_says_it_trimmed() -> None:
    report = make_report()
    text = render_markdown(report)
    assert len(text) <= GITHUB_COMMENT_LIMIT
    assert "trimmed" in text and "65,536" in text
    # the tail of the flood (where errors usually are) and the traceback survive
    assert "libdep02599.so" in text
    assert "RuntimeError: operator torchvision::nms does not exist" in text
    # details blocks are balanced and every code fence is closed
    assert text.count("<details>") == text.count("</details>")
    assert text.count("\n```") % 2 == 0


def test_markdown_without_flood_is_not_trimmed() -> None:
    text = render_markdown(make_report(flood=False))
    assert "trimmed" not in text


def test_markdown_small_limit_still_holds() -> None:
    text = render_markdown(make_report(), max_chars=12_000)
    assert len(text) <= 12_000
    assert "trimmed" in text


def test_markdown_escapes_html_in_text() -> None:
    report = make_report(flood=False)
    report["findings"][0]["title"] = "bad <script>alert(1)</script> | pipe"
    text = render_markdown(report)
    assert "<script>" not in text


def test_trim_text_keeps_head_and_tail_and_says_so() -> None:
    text = "\n".join(f"line {i}" for i in range(10_000))
    out, cut = trim_text(text, 2_000, "because")
    assert cut and len(out) <= 2_000
    assert out.startswith("line 0\n") and out.endswith("line 9999")
    assert "trimmed here: because" in out
    assert trim_text("short", 100, "x") == ("short", False)
    one_line, cut = trim_text("x" * 50_000, 1_000, "x")
    assert cut and len(one_line) < 1_200


# -- HTML -----------------------------------------------------------------------------------


def test_html_self_contained_and_escaped() -> None:
    report = make_report()
    report["findings"][0]["explanation"] = "<img src=x onerror=alert(1)> & more"
    text = render_html(report)
    assert text.startswith("<!DOCTYPE html>")
    assert "<img" not in text and "&lt;img src=x" in text
    for external in ("http-equiv", "<script", "<link", 'src="http', "@import", "url("):
        assert external not in text
    assert "prefers-color-scheme: dark" in text and "color-scheme: light dark" in text
    assert "<details>" in text and "trimmed" in text


# -- JSON -----------------------------------------------------------------------------------


def test_json_stable_order_and_roundtrip() -> None:
    report = make_report()
    text = render_json(report)
    assert text.endswith("}\n") and text.startswith('{\n  "schema": "tvwizard.report/1",\n')
    data = json.loads(text)
    assert list(data) == [k for k in REPORT_KEYS if k in data]
    # the same report with shuffled keys renders byte-identical
    rng = random.Random(7)

    def shuffle(v: Any) -> Any:
        if isinstance(v, dict):
            items = list(v.items())
            rng.shuffle(items)
            return {k: shuffle(x) for k, x in items}
        if isinstance(v, list):
            return [shuffle(x) for x in v]
        return v

    assert render_json(shuffle(report)) == text
    back = Report.from_dict(data)
    assert back.to_dict()["findings"] == report["findings"]


def test_render_report_json_matches_model_and_carries_redaction() -> None:
    text, summary = render_report(make_report(), "json", redactor=fixed_redactor())
    data = json.loads(text)
    assert data["schema"] == SCHEMA
    assert data["redaction"] == summary and summary["enabled"] is True
    assert summary["counts"]["home"] > 0 and summary["counts"]["gpu_uuids"] == 1
    Report.from_dict(data)


def test_no_redact_warns_in_every_format() -> None:
    for fmt in ("md", "html", "json"):
        text, summary = render_report(make_report(flood=False), fmt, redact=False)
        assert summary["enabled"] is False
        assert "redaction is OFF" in text
        assert HOME in text


def test_render_report_unknown_format() -> None:
    with pytest.raises(ValueError, match="md, json, html"):
        render_report(make_report(), "pdf")
    assert format_for_path("x/report.HTML") == "html" and format_for_path("-") == "md"


# -- redaction ------------------------------------------------------------------------------

P_HOME, P_USER, P_HOST = "/home/zq-quux", "zqquux", "node-17x.corp.example"
TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
GH_TOKEN = "ghp_0123456789abcdefghijABCDEFGHIJklmnop"
PASSWORD = "hunter2-Pa55word"
GPU_UUID = "GPU-deadbeef-1234-5678-9abc-def012345678"
MIG_UUID = "MIG-cafebabe-1234-5678-9abc-def012345678"
SERIAL = "1654321098765"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
INDEX_URL = f"https://{P_USER}:{PASSWORD}@pypi.corp.example/simple"
SECRETS = [
    P_HOME,
    P_USER,
    "node-17x",
    P_HOST,
    TOKEN,
    GH_TOKEN,
    PASSWORD,
    GPU_UUID,
    "deadbeef",
    MIG_UUID,
    "cafebabe",
    SERIAL,
    AWS_KEY,
]


def planted_report() -> dict[str, Any]:
    """Every section carries a home path, the user, the host, a token, a password and a GPU UUID."""
    plant = (
        f"{P_HOME}/envs/x on {P_HOST} as {P_USER} token={TOKEN} via {INDEX_URL} gpu {GPU_UUID} Serial Number: {SERIAL}"
    )
    r = make_report()
    r["created"] = "2026-03-14T09:26:53Z"
    r["target"].update(python=f"{P_HOME}/venv/bin/python", cwd=f"/scratch/{P_USER}/work", how_chosen=plant)
    r["system"]["hostname"] = P_HOST
    r["system"]["user"] = P_USER
    r["system"]["gpu"]["gpus"].append({"name": "NVIDIA A100 (MIG)", "uuid": MIG_UUID, "serial": SERIAL})
    r["system"]["gpu"]["nvidia_smi"] = f"GPU 0: NVIDIA H200 (UUID: {GPU_UUID})\nGPU 1: A100 ({MIG_UUID})"
    for chk in r["checks"]:
        chk["summary"] += " " + plant
    for f in r["findings"]:
        f["explanation"] += " " + plant
        for e in f["evidence"]:
            e["detail"] = plant
        for fix in f["fixes"]:
            fix["commands"].append(f"pip install torchvision --index-url {INDEX_URL}")
            fix["env"] = {"HF_TOKEN": TOKEN}
    for p in r["probes"]:
        p["error"] = plant
        p["fault"] = f'Fatal Python error: Segmentation fault\n  File "{P_HOME}/x.py", line 3 in <module>\n{plant}'
        p["log"].append({"stream": "stderr", "text": plant})
        p["log"].append({"stream": "stderr", "text": f"export GITHUB_TOKEN={GH_TOKEN}; AWS key {AWS_KEY}"})
        p["log"].append({"stream": "stderr", "text": f"Authorization: Bearer {TOKEN}"})
        for s in p["steps"]:
            s["data"]["error"] = {
                "type": "OSError",
                "message": plant,
                "traceback": f'  File "{P_HOME}/a.py"\n{plant}',
            }
        if p["name"] == "envvars":
            p["data"]["vars"].update(
                {
                    "HF_TOKEN": TOKEN,
                    "PIP_EXTRA_INDEX_URL": INDEX_URL,
                    "PIP_PASSWORD": PASSWORD,
                    "HOME": P_HOME,
                    "HOSTNAME": P_HOST,
                    "MY_APP_SETTING": PASSWORD,
                }
            )
        if p["name"] == "distributions":
            p["data"]["dists"].append({"name": "x", "version": "1", "location": f"{P_HOME}/.local/lib"})
    # keep the planted lines out of the flood's trimmed middle: put them first as well
    flood = next(p for p in r["probes"] if p["name"] == "libraries")
    flood["log"].insert(0, {"stream": "stderr", "text": plant})
    return r


def test_redaction_removes_every_planted_secret_in_every_format() -> None:
    report = planted_report()
    raw = json.dumps(report)
    for secret in SECRETS:
        assert secret in raw  # planted
    redactor = Redactor(home=P_HOME, user=P_USER, host=P_HOST)
    for fmt in ("md", "json", "html"):
        text, summary = render_report(report, fmt, redactor=redactor)
        for secret in SECRETS:
            assert secret.lower() not in text.lower(), f"{secret!r} survived in {fmt}"
        assert "~/envs/x" in text and "<user>" in text.replace("&lt;", "<").replace("&gt;", ">")
        counts = summary["counts"]
        for category in (
            "home",
            "user",
            "host",
            "gpu_uuids",
            "serials",
            "url_credentials",
            "tokens",
            "secret_values",
            "env_not_allowlisted",
        ):
            assert counts.get(category), f"nothing counted for {category} ({fmt})"
    # the redacted dict itself (every section, untrimmed) holds none of them either
    redacted, _ = redact_report(report, redactor)
    dumped = json.dumps(redacted).lower()
    for secret in SECRETS:
        assert secret.lower() not in dumped
    env = next(p for p in redacted["probes"] if p["name"] == "envvars")["data"]["vars"]
    assert "HOME" not in env and "MY_APP_SETTING" not in env and "HOSTNAME" not in env
    assert "HF_TOKEN" not in env  # not on the allowlist: dropped
    assert env["PIP_PASSWORD"] == "<redacted>" and env["CUDA_VISIBLE_DEVICES"]["value"] == "0"
    assert env["PIP_EXTRA_INDEX_URL"] == "https://<redacted>@pypi.corp.example/simple"
    assert report["target"]["python"].startswith(P_HOME)  # the input is not modified


def test_redaction_summary_is_shown() -> None:
    text, _ = render_report(planted_report(), "md", redactor=Redactor(home=P_HOME, user=P_USER, host=P_HOST))
    assert "## Redaction" in text and "Redaction: on." in text
    assert "GPU/MIG UUIDs" in text and "credentials in URLs" in text


def test_redaction_does_not_shred_short_or_common_names() -> None:
    r = Redactor(home="/home/a", user="a", host="gpu")
    assert r.redact_text("a cat ate a gpu driver") == "a cat ate a gpu driver"
    assert r.redact_text("/home/a/x /scratch/a/y a@gpu") == "~/x /scratch/<user>/y <user>@<host>"
    root = Redactor(home="/root", user="root", host="x")
    assert root.redact_text("the root cause: /root/.cache") == "the root cause: ~/.cache"
    alice = fixed_redactor()
    assert alice.redact_text("/home/alice2 /mnt/home/alice/z alice-dev Alice") == (
        "/home/alice2 /mnt/home/<user>/z <user>-dev <user>"
    )
    assert alice.redact_text("tokenizers==0.21.0 max_tokens=3 pretokenized=1") == (
        "tokenizers==0.21.0 max_tokens=3 pretokenized=1"
    )
    assert alice.redact_text("sha a1b2alice3 gpu-node-07x") == "sha a1b2alice3 gpu-node-07x"
    assert alice.redact_text("https://x.org/simple?token=abc123&a=1") == "https://x.org/simple?token=<redacted>&a=1"
    assert is_secret_name("AWS_SECRET_ACCESS_KEY") and is_secret_name("dbPassword")
    assert not is_secret_name("tokenizers") and not is_secret_name("PWD")


# -- facts ----------------------------------------------------------------------------------


def test_facts_tolerate_missing_everything() -> None:
    facts = summarize_facts({"schema": SCHEMA})
    assert facts["meta"]["verdict"] == "unknown"
    assert facts["packages"]["torch"]["version"] is None
    render_markdown({"schema": SCHEMA})
    render_html({"schema": SCHEMA, "probes": [{"name": "live", "data": None, "steps": None}]})


def test_facts_of_broken_report() -> None:
    facts = summarize_facts(make_report())
    assert facts["packages"]["torch"]["variant"] == "cpu"
    assert facts["packages"]["torchvision"]["variant"] == "cu130"
    assert facts["packages"]["torchvision"]["origin"].endswith("torchvision/__init__.py")
    assert [f["id"] for f in facts["findings"]["roots"]] == ["build-variant-mismatch"]
    assert facts["findings"]["symptoms"]["build-variant-mismatch"][0]["id"] == "missing-shared-library"
    assert facts["gpu"]["gpus"][0]["capability"] == "9.0"
    assert facts["env"]["CUDA_VISIBLE_DEVICES"] == "0"


def test_one_fix_for_two_findings_is_listed_once_for_both() -> None:
    """An old driver and an old GPU both point at the same new pair: one fix, named for both."""
    pair = {"id": "install-pair-for-driver", "title": "Install the cu118 pair", "kind": "command"}
    pair["commands"] = ["python -m pip install torch==2.7.1+cu118 torchvision==0.22.1+cu118"]
    report = {
        "schema": SCHEMA,
        "findings": [
            {"id": "driver-too-old", "severity": "error", "title": "old driver", "fixes": [pair]},
            {
                "id": "gpu-arch-unsupported",
                "severity": "error",
                "title": "old GPU",
                "fixes": [
                    {**pair, "id": "install-pair-for-gpu"},
                    {"id": "install-cpu-pair", "title": "CPU", "kind": "command", "commands": ["pip install cpu"]},
                ],
            },
        ],
    }
    fixes = summarize_facts(report)["findings"]["fixes"]
    assert [(f["id"], f["finding"], f["also_for"]) for f in fixes] == [
        ("install-pair-for-driver", "driver-too-old", ["gpu-arch-unsupported"]),
        ("install-cpu-pair", "gpu-arch-unsupported", []),
    ]
    md = render_markdown(report)
    assert md.count("torch==2.7.1+cu118") == 1
    assert "For `driver-too-old`, `gpu-arch-unsupported`" in md


def test_facts_of_collect_gpus_output(tmp_path: Path) -> None:
    """The report reads what tvwizard.gpu really writes: an A100 in MIG mode and a hidden 4090."""
    from fakes import fake_driver_root
    from test_system_gpu import A100, RTX4090, FakeNVML

    from tvwizard.gpu import collect_gpus

    root = fake_driver_root(tmp_path, module="550.54.14", nodes=("nvidiactl", "nvidia0", "nvidia1"))
    gpu = collect_gpus(
        nvml=FakeNVML(driver="550.54.15", cuda=12040, devices=[{**A100, "mig": (1, 1)}, RTX4090]),
        env={"PATH": "/nonexistent", "CUDA_VISIBLE_DEVICES": "0"},
        smi_dirs=(),
        root=str(root),
    )
    report = make_report()
    report["system"]["gpu"] = gpu
    facts = summarize_facts(report)["gpu"]
    assert (facts["driver"], facts["cuda"], facts["source"], facts["state"]) == ("550.54.15", "12.4", "nvml", "ok")
    a100, rtx = facts["gpus"]
    assert (a100["capability"], a100["memory"], a100["mig"], a100["visible"]) == ("8.0", "80.0 GiB", "enabled", True)
    assert (rtx["capability"], rtx["memory"], rtx["visible"]) == ("8.9", "24.0 GiB", False)
    text = render_markdown(report)
    assert "Driver `550.54.15`, driver supports CUDA up to `12.4` (read with nvml); the loaded kernel module is" in text
    assert "| 1 | NVIDIA GeForce RTX 4090 | 8.9 | 24.0 GiB | — | no (CUDA_VISIBLE_DEVICES) |" in text
    # an A100 and a 4090, CUDA_DEVICE_ORDER unset: CUDA may number them otherwise than NVML
    assert "CUDA_VISIBLE_DEVICES='0': 1 of 2 GPU(s) visible (GPU 0 as cuda:0); these GPUs differ" in text
    assert "Device nodes: /dev/nvidia-uvm missing" in text


def test_facts_of_a_real_captured_report() -> None:
    """tests/fast/data/report-broken.json is a real `check --json` of torch 2.13.0+cpu with
    torchvision 0.29.1+cu130: the facts must come out of the probes' real shapes."""
    real = json.loads((Path(__file__).parent / "data" / "report-broken.json").read_text())
    facts = summarize_facts(real)
    assert facts["env"]["PIP_FIND_LINKS"] == "/opt/wheels"  # the value, not the probe's record of it
    assert facts["env"]["PATH"].startswith("/home/alice/.cargo/bin:")
    tv, torch = facts["packages"]["torchvision"], facts["packages"]["torch"]
    assert (tv["version"], tv["cuda"], tv["variant"]) == ("0.29.1+cu130", "13.0", "cu130")
    assert (torch["version"], torch["cuda"], torch["variant"]) == ("2.13.0+cpu", None, "cpu")
    libs = {lib["name"]: lib for lib in facts["libraries"]}
    assert libs["libc10.so"]["path"].endswith("/site-packages/torch/lib/libc10.so")
    assert libs["libjpeg.67fb65bd.so.8"]["path"].endswith("/site-packages/torchvision.libs/libjpeg.67fb65bd.so.8")
    assert libs["libcudart.so.13"]["via"] == "ld.so.cache"
    assert "libc.so.6" not in libs and "ld-linux-x86-64.so.2" not in libs
    text = render_markdown(real)
    assert "| `PIP_FIND_LINKS` | `/opt/wheels` |" in text and "'kind'" not in text
    assert "| CUDA (build) | — | 13.0 |" in text


def test_report_names_the_version_the_live_import_loaded_as_the_diagnosis_does(tmp_path: Path) -> None:
    """version.py says 0.29.1 but the import loaded 0.27.0 (a shadowing copy, a stale install):
    the report reads versions through the facts layer, live import first, like the diagnosis."""
    from fakes import check_json_with, fake_env_vars

    from tvwizard.facts.evidence import Evidence

    site = FakeEnv().build(tmp_path / "site")
    init = site / "torchvision" / "__init__.py"
    init.write_text(init.read_text() + "__version__ = '0.27.0+cu130'\n")
    work = tmp_path / "work"
    work.mkdir()
    report = check_json_with(fake_env_vars(site), work)
    assert Evidence.from_report(report).version_py("torchvision")["__version__"] == "0.29.1+cu130"
    diagnosed = Evidence.from_report(report).torchvision_version()
    assert diagnosed == "0.27.0+cu130"
    assert summarize_facts(report)["packages"]["torchvision"]["version"] == diagnosed
    assert "torchvision 0.27.0+cu130" in render_markdown(report).split("\n", 3)[2]


@pytest.mark.parametrize("name", ["report-broken.json", "report-healthy.json", "report-version-mismatch.json"])
def test_a_real_captured_report_names_the_versions_the_diagnosis_read(name: str) -> None:
    """Real ``check --json`` output (tests/fast/data): the report's package facts are the facts
    layer's, read back from the saved report, and agree with what the findings say."""
    from tvwizard.facts.evidence import Evidence

    real = json.loads((Path(__file__).parent / "data" / name).read_text())
    ev = Evidence.from_report(real)
    packages = summarize_facts(real)["packages"]
    assert packages["torch"]["version"] == ev.torch_version() and ev.torch_version()
    assert packages["torchvision"]["version"] == ev.torchvision_version() and ev.torchvision_version()
    assert packages["torchvision"]["origin"] == ev.import_origin("torchvision")
    assert packages["torchvision"]["origin"].endswith("/site-packages/torchvision/__init__.py")
    header = render_markdown(real).split("\n", 3)[2]
    assert f"`torch {ev.torch_version()}`" in header and f"`torchvision {ev.torchvision_version()}`" in header


def test_the_version_mismatch_report_agrees_with_its_finding() -> None:
    """torch 2.14.1+cu130 with torchvision 0.28.0 (real env tv028-on-torch2141, captured)."""
    real = json.loads((Path(__file__).parent / "data" / "report-version-mismatch.json").read_text())
    packages = summarize_facts(real)["packages"]
    finding = next(f for f in real["findings"] if f["id"] == "version-mismatch")
    assert f"your torch is {packages['torch']['version']}" in finding["title"]
    assert finding["title"].startswith(f"torchvision {packages['torchvision']['version'].split('+')[0]} ")
    assert (packages["torch"]["variant"], packages["torchvision"]["variant"]) == ("cu130", "cu130")


# -- compare --------------------------------------------------------------------------------


@pytest.fixture
def two_reports(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(render_report(make_report(broken=False), "json", redactor=fixed_redactor())[0])
    bad.write_text(render_report(make_report(broken=True), "json", redactor=fixed_redactor())[0])
    return good, bad


def test_compare_healthy_vs_broken(two_reports: tuple[Path, Path]) -> None:
    good, bad = two_reports
    diff = compare_reports(load_report(good), load_report(bad), labels=("good.json", "bad.json"))
    sections = {s["name"]: {r["key"]: r for r in s["rows"]} for s in diff["sections"]}
    assert sections["summary"]["verdict"]["a"] == "works" and sections["summary"]["verdict"]["b"] == "broken"
    assert sections["versions"]["torch"] == {
        "key": "torch",
        "a": "2.13.0+cu130",
        "b": "2.13.0+cpu",
        "change": "changed",
    }
    assert sections["variants"]["torch variant"]["b"] == "cpu"
    assert sections["findings"]["build-variant-mismatch"]["change"] == "added"
    assert sections["probes"]["live"]["b"] == "failed"
    assert "torchvision variant" not in sections["variants"]  # same on both: not listed
    assert diff["findings"]["only_b"] == ["build-variant-mismatch", "missing-shared-library"]
    text = render_compare_text(diff)
    assert "good.json" in text and "Build variants" in text and "2.13.0+cpu" in text
    assert json.loads(render_compare_json(diff)) == diff


def test_compare_same_report_has_no_differences(two_reports: tuple[Path, Path]) -> None:
    good, _ = two_reports
    diff = compare_reports(load_report(good), load_report(good))
    assert diff["differences"] == 0
    assert "No differences." in render_compare_text(diff)


def test_compare_reads_an_older_additive_report(two_reports: tuple[Path, Path], tmp_path: Path) -> None:
    good, _ = two_reports
    data = json.loads(good.read_text())
    for key in ("timings", "redaction", "system"):  # an earlier /1 writer without these
        del data[key]
    data["some_future_field"] = {"x": 1}  # … or a later /1 writer with more
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    diff = compare_reports(load_report(old), load_report(good))
    assert diff["differences"] > 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema": "tvwizard.report/2", "probes": []}', "newer tvwizard"),
        ('{"schema": "tvwizard.report/0"}', "older tvwizard"),
        ('{"schema": "something.else/1"}', "not a tvwizard report"),
        ('{"verdict": "works"}', 'no "schema" key'),
        ("[1, 2, 3]", "not a tvwizard report"),
        ("hello world", "not valid JSON"),
        ("", "empty"),
        ("# ❌ `import torchvision` is broken\n", "Markdown report"),
        ("<!DOCTYPE html>\n<html>", "HTML report"),
        ('{"schema": "tvwizard.report/1", "probes": {}}', "'probes' is a dict"),
    ],
)
def test_load_report_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "r.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportLoadError, match=message.replace("(", r"\(")) as info:
        load_report(path)
    assert str(path) in str(info.value)


def test_load_report_truncated(two_reports: tuple[Path, Path], tmp_path: Path) -> None:
    good, _ = two_reports
    text = good.read_text()
    inside_a_string = text.index('"title": "') + 14
    cuts = {len(text) // 2, len(text) - 3, 100, inside_a_string, *range(1, min(len(text), 3000), 53)}
    for cut in sorted(cuts):
        path = tmp_path / f"cut{cut}.json"
        path.write_text(text[:cut])
        with pytest.raises(ReportLoadError, match="truncated"):
            load_report(path)


def test_load_report_missing_and_binary(tmp_path: Path) -> None:
    with pytest.raises(ReportLoadError, match="no such file"):
        load_report(tmp_path / "nope.json")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ReportLoadError, match="not UTF-8"):
        load_report(binary)


def test_keys_that_differ_only_in_a_redacted_part_are_all_kept() -> None:
    """Two MIG instances in CUDA_VISIBLE_DEVICES are two keys of visible_devices.mig: after
    redaction both read MIG-<redacted>, and neither may swallow the other."""
    mig = {
        "MIG-11111111-2222-3333-4444-555555555555": 0,
        "MIG-21111111-2222-3333-4444-555555555555": 0,
        "MIG-31111111-2222-3333-4444-555555555555": 1,
    }
    out = fixed_redactor().redact_value({"mig": mig})["mig"]
    assert list(out.values()) == [0, 0, 1]
    assert len(out) == 3 and all(k.startswith("MIG-") and "1111" not in k for k in out)


def test_compare_tells_an_empty_variable_from_an_unset_one() -> None:
    """CUDA_VISIBLE_DEVICES="" hides every GPU; unset shows them all: compare must not call them equal."""

    def with_env(variables: dict) -> dict:
        report = {"schema": SCHEMA, "probes": [{"name": "envvars", "status": "ok", "data": {"vars": variables}}]}
        return report

    unset = with_env({"LD_LIBRARY_PATH": {"value": "/opt/lib", "kind": "path"}})
    empty = with_env({"LD_LIBRARY_PATH": {"value": "/opt/lib"}, "CUDA_VISIBLE_DEVICES": {"value": ""}})
    diff = compare_reports(unset, empty)
    env = next(s for s in diff["sections"] if s["name"] == "env")
    assert env["rows"] == [{"key": "CUDA_VISIBLE_DEVICES", "a": None, "b": '""', "change": "added"}]
    assert env["same"] == 1


def test_a_text_redacted_again_counts_again_and_comes_out_the_same():
    """The redactor remembers what each distinct text becomes (a report repeats its paths); each
    occurrence still counts, so the summary says how many places were redacted."""
    from tvwizard.report.redact import Redactor

    red = Redactor(home="/home/alice", user="alice", host="box1", secrets=["s3cr3t-value"])
    text = "/home/alice/venv/bin/python failed: token s3cr3t-value on box1"
    first = red.redact_text(text)
    counts = dict(red.counts)
    assert red.redact_text(text) == first and "alice" not in first and "s3cr3t" not in first
    assert dict(red.counts) == {k: 2 * v for k, v in counts.items()}
