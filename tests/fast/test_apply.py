"""Applying a fix: only the target's own installer runs, never sudo, output streamed, failures stop."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tvwizard.fixes.apply import FixRefused, apply_fix, check_runnable
from tvwizard.model import Fix

PY = sys.executable


def fix(*argv: list[str], applicable: bool = True, kind: str = "command") -> Fix:
    return Fix(id="f", title="t", kind=kind, argv=list(argv), applicable=applicable)


@pytest.mark.parametrize(
    ("f", "why"),
    [
        (fix(["sudo", PY, "-m", "pip", "install", "x"]), "sudo"),
        (fix(["pip", "install", "x"]), "not the target"),
        (fix(["/usr/bin/python3", "-m", "pip", "install", "x"]), "not the target"),
        (fix([PY, "-m", "pip", "install", "x"], applicable=False), "by hand"),
        (fix(kind="env"), "by hand"),
    ],
)
def test_refused(f, why):
    with pytest.raises(FixRefused, match=why):
        check_runnable(f, PY)


def test_shim_and_real_interpreter_both_accepted():
    check_runnable(fix(["/real/bin/python3", "-m", "pip"]), ["/shims/python3", "/real/bin/python3"])
    check_runnable(fix(["uv", "pip", "install", "--python", "/shims/python3", "x"]), ["/shims/python3", "/r"])


def test_streams_output_and_stops_at_first_failure():
    lines: list[str] = []
    f = fix(
        [PY, "-c", "print('first ok')"],
        [PY, "-c", "import sys; print('second fails'); sys.exit(3)"],
        [PY, "-c", "print('never runs')"],
    )
    result = asyncio.run(apply_fix(f, PY, lines.append))
    assert not result.ok and result.returncode == 3
    assert "first ok" in lines and "second fails" in lines
    assert "never runs" not in lines
    assert result.command[-1].endswith("sys.exit(3)")


def test_success():
    result = asyncio.run(apply_fix(fix([PY, "-c", "print('done')"]), PY))
    assert result.ok and result.output == ["done"]
