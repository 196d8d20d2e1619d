"""Env-var fixes rendered for each shell: exact lines, quoting, detection."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from tvwizard.fixes.shell import SHELLS, detect_shell, env_line, fix_lines, next_shell, render_env
from tvwizard.model import Fix


@pytest.mark.parametrize(
    ("shell", "set_line", "unset_line"),
    [
        ("bash", "export LD_LIBRARY_PATH=/opt/a:/opt/b", "unset LD_PRELOAD"),
        ("zsh", "export LD_LIBRARY_PATH=/opt/a:/opt/b", "unset LD_PRELOAD"),
        ("fish", "set -gx LD_LIBRARY_PATH '/opt/a:/opt/b'", "set -e LD_PRELOAD"),
        (
            "powershell",
            "$env:LD_LIBRARY_PATH = '/opt/a:/opt/b'",
            "Remove-Item Env:LD_PRELOAD -ErrorAction SilentlyContinue",
        ),
    ],
)
def test_set_and_unset(shell, set_line, unset_line):
    assert render_env({"LD_LIBRARY_PATH": "/opt/a:/opt/b", "LD_PRELOAD": None}, shell) == [set_line, unset_line]


def test_quoting_keeps_values_verbatim():
    value = "it's $HOME `x` \\ end"
    assert shlex.split(env_line("X", value, "bash"))[1] == f"X={value}"
    assert env_line("X", value, "fish") == "set -gx X 'it\\'s $HOME `x` \\\\ end'"
    assert env_line("X", value, "powershell") == "$env:X = 'it''s $HOME `x` \\ end'"
    assert env_line("X", "", "bash") == "export X=''"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_really_sets_the_value():
    value = "a b'c\"$d`e`\\f"
    script = env_line("TVW_X", value, "bash") + '; printf %s "$TVW_X"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == value


@pytest.mark.skipif(shutil.which("fish") is None, reason="no fish")
def test_fish_really_sets_the_value():
    value = "a b'c\"$d\\f"
    script = env_line("TVW_X", value, "fish") + '; printf %s "$TVW_X"'
    out = subprocess.run(["fish", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == value


@pytest.mark.parametrize("bad", ["", "1X", "A-B", "A B", "X;rm"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ValueError):
        env_line(bad, "v", "bash")


def test_unknown_shell():
    with pytest.raises(ValueError):
        env_line("X", "v", "tcsh")


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"SHELL": "/bin/bash"}, "bash"),
        ({"SHELL": "/usr/bin/zsh"}, "zsh"),
        ({"SHELL": "/usr/local/bin/fish"}, "fish"),
        ({"SHELL": "/usr/bin/pwsh"}, "powershell"),
        ({"PSModulePath": "C:\\x"}, "powershell"),
        ({"SHELL": "/bin/zsh", "PSModulePath": "/opt/pwsh"}, "zsh"),  # pwsh modules on a zsh box
        ({}, "bash"),
        ({"SHELL": "/bin/sh"}, "bash"),
    ],
)
def test_detect_shell(env, want):
    assert detect_shell(env) == want


def test_next_shell_cycles_through_all():
    seen = ["bash"]
    for _ in SHELLS:
        seen.append(next_shell(seen[-1]))
    assert seen == ["bash", "zsh", "fish", "powershell", "bash"]
    assert next_shell("nonsense") == "bash"


def test_fix_lines():
    env_fix = Fix(id="e", title="t", kind="env", env={"LD_PRELOAD": None})
    cmd_fix = Fix(id="c", title="t", kind="command", commands=["python -m pip install x"])
    assert fix_lines(env_fix, "fish") == ["set -e LD_PRELOAD"]
    assert fix_lines(cmd_fix, "fish") == ["python -m pip install x"]
