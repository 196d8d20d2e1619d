"""The fix plan as printed by `tvwizard fix`, and the env file it writes."""

from __future__ import annotations

import io

from tvwizard.cli.fix import env_file_text, plan, print_plan
from tvwizard.model import Finding, Fix, Report, Severity, Target


def report() -> Report:
    env_fix = Fix(
        id="trim-ld-library-path",
        title="Take /usr/local/cuda/lib64 out of LD_LIBRARY_PATH",
        kind="env",
        env={"LD_LIBRARY_PATH": "/opt/my libs", "LD_PRELOAD": None},
        restart=True,
    )
    cmd = ["/e/bin/python", "-m", "pip", "install", "torchvision==0.29.1"]
    cmd_fix = Fix(
        id="install-paired-torchvision",
        title="Install torchvision 0.29.1",
        kind="command",
        commands=["/e/bin/python -m pip install torchvision==0.29.1"],
        argv=[cmd],
        applicable=True,
        download="under 10 MB",
        undo="reinstall 0.28.0",
    )
    findings = [
        Finding("library-path-override", Severity.ERROR, "LD_LIBRARY_PATH shadows libnvJitLink", fixes=[env_fix]),
        Finding("version-mismatch", Severity.ERROR, "torchvision 0.28.0 is made for torch 2.13", fixes=[cmd_fix]),
        Finding("build-variant-mismatch", Severity.ERROR, "same fix", fixes=[cmd_fix]),
        Finding("import-failed", Severity.ERROR, "symptom", caused_by="version-mismatch", fixes=[cmd_fix]),
    ]
    return Report(
        target=Target(python="/e/bin/python"), probes=[], findings=findings, checks=[], verdict="broken", exit_code=1
    )


def test_plan_lists_roots_only_and_shows_a_repeated_fix_once():
    r = report()
    items = plan(r)
    assert [f.id for f, _ in items] == ["library-path-override", "version-mismatch", "build-variant-mismatch"]
    out = io.StringIO()
    print_plan(r, items, out=out, shell="fish")
    text = out.getvalue()
    assert "set -gx LD_LIBRARY_PATH '/opt/my libs'" in text and "set -e LD_PRELOAD" in text
    assert text.count("pip install torchvision==0.29.1") == 1
    assert "the same as 2. fix 1 above" in text
    assert "downloads: under 10 MB" in text and "undo: reinstall 0.28.0" in text


def test_plan_for_one_finding_includes_symptoms_when_asked():
    items = plan(report(), "import-failed")
    assert [f.id for f, _ in items] == ["import-failed"]


def test_env_file_for_each_shell():
    items = plan(report())
    bash = env_file_text(items, "bash")
    assert "export LD_LIBRARY_PATH='/opt/my libs'" in bash and "unset LD_PRELOAD" in bash
    ps = env_file_text(items, "powershell")
    assert "$env:LD_LIBRARY_PATH = '/opt/my libs'" in ps and "Remove-Item Env:LD_PRELOAD" in ps
    assert "pip install" not in bash  # only env fixes go in the file
