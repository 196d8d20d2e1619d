""" "What failed for you?" in the wizard: optional, one key to skip, and an answer is diagnosed.

Driven through Pilot as a person uses it, with real probes (interpreter, distributions and the
user probe) against the synthetic site of ``tests/downstream.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import downstream
import pytest
from fakes import fake_env_vars

from tvwizard.engine.registry import by_name, user_probe
from tvwizard.engine.session import SessionOptions, run_session
from tvwizard.target import resolve_target
from tvwizard.tui.app import make_app
from tvwizard.tui.screens.what_failed import WhatFailedScreen, parse_answer


def test_an_answer_is_a_module_or_a_command() -> None:
    assert parse_answer("basicsr") == {"imports": ["basicsr"]}
    assert parse_answer("  import basicsr.data  ") == {"imports": ["basicsr.data"]}
    assert parse_answer("python train.py --name 'a b'") == {"command": ["python", "train.py", "--name", "a b"]}
    assert parse_answer("python -c 'oops") == {"command": ["python", "-c", "'oops"]}
    assert parse_answer("   ") is None


async def _until(pilot, predicate, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


@pytest.fixture
def app(tmp_path: Path):
    site = tmp_path / "site"
    downstream.stub_torchvision(site)
    downstream.install_files(site)
    seen: list[dict | None] = []

    async def session(target, on_event, user=None):
        seen.append(user)
        probes = [by_name("interpreter"), by_name("distributions")]
        if user:
            probes.append(user_probe(imports=user.get("imports") or (), command=user.get("command") or ()))
        opts = SessionOptions(probes=probes, env=fake_env_vars(site), collect_host=False, cwd=str(tmp_path))
        return await run_session(target, opts, on_event)

    wizard = make_app(
        resolve_target=lambda py: resolve_target(sys.executable, cwd=str(tmp_path)),
        run_session=session,
        discover_envs=list,
        probes=[("interpreter", "Python"), ("distributions", "Packages")],
        preselected=(sys.executable, "--python"),
        cwd=str(tmp_path),
    )
    wizard.sessions_seen = seen
    return wizard


async def test_answering_what_failed_diagnoses_the_users_import(app) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")  # examine the preselected Python
        await _until(pilot, lambda: app.state.report is not None, "the first diagnosis")
        assert app.sessions_seen == [None]
        await pilot.press("w")
        await _until(pilot, lambda: isinstance(app.screen, WhatFailedScreen), "the question")
        await pilot.press(*"oldsr", "enter")  # 7 keys: w, the module's name, enter
        await _until(
            pilot,
            lambda: app.state.report is not None and "removed-api-used" in app.state.report.finding_ids(),
            "the diagnosis of the user's import",
        )
        assert app.sessions_seen[-1] == {"imports": ["oldsr"]}
        finding = next(f for f in app.state.report.findings if f.id == "removed-api-used")
        assert finding.title.startswith("oldsr 1.4.2 (`oldsr/data/degradations.py`, line 8)")


async def test_the_question_is_skipped_with_one_key(app) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("enter")
        await _until(pilot, lambda: app.state.report is not None, "the first diagnosis")
        await pilot.press("w")
        await _until(pilot, lambda: isinstance(app.screen, WhatFailedScreen), "the question")
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, WhatFailedScreen), "the question to close")
        await pilot.pause(0.3)
        assert app.state.user_way_in is None and app.sessions_seen == [None]
