"""Install commands for *this* target: the right installer, the right index, quoted paths.

Never a bare ``pip`` (it may belong to another env): ``"<target python>" -m pip``.  A
uv-managed env gets ``uv pip install --python``; conda commands only where conda owns the
packages.  Every command exists twice: as an argv list (what ``fix --apply`` runs, no
shell involved) and as a shell-quoted line to copy.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from tvwizard.facts.evidence import Evidence

_CONDA_NAMES = {"torch": "pytorch"}


@dataclass(frozen=True)
class Installer:
    kind: str  # "pip" | "uv" | "conda"
    python: str
    prefix: str = ""
    channel: str = "conda-forge"

    @property
    def auto(self) -> bool:
        """Whether tvwizard may run its commands for the user (after a yes).

        conda's solver decides versions and builds itself, so its commands are shown for
        the user to run, never run by tvwizard.
        """
        return self.kind in ("pip", "uv")

    def install(
        self,
        requirements: list[str],
        *,
        index_url: str | None = None,
        force_reinstall: bool = False,
        no_deps: bool = False,
    ) -> list[str]:
        if self.kind == "conda":
            specs = [_conda_spec(req) for req in requirements]
            return ["conda", "install", "--prefix", self.prefix, "--channel", self.channel, *specs]
        if self.kind == "uv":
            argv = ["uv", "pip", "install", "--python", self.python]
        else:
            argv = [self.python, "-m", "pip", "install"]
        if force_reinstall:
            argv.append("--force-reinstall")
        if no_deps:
            argv.append("--no-deps")
        argv.extend(requirements)
        if index_url:
            argv.extend(["--index-url", index_url])
        return argv

    def uninstall(self, names: list[str]) -> list[str]:
        if self.kind == "conda":
            return ["conda", "remove", "--prefix", self.prefix, *(_CONDA_NAMES.get(n, n) for n in names)]
        if self.kind == "uv":
            return ["uv", "pip", "uninstall", "--python", self.python, *names]
        return [self.python, "-m", "pip", "uninstall", "-y", *names]


def _conda_spec(requirement: str) -> str:
    """A pip pin as a conda match spec that keeps the build variant: ``torch==2.5.1+cpu`` ->
    ``pytorch=2.5.1=*cpu*``.  conda has no local version tags; the variant lives in the build
    string (conda-forge ``cpu_mkl_…``/``cuda126_…``, the pytorch channel ``py3.12_cpu_0``/
    ``py3.12_cuda12.4_…``), so a glob on it keeps a CPU build CPU and a CUDA build CUDA."""
    name, _, version = requirement.partition("==")
    name = _CONDA_NAMES.get(name, name)
    if not version:
        return name
    base, _, local = version.partition("+")
    if local == "cpu":
        return f"{name}={base}=*cpu*"
    if local.startswith("cu") and local[2:].isdigit():
        return f"{name}={base}=*cuda*"
    return f"{name}={base}"


def installer_for(ev: Evidence) -> Installer:
    """pip unless the env says otherwise: conda where conda owns torch, uv for uv envs.

    The command names the interpreter itself (``sys.executable`` as the target reported
    it), not a pyenv shim or a PATH lookup that may pick another Python elsewhere.
    """
    python = ev.target.executable or ev.target.python
    torch = ev.dist("torch") or ev.dist("torchvision") or {}
    installer = str(torch.get("installer", "")).strip()
    records = ev.conda_records()
    conda_torch = next((r for r in records if r.get("name") in ("pytorch", "pytorch-cpu", "pytorch-gpu")), None)
    if installer == "conda" or (conda_torch is not None and not torch):
        channel = str((conda_torch or {}).get("channel") or "conda-forge").rstrip("/").rsplit("/", 1)[-1]
        return Installer("conda", python, prefix=ev.target.prefix, channel=channel or "conda-forge")
    if installer == "uv" or ev.env_kind() == "uv":
        return Installer("uv", python)
    return Installer("pip", python)


def quote(argv: list[str]) -> str:
    """One POSIX shell line; every argument that needs it quoted (paths with spaces, ``==``…)."""
    return " ".join(shlex.quote(a) for a in argv)
