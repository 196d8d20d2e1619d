"""Fixes that install a torch/torchvision pair: versions chosen, not guessed.

Preferred: keep the installed torch and install the torchvision that pairs with it, in the
same variant (CPU or the same CUDA), from the index that publishes that variant.  Second
choice: move both to the newest pair that supports this Python, in the same variant.

PEP 440 traps handled here: ``torch==2.14.1`` is "already satisfied" by ``2.14.1+cpu``, so
a change of variant at the same version pins the local tag explicitly (``+cpu``) or, for
PyPI's untagged default build, uses ``--force-reinstall --no-deps``.
"""

from __future__ import annotations

from tvwizard.facts import knowledge
from tvwizard.facts.evidence import Evidence
from tvwizard.fixes.commands import Installer, installer_for, quote
from tvwizard.model import Fix

CPU_TORCH_SIZE = "about 200 MB"
CUDA_TORCH_SIZE = "about 3 GB with its nvidia-* libraries"
TORCHVISION_SIZE = "under 10 MB"


def _platform(ev: Evidence) -> str:
    """The target's platform in knowledge's terms: "linux-x86_64", "macos", "windows"…"""
    plat = ev.platform_info()
    system = str(plat.get("sys_platform") or "linux")
    machine = str(plat.get("machine") or "x86_64").lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if system.startswith("linux"):
        return f"linux-{machine}"
    if system.startswith("darwin"):
        return "macos-arm64" if machine in ("arm64", "aarch64") else "macos-x86_64"
    if system.startswith("win"):
        return "windows-x86_64"
    return f"{system}-{machine}"


def _requirement(ev: Evidence, name: str, base: str, variant: str | None) -> tuple[str, str | None, bool]:
    """``(requirement, index_url, force)`` for ``name`` at ``base`` in ``variant``."""
    torch_base = base if name == "torch" else None
    default = knowledge.pypi_default_variant(torch_base or _torch_for(base), _platform(ev))
    if variant is None or variant == default:
        # PyPI's plain wheel; a same-version different-variant install needs force.
        # The plain wheel's metadata carries no local tag; an installed "X+cpu" satisfies
        # "==X", so moving from it to PyPI's build of the same X needs --force-reinstall.
        installed = str((ev.dist(name) or {}).get("version", ""))
        tagged_same = "+" in installed and installed.split("+")[0] == base
        return f"{name}=={base}", None, tagged_same
    return f"{name}=={base}+{variant}", knowledge.index_url(variant), False


def _torch_for(tv_base: str) -> str:
    pair = knowledge.expected_torch(tv_base)
    return pair or tv_base


def conda_note(inst: Installer) -> str:
    """What a person must know when conda owns torch: these commands are shown, never run."""
    if inst.kind != "conda":
        return ""
    return " conda owns torch in this env: install with conda, not pip, or you get two torches."


def install_pair_fix(ev: Evidence, pair: knowledge.Pair, fix_id: str, title: str, why: str) -> Fix:
    """Install exactly ``pair`` (torch and torchvision, one command, one index) in its variant.

    The installer is the one that owns the target (:func:`installer_for`): where conda owns
    torch the command is a ``conda install`` that keeps the variant in its build string, shown
    for the person to run, never run by ``fix --apply`` (``applicable`` follows the installer).
    """
    inst = installer_for(ev)
    tag = f"+{pair.variant}" if pair.variant else ""
    argv = inst.install(
        [f"torch=={pair.torch}{tag}", f"torchvision=={pair.torchvision}{tag}"], index_url=pair.index_url
    )
    cuda = bool(pair.variant and pair.variant.startswith("cu"))
    source = f"conda's {inst.channel} channel" if inst.kind == "conda" else (pair.index_url or "PyPI")
    return Fix(
        id=fix_id,
        title=title,
        kind="command",
        why=why + conda_note(inst),
        commands=[quote(argv)],
        argv=[argv],
        changes=f"Replaces torch and torchvision in {ev.target.prefix or 'the target env'}, both from "
        f"{source} in one command so they cannot drift apart.",
        undo="Reinstall the previous versions the same way, or recreate the environment.",
        download=CUDA_TORCH_SIZE if cuda else CPU_TORCH_SIZE,
        restart=True,
        applicable=inst.auto,
    )


def _cpu_pair(ev: Evidence) -> knowledge.Pair | None:
    """The CPU build of the installed release when published, else the newest CPU pair."""
    python = ev.python_version()
    tb = ev.torch_build()
    if tb is not None:
        rel = knowledge.release(tb.base)
        if rel is not None and "cpu" in rel.variants and knowledge.python_supported(rel.torch, python or "3"):
            return knowledge.Pair(rel.torch, rel.torchvision, rel.torchaudio, "cpu", knowledge.index_url("cpu"))
    return knowledge.newest_pair(python, variant="cpu") if python else None


def cpu_pair_fix(ev: Evidence, why: str) -> Fix | None:
    """Switch a CUDA build to the CPU build of the same release (then drop the nvidia-* libraries)."""
    pair = _cpu_pair(ev)
    if pair is None:
        return None
    fix = install_pair_fix(
        ev,
        pair,
        "install-cpu-pair",
        f"Switch to the CPU build: torch {pair.torch}+cpu + torchvision {pair.torchvision}+cpu",
        why,
    )
    nvidia = sorted(str(d["name"]) for d in ev.dists() if str(d.get("name", "")).lower().startswith("nvidia-"))
    if nvidia:
        argv = installer_for(ev).uninstall(nvidia)
        fix.commands.append(quote(argv))
        fix.argv.append(argv)
        fix.changes += f" Then removes the {len(nvidia)} nvidia-* CUDA library packages the CUDA build pulled in."
    return fix


def pair_torchvision_fix(ev: Evidence, torch_base: str, variant: str | None, *, no_deps: bool = True) -> Fix | None:
    """Keep torch, install the torchvision made for it.

    ``no_deps``: replacing a torchvision must not drag torch along; installing a missing one
    may install its other requirements (pillow, numpy) too (its torch pin is already met).
    """
    expected = knowledge.expected_torchvision(torch_base)
    if expected is None:
        return None
    inst = installer_for(ev)
    req, index, force = _requirement(ev, "torchvision", expected, variant)
    argv = inst.install([req], index_url=index, force_reinstall=force, no_deps=no_deps)
    old = ev.torchvision_version() or "the previous version"
    where = index or "PyPI"
    torch_words = f"torch {torch_base}{'+' + variant if variant else ''}"
    if no_deps:
        undo = (
            f"Reinstall the old one: {quote(inst.install(['torchvision==' + old.split('+')[0]], no_deps=True))}"
            if old != "the previous version"
            else ""
        )
    else:  # torchvision was missing: undo is removing it again
        undo = quote(inst.uninstall(["torchvision"]))
    return Fix(
        id="install-paired-torchvision",
        title=(f"Keep {torch_words}; install" if no_deps else f"For {torch_words}: install")
        + f" torchvision {expected}{' (' + variant + ')' if variant else ''}",
        kind="command",
        why=f"torchvision {expected} is the release made for torch {torch_base.rsplit('.', 1)[0]}.x, "
        f"in the same build variant ({variant or 'default'}), from {where}.{conda_note(inst)}",
        commands=[quote(argv)],
        argv=[argv],
        changes=(
            f"Replaces torchvision {old} in {ev.target.prefix or 'the target env'}; torch is not touched (--no-deps)."
            if no_deps
            else f"Installs torchvision into {ev.target.prefix or 'the target env'}; the torch there is kept."
        ),
        undo=undo,
        download=TORCHVISION_SIZE,
        restart=True,
        applicable=inst.auto,
    )


def newest_pair_fix(ev: Evidence, variant: str | None) -> Fix | None:
    """Move both torch and torchvision to the newest pair this Python supports."""
    python = ev.python_version()
    pair = knowledge.newest_pair(python, variant=variant)
    if pair is None:
        return None
    tb = ev.torch_build()
    if tb is not None and tb.base == pair.torch and (variant is None or tb.variant == variant):
        return None  # torch is already the newest: keeping it and pairing torchvision is the move
    inst = installer_for(ev)
    t_req, index, t_force = _requirement(ev, "torch", pair.torch, variant)
    v_req, _, v_force = _requirement(ev, "torchvision", pair.torchvision, variant)
    argv = inst.install([t_req, v_req], index_url=index, force_reinstall=t_force or v_force)
    cuda = variant is not None and variant.startswith("cu")
    return Fix(
        id="install-newest-pair",
        title=f"Move both to torch {pair.torch} + torchvision {pair.torchvision}"
        f"{' (' + variant + ')' if variant else ''}",
        kind="command",
        why=f"The newest released pair that supports Python {python}, installed in one command from one "
        "index so the two cannot drift apart.",
        commands=[quote(argv)],
        argv=[argv],
        changes=f"Replaces torch and torchvision in {ev.target.prefix or 'the target env'}.",
        undo="Reinstall the previous versions the same way, or recreate the environment.",
        download=CUDA_TORCH_SIZE if cuda or variant is None else CPU_TORCH_SIZE,
        restart=True,
        applicable=inst.auto,
    )
