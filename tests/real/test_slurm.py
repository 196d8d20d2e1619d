"""A real cluster engine: a single-machine Slurm runs ``tvwizard report`` through ``srun``.

The module starts its own Slurm on localhost, owned by the test and stopped by it whatever
happens: ``munged`` with a fresh key, ``slurmctld`` and ``slurmd`` in the foreground, every
file (key, sockets, state, spool, logs, slurm.conf) in a temporary folder, on free ports, so
it neither needs nor touches a system Slurm.  Debian's ``slurm-wlm`` and ``munge`` are
installed with apt when missing (this needs root; the test skips, saying why, where that
cannot be done).

Then ``srun --nodes=1 --ntasks-per-node=1 tvwizard report --json -o DIR/{host}.json`` (the
recipe in docs/fleet.md) diagnoses the real ``cpu-torch-cuda-tv`` env, and ``tvwizard
fleet DIR`` must group the node under ``build-variant-mismatch``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import realenvs

from tvwizard.fleet import aggregate

pytestmark = pytest.mark.real

VENV_BIN = Path(sys.executable).parent
TVWIZARD = VENV_BIN / "tvwizard"
DAEMONS = ("munged", "slurmctld", "slurmd")


def _which(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for d in ("/usr/sbin", "/usr/bin", "/sbin") if (p := Path(d, name)).is_file()), None
    )


def ensure_slurm() -> dict[str, str]:
    """Paths of the Slurm and munge programs, installing Debian's packages when missing."""
    needed = (*DAEMONS, "srun", "sinfo")
    found = {n: _which(n) for n in needed}
    if all(found.values()):
        return found  # type: ignore[return-value]
    missing = ", ".join(n for n, p in found.items() if not p)
    if not shutil.which("apt-get"):
        pytest.skip(f"Slurm is not installed ({missing} missing) and there is no apt-get to install it")
    if os.geteuid() != 0:
        pytest.skip(f"Slurm is not installed ({missing} missing); installing it with apt needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "slurm-wlm", "munge"]):
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(argv)}` took more than 20 minutes")
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            pytest.skip(f"`{' '.join(argv)}` failed ({proc.returncode}): " + " | ".join(tail))
    found = {n: _which(n) for n in needed}
    if not all(found.values()):
        pytest.skip(
            "apt installed slurm-wlm and munge but these are still missing: "
            + ", ".join(n for n, p in found.items() if not p)
        )
    return found  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalSlurm:
    """munged + slurmctld + slurmd on localhost, in ``root``; :meth:`stop` always cleans up."""

    def __init__(self, root: Path, programs: dict[str, str]) -> None:
        self.root = root
        self.programs = programs
        self.node = socket.gethostname().split(".")[0] or "localhost"
        self.conf = root / "slurm.conf"
        self.munge_socket = root / "munge" / "munge.socket"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    # -- setup --------------------------------------------------------------------------------

    def write_config(self) -> None:
        r = self.root
        for sub in ("munge", "state", "spool", "log"):
            (r / sub).mkdir(mode=0o700, exist_ok=True)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=tvwizardtest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.munge_socket}",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",  # no cgroups
                    "TaskPlugin=task/none",
                    "SelectType=select/linear",
                    "SchedulerType=sched/builtin",
                    "JobCompType=jobcomp/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "MpiDefault=none",
                    "MailProg=/bin/true",
                    "ReturnToService=2",
                    "SlurmdTimeout=60",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count() or 1} State=UNKNOWN",
                    f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )

    def _spawn(self, name: str, argv: list[str]) -> None:
        out = (self.root / "log" / f"{name}.out").open("wb")
        # Its own session: stop() can end the daemon and anything it forked (slurmstepd) by group.
        self.procs[name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        out.close()

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")

    def sinfo_state(self) -> str:
        proc = subprocess.run(
            [self.programs["sinfo"], "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True, timeout=10
        )
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def start(self) -> None:
        self.write_config()
        r = self.root
        self._spawn(
            "munged",
            [
                self.programs["munged"],
                "--foreground",
                "--force",
                f"--key-file={r / 'munge' / 'munge.key'}",
                f"--socket={self.munge_socket}",
                f"--pid-file={r / 'munge' / 'munged.pid'}",
                f"--log-file={r / 'log' / 'munged.log'}",
                f"--seed-file={r / 'munge' / 'munged.seed'}",
            ],
        )
        self._wait("munged's socket", self.munge_socket.exists, 15)
        self._spawn("slurmctld", [self.programs["slurmctld"], "-D", "-f", str(self.conf)])
        self._spawn("slurmd", [self.programs["slurmd"], "-D", "-f", str(self.conf), "-N", self.node])
        self._wait("the node to be idle", lambda: self.sinfo_state() == "idle", 60)

    # -- use ------------------------------------------------------------------------------------

    def srun(self, argv: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.programs["srun"], *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").strip().splitlines()[-15:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    # -- teardown -------------------------------------------------------------------------------

    def stop(self) -> None:
        """End every daemon this object started (and their process groups); idempotent."""
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
                if proc.poll() is not None:
                    break
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
            # A slurmstepd left in the group after its daemon went: end the group too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    programs = ensure_slurm()
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"), programs)
    atexit.register(cluster.stop)  # even if pytest is interrupted between setup and teardown
    try:
        try:
            cluster.start()
        except RuntimeError as exc:
            pytest.fail(f"the local Slurm did not start: {exc}")
        yield cluster
    finally:
        cluster.stop()
        atexit.unregister(cluster.stop)


@pytest.fixture(scope="module")
def broken_env() -> Path:
    try:
        return realenvs.build("cpu-torch-cuda-tv")
    except realenvs.Unavailable as exc:
        pytest.skip(str(exc))


def test_srun_report_then_fleet(slurm: LocalSlurm, broken_env: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    proc = slurm.srun(
        [
            "--nodes=1",
            "--ntasks-per-node=1",
            str(TVWIZARD),
            "--python",
            str(realenvs.env_python(broken_env)),
            "report",
            "--json",
            "-o",
            f"{reports}/{{host}}.json",
        ]
    )
    # srun passes the task's exit code on: 1, problems found (and the report written)
    assert proc.returncode == 1, f"srun: {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n{slurm.logs()}"
    assert "(broken; " in proc.stderr
    files = sorted(reports.iterdir())
    assert [f.name for f in files] == [f"{slurm.node}.json"]  # {host} filled in, no temp file left
    report = json.loads(files[0].read_text(encoding="utf-8"))
    assert report["schema"] == "tvwizard.report/1" and report["verdict"] == "broken"

    summary = aggregate([reports])
    assert [(g.cause, g.hosts) for g in summary.groups] == [("build-variant-mismatch", [slurm.node])]
    assert summary.groups[0].fingerprint.variant == "cpu / cu130"
    assert summary.groups[0].fixes and summary.exit_code == 1

    fleet = subprocess.run([str(TVWIZARD), "fleet", str(reports)], capture_output=True, text=True, timeout=60)
    assert fleet.returncode == 1, fleet.stderr
    assert f"1 node `build-variant-mismatch`: {slurm.node}" in fleet.stdout
    fleet_json = subprocess.run(
        [str(TVWIZARD), "fleet", "--json", str(reports)], capture_output=True, text=True, timeout=60
    )
    assert json.loads(fleet_json.stdout)["causes"][0]["cause"] == "build-variant-mismatch"
