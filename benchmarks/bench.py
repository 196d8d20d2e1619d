"""How long a person waits for tvwizard, against the floor: the import it must do anyway.

Run from the repository root::

    .venv/bin/python benchmarks/bench.py [--runs N] [--json-out FILE] [--only GROUP ...]

To measure a change, run an older tree in the same rounds::

    mkdir -p /tmp/base && git archive HEAD src | tar -x -C /tmp/base
    .venv/bin/python benchmarks/bench.py --baseline-src /tmp/base/src

It builds (or reuses, from ``$TVWIZARD_ENV_CACHE``) the real test envs of
``tests/realenvs.py`` -- ``healthy`` (torch 2.14.1 + torchvision 0.29.1) and
``cpu-torch-cuda-tv`` (torch 2.13.0+cpu + torchvision 0.29.1, broken) -- and runs each
comparison side by side: one round runs every command of a group once, in an order that
rotates from round to round, so drift (page cache, thermal, other load) hits both sides
alike.  One warm-up round is not counted.  Reported figures are medians.

Measured per run:

- wall time, from ``fork`` to ``wait``;
- CPU seconds (user + system) of the process *and every descendant it waited for*: the
  ``RUSAGE_CHILDREN`` delta around the run (tvwizard reaps its probes, the probes reap
  the tools they run, so everything lands there);
- tvwizard's own peak RSS: ``VmHWM`` of its pid only, read from ``/proc`` every few ms
  (the high-water mark is kept by the kernel, so only growth in the last few ms before
  exit could be missed).  Children are separate processes and are not counted;
- time to static findings: ``timings.static_findings`` of ``check --json`` is counted
  from the session's start; ``timings.startup`` (process start to session start) is added
  when the report has it.  Without it, an upper bound is used: wall − (total − static);
- the wizard's first frame: the real ``tvwizard`` in a pseudo-terminal, from ``fork``
  until the target screen's question has been written.

No test asserts any of this: timing is a property of a machine, not of the code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import pty
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import realenvs  # noqa: E402

PY = sys.executable  # tvwizard's own interpreter
NMS = (
    "import torch, torchvision; "
    "b = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.]]); "
    "torchvision.ops.nms(b, torch.tensor([0.9, 0.8]), 0.5)"
)
# the target screen's question, or the discovery step's header: with --python the wizard examines
# at once, so which one is painted first depends on how fast the interpreter is resolved
FIRST_FRAME_TEXTS = (b"Which Python", b"Examining")


def tvwizard_argv(*args: str, src: str | None = None) -> list[str]:
    """The command a user runs; with ``src``, tvwizard imported from that source tree instead
    (``--baseline-src``: a copy of an older tree, to measure a change side by side)."""
    if src:
        boot = f"import sys; sys.path.insert(0, {src!r}); from tvwizard.cli import main; sys.exit(main())"
        return [PY, "-c", boot, *args]
    script = Path(PY).parent / "tvwizard"  # the console script a user runs
    return [str(script), *args] if script.exists() else [PY, "-m", "tvwizard", *args]


# -- one run ------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    rc: int
    rss_mb: float | None = None
    static: float | None = None  # seconds from process start to static findings
    static_session: float | None = None  # the same, from the session's start


class _HWM(threading.Thread):
    """Polls VmHWM (peak RSS) of one pid; keeps the last value read."""

    def __init__(self, pid: int, period: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.period = period
        self.kb = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with open(self.path, "rb") as fh:
                    for line in fh:
                        if line.startswith(b"VmHWM:"):
                            self.kb = max(self.kb, int(line.split()[1]))
                            break
            except (OSError, ValueError):
                return
            self.stop.wait(self.period)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(argv: list[str], *, cwd: str, rss: bool = False, static: bool = False) -> Sample:
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    hwm = _HWM(proc.pid) if rss else None
    if hwm:
        hwm.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if hwm:
        hwm.stop.set()
        hwm.join()
    s = Sample(wall=wall, cpu=cpu, rc=proc.returncode, rss_mb=hwm.kb / 1024 if hwm else None)
    if static:
        t = json.loads(out)["timings"]
        s.static_session = t["static_findings"]
        if "startup" in t:
            s.static = t["startup"] + t["static_findings"]
        else:
            s.static = wall - (t["total"] - t["static_findings"])
    return s


def first_frame(python: str, cwd: str, timeout: float = 15.0) -> Sample:
    """``tvwizard --python X`` in a pty: seconds until the first screen's text is written."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 120x40
        os.chdir(cwd)
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
        argv = tvwizard_argv("--python", python)
        os.execve(argv[0], argv, env)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    seen = b""
    found = None
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        r, _, _ = select.select([fd], [], [], 0.05)
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen = (seen + chunk)[-200000:]
        if any(text in seen for text in FIRST_FRAME_TEXTS):
            found = time.perf_counter() - t0
            break
    # Quit (ctrl+q), then make sure it is gone; drain the pty meanwhile.
    with contextlib.suppress(OSError):
        os.write(fd, b"\x11")
    end = time.perf_counter() + 5
    while time.perf_counter() < end:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            with contextlib.suppress(OSError):
                os.read(fd, 65536)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    os.close(fd)
    if found is None:
        raise RuntimeError(f"none of {FIRST_FRAME_TEXTS!r} on the screen within {timeout:g} s")
    return Sample(wall=found, cpu=_children_cpu() - cpu0, rc=0)


# -- groups of commands run side by side ---------------------------------------------------


@dataclass
class Cmd:
    key: str
    label: str
    run: object  # () -> Sample
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def med(self, attr: str) -> float | None:
        vals = [getattr(s, attr) for s in self.samples if getattr(s, attr) is not None]
        return statistics.median(vals) if vals else None


def busy_fraction(period: float = 0.3) -> float:
    """How busy the machine's CPUs were over ``period`` (0..1), from /proc/stat."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
        return sum(vals), vals[3] + vals[4]  # total, idle + iowait

    try:
        t0, i0 = read()
        time.sleep(period)
        t1, i1 = read()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


QUIET = {"threshold": 0.15, "max_wait": 20.0, "waited": 0.0, "busy": []}


def wait_quiet(log) -> None:
    """Wait (a bounded while) until nothing else keeps the CPUs busy; record what was seen."""
    deadline = time.monotonic() + QUIET["max_wait"]
    start = time.monotonic()
    busy = busy_fraction()
    while busy > QUIET["threshold"] and time.monotonic() < deadline:
        busy = busy_fraction(1.0)
    QUIET["waited"] += time.monotonic() - start
    QUIET["busy"].append(busy)
    if busy > QUIET["threshold"]:
        log(f"  (machine still {busy:.0%} busy with other work; measuring anyway)")


def run_group(cmds: list[Cmd], runs: int, log) -> None:
    for rnd in range(runs + 1):  # round 0 warms caches and is not counted
        if QUIET["threshold"] < 1:
            wait_quiet(log)
        k = rnd % len(cmds)
        for cmd in cmds[k:] + cmds[:k]:
            if cmd.error:
                continue
            try:
                s = cmd.run()
            except Exception as exc:
                cmd.error = f"{type(exc).__name__}: {exc}"
                log(f"  {cmd.key}: {cmd.error}")
                continue
            if rnd:
                cmd.samples.append(s)
            log(f"  round {rnd}{' (warm-up)' if not rnd else ''} {cmd.key:<22} {s.wall:7.3f} s  cpu {s.cpu:6.2f} s")


def env_python(name: str, log) -> str | None:
    try:
        return str(realenvs.env_python(realenvs.build(name)))
    except realenvs.Unavailable as exc:
        log(f"env {name} unavailable: {exc}")
        return None


# -- the table -------------------------------------------------------------------------------


def fmt(v: float | None, unit: str = "s") -> str:
    if v is None:
        return "–"
    if unit == "MB":
        return f"{v:.0f} MB"
    return f"{v:.3f} s" if v < 10 else f"{v:.1f} s"


def build_rows(c: dict[str, Cmd]) -> list[dict]:
    rows: list[dict] = []

    def ratio_row(what, a, b, attr, limit, note=""):
        num, den = c.get(a), c.get(b)
        va = num.med(attr) if num else None
        vb = den.med(attr) if den else None
        r = None
        if num and den and num.samples and len(num.samples) == len(den.samples):
            # Paired: the median of the per-round ratios (both ran in the same round).
            pairs = [getattr(x, attr) / getattr(y, attr) for x, y in zip(num.samples, den.samples, strict=True)]
            r = statistics.median(pairs)
        elif va is not None and vb:
            r = va / vb
        rows.append(
            {
                "what": what,
                "value": fmt(va),
                "reference": fmt(vb),
                "ratio": f"{r:.2f}×" if r is not None else "–",
                "goal": f"≤ {limit}×" if limit else "(report)",
                "pass": None if r is None or not limit else r <= limit,
                "note": note or (num.error if num and num.error else den.error if den and den.error else ""),
                "raw": {"value": va, "reference": vb, "ratio": r},
            }
        )

    def abs_row(what, key, attr, limit, unit="s", note=""):
        cmd = c.get(key)
        v = cmd.med(attr) if cmd else None
        rows.append(
            {
                "what": what,
                "value": fmt(v, unit),
                "reference": "",
                "ratio": "",
                "goal": f"≤ {limit} {unit}" if limit else "(report)",
                "pass": None if v is None or not limit else v <= limit,
                "note": note or (cmd.error if cmd and cmd.error else "" if cmd else "not measured"),
                "raw": {"value": v},
            }
        )

    ratio_row("healthy: `check` wall vs import+nms", "h_check", "h_bare", "wall", 1.3)
    ratio_row("healthy: `check` CPU vs import+nms", "h_check", "h_bare", "cpu", None)
    ratio_row("healthy: `check --json` wall vs import+nms", "h_json", "h_bare", "wall", 1.3)
    ratio_row("healthy: `collect_env` wall vs import+nms", "h_collect", "h_bare", "wall", None)
    ratio_row("healthy: `check` wall vs `collect_env`", "h_check", "h_collect", "wall", None)
    ratio_row("broken: `check` wall vs failing import", "b_check", "b_bare", "wall", 1.3)
    ratio_row("broken: `check` CPU vs failing import", "b_check", "b_bare", "cpu", None)
    ratio_row("broken: `check --json` wall vs failing import", "b_json", "b_bare", "wall", 1.3)
    abs_row("healthy: static findings, from process start", "h_json", "static", 0.5)
    abs_row("broken: static findings, from process start", "b_json", "static", 0.5)
    abs_row("healthy: static findings, from session start", "h_json", "static_session", 0.5)
    ratio_row("`tvwizard --help` vs `python -c pass`", "help", "pass", "wall", 2)
    abs_row("wizard: first frame", "frame", "wall", 1.0)
    peak = [c[k].med("rss_mb") for k in ("h_check", "h_json", "b_check", "b_json") if k in c and c[k].samples]
    rows.append(
        {
            "what": "tvwizard's own peak RSS (max of the `check` medians)",
            "value": fmt(max(peak), "MB") if peak else "–",
            "reference": "",
            "ratio": "",
            "goal": "< 150 MB",
            "pass": max(peak) < 150 if peak else None,
            "note": "",
            "raw": {"value": max(peak) if peak else None},
        }
    )
    return rows


def baseline_rows(c: dict[str, Cmd]) -> list[dict]:
    """This tree against ``--baseline-src``, measured in the same rounds (paired ratios)."""
    rows = []
    for key, what, attr in (
        ("h_check", "healthy: `check` wall", "wall"),
        ("h_check", "healthy: `check` CPU", "cpu"),
        ("h_json", "healthy: `check --json` wall", "wall"),
        ("h_json", "healthy: static findings from start", "static"),
        ("b_check", "broken: `check` wall", "wall"),
        ("b_check", "broken: `check` CPU", "cpu"),
        ("b_json", "broken: `check --json` wall", "wall"),
        ("b_json", "broken: static findings from start", "static"),
        ("h_check", "healthy: own peak RSS", "rss_mb"),
    ):
        new, old = c.get(key), c.get(key + "@base")
        if not new or not old or not new.samples or len(new.samples) != len(old.samples):
            continue
        pairs = [getattr(x, attr) / getattr(y, attr) for x, y in zip(new.samples, old.samples, strict=True)]
        vn, vo = new.med(attr), old.med(attr)
        unit = "MB" if attr == "rss_mb" else "s"
        rows.append(
            {
                "what": f"{what}: this tree vs baseline",
                "value": fmt(vn, unit),
                "reference": fmt(vo, unit),
                "ratio": f"{statistics.median(pairs):.2f}×",
                "goal": "(change)",
                "pass": None,
                "note": "",
                "raw": {"value": vn, "reference": vo, "ratio": statistics.median(pairs)},
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| measurement | median | reference (median) | ratio (median of per-round ratios) | goal | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        mark = {True: "pass", False: "**FAIL**", None: ""}[r["pass"]]
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(f"| {r['what']}{note} | {r['value']} | {r['reference']} | {r['ratio']} | {r['goal']} | {mark} |")
    return "\n".join(lines)


def detail(cmds: dict[str, Cmd]) -> str:
    lines = [
        "| command | runs | wall median | wall min–max | CPU median | own peak RSS |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in cmds.values():
        if not c.samples:
            lines.append(f"| {c.label} | 0 | {c.error or 'not run'} | | | |")
            continue
        walls = [s.wall for s in c.samples]
        lines.append(
            f"| {c.label} | {len(c.samples)} | {fmt(c.med('wall'))} | {min(walls):.2f}–{max(walls):.2f} s"
            f" | {fmt(c.med('cpu'))} | {fmt(c.med('rss_mb'), 'MB') if c.med('rss_mb') else ''} |"
        )
    return "\n".join(lines)


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="counted rounds per group (default 5; min 5 for the goals)")
    ap.add_argument("--json-out", metavar="FILE", help="also write every sample and the table as JSON")
    ap.add_argument(
        "--quiet-below",
        type=float,
        default=0.15,
        metavar="FRAC",
        help="before each round, wait (at most --max-wait s) until other work keeps the CPUs less "
        "busy than this fraction (default 0.15; 1 disables)",
    )
    ap.add_argument(
        "--baseline-src",
        metavar="DIR",
        help="also run tvwizard from this source tree (a copy of an older src/), in the same rounds, "
        "and report this tree against it",
    )
    ap.add_argument("--max-wait", type=float, default=20.0, metavar="S", help="see --quiet-below (default 20)")
    ap.add_argument(
        "--only",
        nargs="*",
        choices=("healthy", "broken", "startup", "frame"),
        help="run only these groups (default: all)",
    )
    args = ap.parse_args(argv)
    groups = set(args.only or ("healthy", "broken", "startup", "frame"))
    QUIET["threshold"], QUIET["max_wait"] = args.quiet_below, args.max_wait

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    cwd = str(Path(os.environ.get("TMPDIR", "/tmp")))  # not the repo: keep sys.path[0] neutral
    cmds: dict[str, Cmd] = {}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    hp = bp = None

    variants = [("", None)]
    if args.baseline_src:
        variants.append(("@base", str(Path(args.baseline_src).resolve())))

    def tv_cmds(prefix: str, label: str, py: str) -> list[Cmd]:
        out = []
        for suffix, src in variants:
            tag = " [baseline]" if suffix else ""
            if not suffix and args.baseline_src:
                src = str(ROOT / "src")  # started the same way as the baseline: a fair pair
            out.append(
                Cmd(
                    f"{prefix}_check{suffix}",
                    f"{label}: tvwizard check{tag}",
                    lambda src=src: run_once(tvwizard_argv("--python", py, "check", src=src), cwd=cwd, rss=True),
                )
            )
            out.append(
                Cmd(
                    f"{prefix}_json{suffix}",
                    f"{label}: tvwizard check --json{tag}",
                    lambda src=src: run_once(
                        tvwizard_argv("--python", py, "check", "--json", src=src), cwd=cwd, rss=True, static=True
                    ),
                )
            )
        return out

    if "healthy" in groups and (hp := env_python("healthy", log)):
        group = [
            Cmd("h_bare", "healthy: python -c 'import torchvision; nms'", lambda: run_once([hp, "-c", NMS], cwd=cwd)),
            *tv_cmds("h", "healthy", hp),
            Cmd(
                "h_collect",
                "healthy: python -m torch.utils.collect_env",
                lambda: run_once([hp, "-m", "torch.utils.collect_env"], cwd=cwd),
            ),
        ]
        log("healthy env")
        run_group(group, args.runs, log)
        cmds.update({c.key: c for c in group})

    if "broken" in groups and (bp := env_python("cpu-torch-cuda-tv", log)):
        group = [
            Cmd(
                "b_bare",
                "broken: python -c 'import torchvision'",
                lambda: run_once([bp, "-c", "import torchvision"], cwd=cwd),
            ),
            *tv_cmds("b", "broken", bp),
        ]
        log("broken env")
        run_group(group, args.runs, log)
        cmds.update({c.key: c for c in group})

    if "startup" in groups:
        group = [
            Cmd("pass", f"{Path(PY).name} -c pass", lambda: run_once([PY, "-c", "pass"], cwd=cwd)),
            *(
                Cmd(
                    f"help{suffix}",
                    "tvwizard --help" + (" [baseline, via python -c]" if src else ""),
                    lambda src=src: run_once(tvwizard_argv("--help", src=src), cwd=cwd, rss=True),
                )
                for suffix, src in variants
            ),
        ]
        log("startup")
        run_group(group, max(args.runs, 10), log)
        cmds.update({c.key: c for c in group})

    if "frame" in groups:
        target = hp or shutil.which("python3") or PY  # the screen does not depend on it
        group = [Cmd("frame", "wizard: first frame (pty, 120×40)", lambda: first_frame(target, cwd))]
        log("wizard first frame")
        run_group(group, args.runs, log)
        cmds.update({c.key: c for c in group})

    rows = build_rows(cmds)
    if args.baseline_src:
        rows += baseline_rows(cmds)
    m = machine()
    m["loadavg_before"] = load_before
    print(
        f"\nMachine: {m['nproc']} CPUs, {m['cpu']}, {m['system']}; tvwizard on Python {m['python']}; "
        f"load average {load_before} before, {m['loadavg']} after; "
        f"medians of {args.runs} interleaved runs (after one warm-up round)."
    )
    if args.runs < 5:
        print("(fewer than 5 runs: a quick look, not a measurement of the goals)")
    busy = QUIET["busy"]
    if busy:
        print(
            f"Other work on the machine before each round: median {statistics.median(busy):.0%} CPU busy, "
            f"max {max(busy):.0%}; {QUIET['waited']:.0f} s spent waiting for quiet.\n"
        )
    print(markdown(rows))
    print()
    print(detail(cmds))
    if args.json_out:
        out = {
            "machine": m,
            "runs": args.runs,
            "rows": rows,
            "busy_before_rounds": QUIET["busy"],
            "commands": {
                k: {"label": c.label, "error": c.error, "samples": [s.__dict__ for s in c.samples]}
                for k, c in cmds.items()
            },
        }
        Path(args.json_out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
