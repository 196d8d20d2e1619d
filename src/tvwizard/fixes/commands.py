"""Install commands for *this* target: the right installer, the right index, quoted paths.

Never a bare ``pip`` (it may belong to another env): ``"<target python>" -m pip``.  A
uv-managed env gets ``uv pip install --python``; conda commands only where conda owns the
packages.  Every command exists twice: as an argv list (what ``fix --apply`` runs, no
shell involved) and as a shell-quoted line to copy.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from tvwizard.diagnosis.evidence import Evidence


@dataclass(frozen=True)
class Installer:
    kind: str  # "pip" | "uv" | "conda"
    python: str

    def install(
        self,
        requirements: list[str],
        *,
        index_url: str | None = None,
        force_reinstall: bool = False,
        no_deps: bool = False,
    ) -> list[str]:
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
        if self.kind == "uv":
            return ["uv", "pip", "uninstall", "--python", self.python, *names]
        return [self.python, "-m", "pip", "uninstall", "-y", *names]


def installer_for(ev: Evidence) -> Installer:
    """pip unless the env says otherwise (uv's INSTALLER stamp or env kind)."""
    python = ev.target.python
    interp = ev.data("interpreter")
    torch = ev.dist("torch") or ev.dist("torchvision") or {}
    if str(torch.get("installer", "")).strip() == "uv" or interp.get("env_kind") == "uv":
        return Installer("uv", python)
    return Installer("pip", python)


def quote(argv: list[str]) -> str:
    """One POSIX shell line; every argument that needs it quoted (paths with spaces, ``==``…)."""
    return " ".join(shlex.quote(a) for a in argv)
