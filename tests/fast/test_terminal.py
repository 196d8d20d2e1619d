"""ASCII when the locale is not UTF-8: decided once (tvwizard/terminal.py) for `check` and the wizard."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tvwizard.terminal import to_ascii, unicode_ok


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"LANG": "en_US.UTF-8"}, True),
        ({"LANG": "C.utf8"}, True),
        ({"LANG": "C"}, False),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "C"}, False),  # LC_ALL wins
        ({"LANG": "C", "LC_CTYPE": "de_DE.UTF-8"}, True),
        ({"LANG": "en_US.ISO-8859-1"}, False),
    ],
)
def test_locale_variables(env, expected):
    assert unicode_ok(env, utf8_mode=False) is expected


@pytest.mark.parametrize(("locale", "expected"), [("C", "False"), ("POSIX", "False"), ("C.UTF-8", "True")])
def test_a_real_process_under_that_locale(locale, expected):
    """Python coerces LANG=C to C.UTF-8 (and says stdout is utf-8): the coercion is the tell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    env["LANG"] = locale
    out = subprocess.run(
        [sys.executable, "-c", "from tvwizard.terminal import unicode_ok; print(unicode_ok())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == expected


def test_to_ascii():
    assert to_ascii("✓ ok · ✗ bad → fix … ▶ ■") == "OK ok - X bad -> fix ... > #"
