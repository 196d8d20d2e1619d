"""Hostile inputs, on purpose: report files, output paths, planted secrets, terminal escapes.

Each case here was a way to crash tvwizard, hang it, make it leak a secret into a report a
person pastes into a ticket, or make a terminal show something other than what tvwizard
printed (issue 16).  The commands run for real as subprocesses, against tiny synthetic
installs (tests/fakes.py); hostile *targets* (streaming, forking, daemonizing interpreters)
are in test_adversarial_targets.py.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEnv, fake_env_vars, run_tvwizard

from tvwizard.fixes.commands import Installer, UnsafeRequirement, checked_requirement, is_valid_version
from tvwizard.inert import inert, inert_json, inert_line
from tvwizard.report import render_report
from tvwizard.report.compare import MAX_REPORT_BYTES, ReportLoadError, comparable_report, load_report
from tvwizard.report.redact import Redactor, is_secret_env_name, secret_env_values

DATA = Path(__file__).resolve().parent / "data"
ESC = "\x1b"
# What a crafted string does to a terminal: erase the line, go back to its start, print an innocent one.
SPOOF = "rm -rf ~ \x1b[2K\rpip install torch"


tvwizard = functools.partial(run_tvwizard, timeout=60)


def one_clear_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The command failed the way a user can act on: exit 2, one ``tvwizard:`` line, no traceback."""
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(err.splitlines()) == 1 and err.startswith("tvwizard: "), proc.stderr
    return err


def template(name: str = "broken") -> dict[str, Any]:
    return json.loads((DATA / f"report-{name}.json").read_text())


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


# -- report files read by compare and fleet ------------------------------------------------


def _deep(depth: int = 100_000) -> str:
    return '{"schema": "tvwizard.report/1", "system": ' + "[" * depth + "]" * depth + "}"


def _wrong_types() -> dict[str, Any]:
    """The right schema, wrong types inside: an object where a finding's id goes (which once
    crashed compare with "unhashable type"), a list for a check's id, numbers for objects."""
    report = template()
    report["findings"][0]["id"] = {"not": "an id"}
    report["findings"][1]["caused_by"] = ["a", "list"]
    report["findings"].append({"id": 3, "fixes": "nope", "evidence": 5})
    report["checks"][0]["id"] = ["not", "hashable"]
    report["probes"].append({"name": 7, "steps": "x", "data": []})
    report["target"] = {"python": ["not", "a", "string"], "version": {"x": 1}}
    return report


def _make_hostile(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.json"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "huge":  # sparse: costs no disk, but is larger than any report
        with open(path, "wb") as f:
            f.truncate(MAX_REPORT_BYTES + 1)
    elif kind == "deep":
        path.write_text(_deep())
    elif kind == "deep_inside":  # valid JSON, a real report, a deep value where an object goes
        report = template()
        report["system"] = json.loads("[" * 900 + "]" * 900)
        write_json(path, report)
    elif kind == "huge_int":
        path.write_text('{"schema": "tvwizard.report/1", "exit_code": ' + "9" * 5000 + "}")
    elif kind == "wrong_types":
        write_json(path, _wrong_types())
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev_null":
        path.symlink_to("/dev/null")
    elif kind == "directory":
        path.mkdir()
    else:
        raise AssertionError(kind)
    return path


HOSTILE_FILES = [
    "empty",
    "binary",
    "huge",
    "deep",
    "deep_inside",
    "huge_int",
    "wrong_types",
    "fifo",
    "dev_zero",
    "dev_null",
    "directory",
]


@pytest.mark.parametrize("kind", HOSTILE_FILES)
def test_compare_refuses_a_hostile_file_in_one_line(tmp_path: Path, kind: str) -> None:
    good = write_json(tmp_path / "good.json", template("healthy"))
    bad = _make_hostile(kind, tmp_path)
    for args in ((str(good), str(bad)), (str(bad), str(good))):
        proc = tvwizard("compare", *args, timeout=30)  # a FIFO or /dev/zero must not hang it
        line = one_clear_line(proc)
        assert str(bad) in line
        assert proc.stdout == ""


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "huge", "deep"])
def test_load_report_reads_a_bounded_amount_without_blocking(tmp_path: Path, kind: str) -> None:
    bad = _make_hostile(kind, tmp_path)
    done: list[BaseException] = []

    def read() -> None:
        try:
            load_report(bad)
        except BaseException as exc:
            done.append(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"load_report({kind}) still reading after 10 s"
    assert len(done) == 1 and isinstance(done[0], ReportLoadError), done


def test_a_report_just_under_the_cap_is_still_read(tmp_path: Path) -> None:
    report = template("healthy")
    text = json.dumps(report)
    report["padding"] = "x" * (MAX_REPORT_BYTES - len(text) - 100)
    path = write_json(tmp_path / "big.json", report)
    assert path.stat().st_size <= MAX_REPORT_BYTES
    assert load_report(path)["schema"] == report["schema"]


def test_fleet_lists_every_hostile_file_and_still_counts_the_good_ones(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    write_json(folder / "node01.json", template("healthy"))
    write_json(folder / "node02.json", template("broken"))
    bad = [k for k in HOSTILE_FILES if k != "directory"]
    for kind in bad:
        _make_hostile(kind, folder)
    proc = tvwizard("fleet", "--plain", str(folder), timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.stdout, proc.stderr)  # one node broken, files unreadable
    assert "2 nodes from" in proc.stdout and f"({len(bad)} unreadable)" in proc.stdout
    for kind in bad:
        assert f"{kind}.json: " in proc.stdout, kind
    data = json.loads(tvwizard("fleet", "--json", str(folder), timeout=60).stdout)
    assert sorted(h["host"] for h in data["hosts"]) == ["node01", "node02"]
    assert sorted(Path(s["path"]).stem for s in data["skipped"]) == sorted(bad)


def test_wrong_types_are_refused_before_comparing(tmp_path: Path) -> None:
    bad = write_json(tmp_path / "bad.json", _wrong_types())
    with pytest.raises(ReportLoadError, match="malformed report"):
        comparable_report(bad)
    assert comparable_report(write_json(tmp_path / "ok.json", template()))["schema"]


# -- terminal escapes from report files, file names and environments -----------------------


def _crafted_report() -> dict[str, Any]:
    """A real report, with control characters wherever a stranger's file can put them."""
    report = template()
    finding = report["findings"][0]
    finding["title"] = f"torchvision is broken {SPOOF}"
    finding["explanation"] = "line one\n# Injected heading\n[click me](https://evil.example/x)\n\x1b]0;title\x07"
    finding["fixes"][0]["commands"] = [SPOOF]
    finding["fixes"][0]["title"] = "Fix \u202eevil\u202c"
    report["target"]["python"] = "/usr/bin/python\x1b[31m"
    for probe in report["probes"]:
        probe["error"] = "boom\r\x08\x9b2K"
    return report


def _assert_inert(text: str) -> None:
    for char in (ESC, "\r", "\x08", "\x07", "\x9b", "\u202e"):
        assert char not in text, (char, text[:2000])


def test_compare_shows_control_characters_visibly(tmp_path: Path) -> None:
    a = write_json(tmp_path / "a.json", template("healthy"))
    b = write_json(tmp_path / f"b{ESC}[2K.json", _crafted_report())
    proc = tvwizard("compare", str(a), str(b))
    assert proc.returncode == 0, proc.stderr
    _assert_inert(proc.stdout)
    assert "\\x1b[2K" in proc.stdout  # shown, not acted on
    proc = tvwizard("compare", "--json", str(a), str(b))
    _assert_inert(proc.stdout)
    assert json.loads(proc.stdout)["b"]["label"] == b.name  # the JSON value itself is unchanged


def test_fleet_shows_control_characters_visibly(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    write_json(folder / "node01.json", _crafted_report())
    write_json(folder / f"node02{ESC}[2K.json", _crafted_report())
    (folder / f"evil{ESC}]0;x\x07.json").write_text("{")
    for fmt in ("--plain", "--json"):
        proc = tvwizard("fleet", fmt, str(folder))
        assert proc.returncode == 1, proc.stderr
        _assert_inert(proc.stdout)
    plain = tvwizard("fleet", "--plain", str(folder)).stdout
    assert "rm -rf ~ \\x1b[2K\\rpip install torch" in plain


def test_fleet_view_gets_an_inert_summary(tmp_path: Path) -> None:
    from tvwizard.cli.fleet import inert_summary
    from tvwizard.fleet import aggregate, render_fleet_json

    folder = tmp_path / "reports"
    folder.mkdir()
    write_json(folder / f"node01{ESC}.json", _crafted_report())
    summary = aggregate([folder])
    assert ESC in "".join(_strings(summary.to_dict()))  # the hostile text is there
    _assert_inert("".join(_strings(inert_summary(summary).to_dict())))
    assert render_fleet_json(inert_summary(summary))  # still a whole summary


def _outside_fences(md: str) -> list[str]:
    """The Markdown lines that are not inside a fenced code block (where a ``#`` is just text)."""
    out: list[str] = []
    fence = ""
    for line in md.splitlines():
        ticks = line[: len(line) - len(line.lstrip("`"))]
        if fence:
            if ticks == fence and not line.strip("`").strip():
                fence = ""
        elif len(ticks) >= 3:
            fence = ticks
        else:
            out.append(line)
    return out


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_markdown_and_html_reports_keep_hostile_text_inert() -> None:
    report = _crafted_report()
    md, _ = render_report(report, "md", redactor=Redactor(home=None, user=None, host=None, secrets=()))
    _assert_inert(md)
    lines = _outside_fences(md)
    assert not any(line.startswith("# Injected") for line in lines)  # no heading from an error text
    assert "[click me](https://evil.example/x)" not in md  # no link either
    assert "\\[click me\\]" in md
    html, _ = render_report(report, "html", redactor=Redactor(home=None, user=None, host=None, secrets=()))
    _assert_inert(html)
    assert "<a " not in html
    js, _ = render_report(report, "json", redactor=Redactor(home=None, user=None, host=None, secrets=()))
    _assert_inert(js)
    assert json.loads(js)["findings"][0]["fixes"][0]["commands"] == [SPOOF]  # same value, escaped


def test_check_prints_hostile_error_text_visibly(tmp_path: Path) -> None:
    site = FakeEnv(tv_extra=f"raise ImportError({SPOOF!r} + '\\n# heading\\n\\u202eevil')").build(tmp_path / "site")
    env = fake_env_vars(site)
    for args in (("check",), ("check", "-v"), ("fix",)):
        proc = tvwizard("--python", sys.executable, *args, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 1, proc.stderr
        _assert_inert(proc.stdout)
        assert "\\x1b[2K" in proc.stdout or args == ("fix",), args  # `fix` lists only findings with a fix
    report = tmp_path / "r.md"
    proc = tvwizard("--python", sys.executable, "report", "-o", str(report), env=env, cwd=tmp_path, timeout=120)
    md = report.read_text()
    _assert_inert(md)
    assert "heading" in md and not any(line.startswith("# heading") for line in _outside_fences(md))


def test_file_names_that_are_not_utf8(tmp_path: Path) -> None:
    """A file name's bytes that are not UTF-8 are shown as ``\\xff``, even on a strict UTF-8 stdout."""
    folder = tmp_path / "reports"
    folder.mkdir()
    good = write_json(folder / "node01.json", template("healthy"))
    odd = os.fsdecode(bytes(folder) + b"/node\xfe02.json")
    Path(odd).write_text(good.read_text())
    Path(os.fsdecode(bytes(folder) + b"/bad\xff.json")).write_text("{")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    for args in (("fleet", "--plain", str(folder)), ("fleet", "--json", str(folder)), ("compare", str(good), odd)):
        proc = subprocess.run(
            [sys.executable, "-m", "tvwizard", *args], capture_output=True, env=env, stdin=subprocess.DEVNULL
        )
        assert b"Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc.stderr
        assert b"\\xfe" in proc.stdout or b"\\udcfe" in proc.stdout, args
    proc = subprocess.run(
        [sys.executable, "-m", "tvwizard", "compare", str(good), os.fsdecode(bytes(folder) + b"/bad\xff.json")],
        capture_output=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and b"bad\\xff.json" in proc.stderr and b"Traceback" not in proc.stderr


def test_inert_helpers() -> None:
    assert inert("a\x1bb\tc\nd\re\x7f\x9b\u202e") == "a\\x1bb\tc\nd\\re\\x7f\\x9b\\u202e"
    assert inert_line("a\nb\tc") == "a\\nb\tc"
    assert inert_line(5) == "5"
    assert inert_line(os.fsdecode(b"a\xffb")) == "a\\xffb"
    text = json.dumps({"k": "\x9b\u202e\x1b"}, ensure_ascii=False)
    assert json.loads(inert_json(text)) == {"k": "\x9b\u202e\x1b"}
    _assert_inert(inert_json(text))


# -- output paths --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def healthy_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return FakeEnv().build(tmp_path_factory.mktemp("site") / "site")


def report_to(site: Path, cwd: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return tvwizard("--python", sys.executable, "report", *args, env=fake_env_vars(site), cwd=cwd, timeout=120, **kw)


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A character device like /dev/null (minor 3) or /dev/full (7): a private copy when we may
    make one (root), else the real one (which an unprivileged user cannot replace anyway)."""
    if os.geteuid() == 0:
        path = tmp_path / name
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
        return path
    return Path("/dev") / name


@pytest.mark.parametrize(("name", "minor", "code"), [("null", 3, 0), ("full", 7, 2)])
def test_report_onto_a_device_writes_to_it_and_never_replaces_it(
    tmp_path: Path, healthy_site: Path, name: str, minor: int, code: int
) -> None:
    device = _device(tmp_path, name, minor)
    before = os.stat(device)
    proc = report_to(healthy_site, tmp_path, "-o", str(device))
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert proc.returncode == code, proc.stderr
    if code == 2:
        assert "No space left on device" in one_clear_line(proc)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_report_onto_a_symlink_to_a_device(tmp_path: Path, healthy_site: Path) -> None:
    device = _device(tmp_path, "null", 3)
    link = tmp_path / "out.md"
    link.symlink_to(device)
    assert report_to(healthy_site, tmp_path, "-o", str(link)).returncode == 0
    assert link.is_symlink() and stat.S_ISCHR(os.stat(link).st_mode)


def test_report_onto_a_fifo_is_written_to_or_refused_never_replaced(tmp_path: Path, healthy_site: Path) -> None:
    fifo = tmp_path / "out.md"
    os.mkfifo(fifo)
    proc = report_to(healthy_site, tmp_path, "-o", str(fifo))  # nobody reads it: refused, not a hang
    assert "FIFO" in one_clear_line(proc) and stat.S_ISFIFO(os.stat(fifo).st_mode)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    proc = report_to(healthy_site, tmp_path, "--format", "json", "-o", str(fifo))
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(got[0])["schema"] == "tvwizard.report/1" and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_report_onto_a_directory_is_one_line_and_leaves_nothing(tmp_path: Path, healthy_site: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = report_to(healthy_site, tmp_path, "-o", str(out))
    assert "directory" in one_clear_line(proc)
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_report_into_an_unwritable_place_is_one_line(tmp_path: Path, healthy_site: Path) -> None:
    one_clear_line(report_to(healthy_site, tmp_path, "-o", "/proc/tvwizard-report.md"))  # read-only even for root
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        one_clear_line(report_to(healthy_site, tmp_path, "-o", str(ro / "r.md")))
        assert list(ro.iterdir()) == []


def test_report_keeps_an_existing_files_mode_and_a_new_unredacted_one_is_private(
    tmp_path: Path, healthy_site: Path
) -> None:
    private = tmp_path / "private.md"
    private.write_text("old")
    private.chmod(0o600)
    assert report_to(healthy_site, tmp_path, "--no-redact", "-o", str(private)).returncode == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and "tvwizard" in private.read_text()
    shared = tmp_path / "shared.json"
    shared.write_text("{}")
    shared.chmod(0o640)
    assert report_to(healthy_site, tmp_path, "-o", str(shared)).returncode == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640 and json.loads(shared.read_text())["schema"]
    fresh = tmp_path / "fresh.md"
    assert report_to(healthy_site, tmp_path, "--no-redact", "-o", str(fresh)).returncode == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_report_through_a_symlink_replaces_the_file_not_the_link(tmp_path: Path, healthy_site: Path) -> None:
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert report_to(healthy_site, tmp_path, "-o", str(link)).returncode == 0
    assert link.is_symlink() and "tvwizard" in real.read_text()


def _full_stdout() -> Any:
    return open("/dev/full", "w")


@pytest.mark.parametrize(
    "args",
    [("report", "-o", "-"), ("check", "--json"), ("check",)],
    ids=["report-stdout", "check-json", "check"],
)
def test_stdout_full_or_closed_is_one_line(tmp_path: Path, healthy_site: Path, args: tuple[str, ...]) -> None:
    env = fake_env_vars(healthy_site)
    with _full_stdout() as full:
        proc = tvwizard("--python", sys.executable, *args, env=env, cwd=tmp_path, timeout=120, stdout=full)
    assert "standard output" in one_clear_line(proc)
    proc = tvwizard(
        "--python", sys.executable, *args, env=env, cwd=tmp_path, timeout=120, preexec_fn=lambda: os.close(1)
    )
    assert "standard output" in one_clear_line(proc)


def test_compare_and_fleet_to_a_full_stdout(tmp_path: Path) -> None:
    a = write_json(tmp_path / "a.json", template("healthy"))
    b = write_json(tmp_path / "b.json", template("broken"))
    with _full_stdout() as full:
        one_clear_line(tvwizard("compare", str(a), str(b), stdout=full))
    with _full_stdout() as full:
        one_clear_line(tvwizard("fleet", "--plain", str(tmp_path), stdout=full))


# -- secrets -------------------------------------------------------------------------------

SECRETS = {
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "MYSQL_PWD": "my$ql'Pa55w0rd",
    "PGPASSWORD": "pg-pass-Zq81x",
    "STRIPE_KEY": "rk_live_51Hxyzzy0123",
    "HF_TOKEN": "hf_plantedtokenvalueABCDEFGHIJ",
    "DEPLOY_AUTH": "deploy-auth-7f3a9c",
}
URL_PASSWORD = "p'a;ss,w\"rd!"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ"
BEARER = "plantedBearerToken0123456789"
TEXT_PASSWORD = "inline-pw-Kx92;q"


def _leaks(text: str) -> list[str]:
    planted = [*SECRETS.values(), URL_PASSWORD, JWT, BEARER, TEXT_PASSWORD]
    # JSON writes a quote inside a string as \"; a secret must not survive that way either
    return [s for s in planted if s in text or json.dumps(s)[1:-1] in text]


def planted_target(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A fake install whose every text channel carries the secrets: env values, a traceback,
    a sitecustomize error, stderr log lines, a path on sys.path, URLs and NAME=value pairs."""
    secret = SECRETS["AWS_SECRET_ACCESS_KEY"]
    # a path: the install lives under a folder named after a secret
    site_root = tmp_path / SECRETS["PGPASSWORD"] / "site"
    curl = f'curl -H "Authorization: Bearer {BEARER}" https://u:{URL_PASSWORD}@h.example/'
    tell = "\n".join(
        [
            "import os, sys",
            f"s = {{k: os.environ[k] for k in {sorted(SECRETS)!r}}}",
            "sys.stderr.write('log: connecting with %s and %s\\n' % (s['MYSQL_PWD'], s['STRIPE_KEY']))",
            f"sys.stderr.write({curl!r} + '\\n')",
            f"print({f'token {JWT} DB_PASSWORD={TEXT_PASSWORD}'!r})",
            "",
        ]
    )
    site = FakeEnv(
        tv_extra=tell
        + "raise ImportError('cannot load: key=%s auth=%s' % (s['AWS_SECRET_ACCESS_KEY'], s['DEPLOY_AUTH']))"
    ).build(site_root)
    (site / "sitecustomize.py").write_text(
        "import os\nraise RuntimeError('sitecustomize: ' + os.environ['HF_TOKEN'] + ' ' + os.environ['MYSQL_PWD'])\n"
    )
    env = fake_env_vars(site)
    env.update(SECRETS)
    env["PIP_INDEX_URL"] = f"https://user:{URL_PASSWORD}@pypi.example/simple"
    env["TORCH_HOME"] = f"/data/{secret}/torch"  # allowlisted name, secret value in a path
    return env, site


def test_planted_secrets_reach_an_unredacted_report(tmp_path: Path) -> None:
    """The planting works: without redaction the secrets are there (so the next test can fail)."""
    env, _ = planted_target(tmp_path)
    proc = tvwizard("--python", sys.executable, "check", "--json", "--no-redact", env=env, cwd=tmp_path, timeout=120)
    assert sorted(_leaks(proc.stdout)) == sorted([*SECRETS.values(), URL_PASSWORD, JWT, BEARER, TEXT_PASSWORD])
    assert json.loads(proc.stdout)["redaction"]["enabled"] is False


def test_no_planted_secret_leaks_into_check_json_or_any_report(tmp_path: Path) -> None:
    env, _ = planted_target(tmp_path)
    proc = tvwizard("--python", sys.executable, "check", "--json", env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert _leaks(proc.stdout) == []
    counts = data["redaction"]["counts"]
    assert data["redaction"]["enabled"] is True
    assert counts.get("secret_env_values", 0) >= 5 and counts.get("url_credentials", 0) >= 1, counts
    for name in ("r.md", "r.json", "r.html"):
        out = tmp_path / name
        proc = tvwizard("--python", sys.executable, "report", "-o", str(out), env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert _leaks(out.read_text()) == [], name
        # all of stderr: tvwizard's own interpreter never runs the user's sitecustomize (_isolate)
        assert _leaks(proc.stderr) == [] and "sitecustomize" not in proc.stderr, proc.stderr
    proc = tvwizard("--python", sys.executable, "report", "-o", "-", env=env, cwd=tmp_path, timeout=120)
    assert _leaks(proc.stdout) == []


def test_redactor_by_value_and_by_shape() -> None:
    red = Redactor(home="/home/alice", user="alice", host="gpu01", secrets=list(SECRETS.values()))
    text = (
        f"Traceback: KeyError: '{SECRETS['MYSQL_PWD']}' at /opt/{SECRETS['AWS_SECRET_ACCESS_KEY']}/x.py\n"
        f"pip --index-url https://bob:{URL_PASSWORD}@pypi.example/simple\n"
        f"PGPASSWORD=hunter2xyz MYSQL_PWD=abc'def;g SOME_API_KEY=k-123456 DB_PASSWORD={TEXT_PASSWORD}\n"
        f"Authorization: Bearer {BEARER}\nid_token {JWT}\n"
    )
    out = red.redact_text(text)
    assert _leaks(out) == [], out
    for gone in ("hunter2xyz", "abc'def", "k-123456"):
        assert gone not in out, out
    assert red.counts["secret_env_values"] >= 2


def test_secret_env_values_are_chosen_with_care() -> None:
    env = {
        "MYSQL_PWD": "hunter22",
        "PWD": "/home/alice/work",
        "OLDPWD": "/home/alice",
        "SSH_AUTH_SOCK": "/tmp/ssh-XXXX/agent.1",
        "TLS_KEY_FILE": "/etc/ssl/private/k.pem",
        "GITHUB_TOKEN": "ghp_x",  # too short to hide without shredding text: left to the shape rules
        "ENABLE_SECRET": "true",
        "SECRET_PIN": "1234",
        "PRIVATE_KEY": "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4\n-----END KEY-----",
    }
    values = secret_env_values(env)
    assert "hunter22" in values
    assert "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4" in values  # line by line too
    for kept in ("/home/alice/work", "/home/alice", "/tmp/ssh-XXXX/agent.1", "/etc/ssl/private/k.pem", "true", "1234"):
        assert kept not in values
    assert is_secret_env_name("AWS_SECRET_ACCESS_KEY") and is_secret_env_name("STRIPE_KEY")
    assert not is_secret_env_name("PWD") and not is_secret_env_name("CUDA_VISIBLE_DEVICES")


def test_planted_secrets_in_every_place_of_a_report_dict() -> None:
    report = copy.deepcopy(template())
    planted = f"{SECRETS['MYSQL_PWD']} {JWT} https://u:{URL_PASSWORD}@h/ Bearer {BEARER}"
    report["findings"][0]["title"] += planted
    report["findings"][0]["evidence"][0]["detail"] = planted
    report["findings"][0]["fixes"][0]["commands"] = [f"pip install --index-url https://u:{URL_PASSWORD}@h/ torch"]
    report["target"]["cwd"] = f"/work/{SECRETS['AWS_SECRET_ACCESS_KEY']}"
    report["probes"][0]["log"] = [{"stream": "stderr", "text": planted}]
    report["probes"][0]["fault"] = planted
    report["probes"][0]["error"] = planted
    report["system"]["notices"] = [planted]
    red = Redactor(home="/home/alice", user="alice", host="gpu01", secrets=list(SECRETS.values()))
    for fmt in ("md", "json", "html"):
        text, summary = render_report(report, fmt, redactor=red)
        assert _leaks(text) == [], fmt
        assert summary["counts"]["secret_env_values"] >= 1


# -- versions from metadata in commands ----------------------------------------------------


@pytest.mark.parametrize(
    "version",
    ["../evil/torch-2.14.1-py3-none-any.whl", "./torch.whl", "https://evil.example/t.whl", "2.0 --pre", "", "2.0@x"],
)
def test_a_version_that_is_not_pep440_never_reaches_a_command(version: str) -> None:
    assert not is_valid_version(version) and not is_valid_version(" 2.0") and is_valid_version("2.14.1+cu130")
    with pytest.raises(UnsafeRequirement):
        Installer("pip", "/py").install([f"torch=={version}"])
    for bad in ("../evil.whl", "torch @ file:///evil.whl", "--index-url=https://evil", "-e.", "torch ; os_name"):
        with pytest.raises(UnsafeRequirement):
            checked_requirement(bad)
    with pytest.raises(UnsafeRequirement):
        Installer("pip", "/py").uninstall(["../evil"])
    assert Installer("pip", "/py").install(["torch==2.14.1+cu130", "numpy<2", "numpy==1.*"])[-3:] == [
        "torch==2.14.1+cu130",
        "numpy<2",
        "numpy==1.*",
    ]


def test_a_wheel_path_in_metadata_gives_no_command(tmp_path: Path) -> None:
    """A numpy METADATA whose Version: is a path to a wheel, under a torchvision that requires
    numpy>=2: the missing-dependency fix's undo once read ``pip install numpy==../../evil/….whl``.
    No fix command or undo line may carry that path (nor the torchvision one's)."""
    wheel = "../../evil/numpy-2.0-py3-none-any.whl"
    site = FakeEnv(tv_requires=["torch>=2.14.0", "numpy>=2"]).build(tmp_path / "site")
    meta = next(site.glob("torchvision-*.dist-info")) / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.29.1", f"Version: {wheel}"))
    numpy = site / "numpy-x.dist-info"
    numpy.mkdir()
    (numpy / "METADATA").write_text(f"Metadata-Version: 2.1\nName: numpy\nVersion: {wheel}\n")
    proc = tvwizard("--python", sys.executable, "check", "--json", "--no-redact", env=fake_env_vars(site), cwd=tmp_path)
    data = json.loads(proc.stdout)
    for finding in data["findings"]:
        for fix in finding["fixes"]:
            flat = json.dumps([fix.get("argv"), fix.get("commands"), fix.get("undo")])
            assert ".whl" not in flat, (finding["id"], fix)
    missing = next(f for f in data["findings"] if f["id"] == "missing-dependency")
    assert missing["fixes"][0]["argv"][0][-1] == "numpy>=2"  # the install itself still offered
