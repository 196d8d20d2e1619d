"""Every fix tvwizard offers, by id: manual steps written once, and one builder per command fix.

The rules say *what* is wrong and *which* fix applies, with its parameters
(``catalog.build("trim-pythonpath", location=..., entries=...)``); this module writes the fix:
its words, its commands for the installer that owns the target (:func:`installer_for`) and
whether ``fix --apply`` may run it.  A fix id means one fix, in one wording, everywhere.
The fixes that install a torch/torchvision pair live in :mod:`tvwizard.fixes.pairing`.
"""

from __future__ import annotations

import copy
import os
import shlex
from collections.abc import Callable
from typing import Any

from tvwizard.facts.evidence import Evidence
from tvwizard.fixes.commands import installer_for, is_valid_version, quote
from tvwizard.model import Fix

DRIVER_DOWNLOAD = "https://www.nvidia.com/Download/index.aspx"


def _manual(fix_id: str, title: str, why: str, *, restart: bool = True, **kw: Any) -> Fix:
    return Fix(id=fix_id, title=title, kind="manual", why=why, restart=restart, **kw)


#: Fixes with nothing to fill in: what a person does, written once.
MANUAL: dict[str, Fix] = {
    f.id: f
    for f in (
        _manual(
            "reboot-after-driver-update",
            "Reboot (or reload the nvidia kernel modules)",
            "The driver's user-space and kernel parts must be the same version.",
        ),
        _manual(
            "check-device-permissions",
            "Give your user access to /dev/nvidia* (group `video`/`render`, or the node's mode), or pass the "
            "devices into the container",
            "CUDA opens the device nodes directly; without read-write access it cannot start.",
        ),
        _manual(
            "container-gpu-access",
            "Start the container with GPU access (`--gpus all` for Docker, `--device nvidia.com/gpu=all` for "
            "Podman/CDI, a GPU resource request on Kubernetes)",
            "A container sees no NVIDIA driver unless the NVIDIA container runtime maps it in: it mounts the device "
            "nodes and the driver's libraries together.",
        ),
        _manual(
            "load-nvidia-uvm",
            "Load the unified-memory module: `sudo modprobe nvidia_uvm` (or `sudo nvidia-modprobe -u -c=0`)",
            "nvidia-smi works without nvidia_uvm, CUDA does not; the module creates /dev/nvidia-uvm.",
        ),
        _manual(
            "slurm-request-gpu",
            "Ask Slurm for a GPU: `srun --gres=gpu:1 …` (or `--gpus=1`, `#SBATCH --gres=gpu:1`)",
            "Inside a job, only the GPUs Slurm allocated are usable; NVML may still list them all.",
        ),
        _manual(
            "check-gpu-allocation",
            "Check that this process was given the GPU: `nvidia-smi` in the same shell, the job's GPU request "
            "(`--gres=gpu:1`), the container's `--gpus`",
            "NVML can list GPUs that a device cgroup keeps CUDA from opening.",
        ),
        _manual(
            "remove-cuda-compat",
            "Take the cuda-compat folder out of LD_LIBRARY_PATH",
            "Forward compatibility only works on data-center GPUs; elsewhere the driver's own libcuda must be used.",
        ),
        _manual(
            "start-fabricmanager",
            "Start nvidia-fabricmanager (`sudo systemctl enable --now nvidia-fabricmanager`)",
            "HGX/DGX machines need the fabric manager, of the same version as the driver, before CUDA can start.",
        ),
        _manual(
            "remove-cuda-stubs",
            "Take the `stubs` folder out of LD_LIBRARY_PATH",
            "The stub libcuda exists only for linking at build time; it has no driver behind it.",
        ),
        _manual(
            "free-busy-gpu",
            "Find the process on the GPU (`nvidia-smi`) and wait for it or pick another GPU (CUDA_VISIBLE_DEVICES); "
            "an admin can set the compute mode back with `sudo nvidia-smi -c DEFAULT`",
            "In Exclusive-Process mode a GPU takes one CUDA process at a time.",
        ),
        _manual(
            "free-gpu-memory",
            "Find the processes holding GPU memory (`nvidia-smi`), stop them or pick another GPU "
            "(CUDA_VISIBLE_DEVICES)",
            "CUDA needs some memory for its context on every visible GPU.",
        ),
        _manual(
            "use-drivers-libcuda",
            "Load the driver's own libcuda.so.1: take other copies out of LD_LIBRARY_PATH; on WSL or Docker Desktop, "
            "update the Windows NVIDIA driver and Docker Desktop",
            "The CUDA runtime looks up the driver's functions by name; a libcuda from another or older driver lacks "
            "some.",
        ),
        _manual(
            "check-visible-devices",
            "Check CUDA_VISIBLE_DEVICES: it must name GPUs that exist and are passed to this process",
            "The driver is there but no GPU is visible to this process; an invalid ordinal hides every GPU.",
        ),
        _manual(
            "reload-nvidia-uvm",
            "Reload nvidia_uvm (`sudo rmmod nvidia_uvm && sudo modprobe nvidia_uvm`) or reboot",
            "An unknown CUDA error at start-up usually clears when the unified-memory module is reloaded.",
        ),
        _manual(
            "check-driver-in-this-process",
            "Check that `nvidia-smi` works in this same shell; in a container, start it with GPU access "
            "(`--gpus all`); after a driver install, reboot",
            "CUDA needs the kernel module loaded and /dev/nvidia* reachable from this process.",
        ),
        _manual(
            "check-gpu-health",
            "Check the GPU: does `nvidia-smi` hang too? Look for Xid errors in `sudo dmesg`; reset the GPU "
            "(`sudo nvidia-smi --gpu-reset -i <index>`) or reboot",
            "A hung driver call clears only when the GPU or the driver is reset.",
        ),
        _manual(
            "exit-without-teardown",
            "Until the cause is fixed: end scripts with `sys.stdout.flush(); os._exit(0)`",
            "os._exit skips the interpreter's teardown, where the crash happens; results are already written by then.",
            restart=False,
        ),
        Fix(
            id="unset-cuda-visible-devices",
            title="Unset CUDA_VISIBLE_DEVICES (or list the GPUs to use, e.g. 0)",
            kind="env",
            env={"CUDA_VISIBLE_DEVICES": None},
            why="With it unset, CUDA sees every GPU.",
            restart=True,
        ),
        Fix(
            id="unset-ld-preload",
            title="Unset LD_PRELOAD for Python",
            kind="env",
            env={"LD_PRELOAD": None},
            restart=True,
            why="A preloaded library wins over the copy torch ships.",
        ),
        _manual(
            "rerun-with-longer-timeout",
            "Run it again with a longer --timeout, or look at where it waits (its log)",
            "tvwizard ended it at the limit; a slow first start (a cold disk, a network file system) can need more.",
            restart=False,
        ),
    )
}

_BUILDERS: dict[str, Callable[..., Fix]] = {}


def _builder(fix_id: str) -> Callable[[Callable[..., Fix]], Callable[..., Fix]]:
    def register(fn: Callable[..., Fix]) -> Callable[..., Fix]:
        if fix_id in _BUILDERS or fix_id in MANUAL:
            raise ValueError(f"fix {fix_id!r} is defined twice")
        _BUILDERS[fix_id] = fn
        return fn

    return register


def build(fix_id: str, **params: Any) -> Fix:
    """The fix ``fix_id``, filled in with ``params`` (a fresh object: callers may extend it)."""
    if fix_id in MANUAL:
        if params:
            raise TypeError(f"fix {fix_id!r} takes no parameters")
        return copy.deepcopy(MANUAL[fix_id])
    return _BUILDERS[fix_id](**params)


def fix_ids() -> set[str]:
    """Every fix id this catalog (and :mod:`tvwizard.fixes.pairing`) can produce."""
    return set(MANUAL) | set(_BUILDERS) | set(PAIRING_IDS)


#: The ids :mod:`tvwizard.fixes.pairing` builds.
PAIRING_IDS = (
    "install-paired-torchvision",
    "install-newest-pair",
    "install-cpu-pair",
    "install-pair-for-driver",
    "install-pair-for-gpu",
)


def _shell(text: str) -> str:
    return shlex.quote(text)


def _where(ev: Evidence) -> str:
    return ev.target.prefix or "the target env"


# -- GPU -------------------------------------------------------------------------------------


@_builder("upgrade-driver")
def upgrade_driver(ev: Evidence, floor: str | None, verb: str = "Upgrade") -> Fix:
    """Install or upgrade the NVIDIA driver to ``floor`` or newer, the way this machine gets one."""
    container = ev.system.get("container") if isinstance(ev.system, dict) else None
    wsl = ev.system.get("wsl") if isinstance(ev.system, dict) else None
    if isinstance(wsl, dict) and wsl.get("detected"):
        how = (
            "Under WSL the driver is the Windows one: update the NVIDIA driver in Windows "
            "(never install a Linux driver inside WSL), then `wsl --shutdown`."
        )
    elif isinstance(container, dict) and container.get("detected"):
        how = "In a container the driver is the host's: upgrade it on the host, then restart the container."
    else:
        how = (
            "Install it from your distribution's packages (e.g. `sudo ubuntu-drivers install`) "
            f"or {DRIVER_DOWNLOAD}, then reboot."
        )
    return _manual(
        "upgrade-driver",
        f"{verb} the NVIDIA driver ({floor} or newer)" if floor else f"{verb} the NVIDIA driver",
        f"Keeps this torch build as it is. {how}",
        changes="The system's NVIDIA driver (needs administrator rights and a reboot).",
    )


@_builder("install-driver-libraries")
def install_driver_libraries(module: str) -> Fix:
    return _manual(
        "install-driver-libraries",
        f"Install the driver's libraries of the same version ({module}), e.g. on Ubuntu "
        f"`sudo apt install libnvidia-compute-{module.split('.')[0]}`, or add their folder to the "
        "loader's path (`ldconfig`)",
        "libcuda and libnvidia-ml must match the loaded kernel module's version exactly.",
    )


@_builder("no-build-for-gpu")
def no_build_for_gpu(capability: str) -> Fix:
    return _manual(
        "no-build-for-gpu",
        "No current official build supports this GPU",
        f"Compute capability {capability} is outside what current PyTorch wheels are built for. "
        "Use the CPU build, an older torch built for a CUDA that still supports it, or build torch "
        f"and torchvision from source with TORCH_CUDA_ARCH_LIST={capability}.",
        restart=False,
    )


@_builder("fix-cuda-home")
def fix_cuda_home(value: str, replacement: str | None) -> Fix:
    return _toolkit_variable("CUDA_HOME", value, replacement)


@_builder("fix-cuda-path")
def fix_cuda_path(value: str, replacement: str | None) -> Fix:
    return _toolkit_variable("CUDA_PATH", value, replacement)


def _toolkit_variable(var: str, value: str, replacement: str | None) -> Fix:
    return Fix(
        id=f"fix-{var.lower().replace('_', '-')}",
        title=f"Set {var}={replacement}" if replacement else f"Unset {var}",
        kind="env",
        env={var: replacement},
        why=(
            f"{replacement} is a complete CUDA toolkit (nvcc and lib64)."
            if replacement
            else "An unset variable lets build tools find nvcc on PATH or fail with a clear message."
        ),
        undo=f"Set {var} back to {value}.",
    )


# -- native libraries and damaged installs ---------------------------------------------------


@_builder("trim-ld-library-path")
def trim_ld_library_path(bad_entries: list[str], kept: list[str]) -> Fix:
    return Fix(
        id="trim-ld-library-path",
        title="Take " + ", ".join(sorted(b for b in bad_entries if b)) + " out of LD_LIBRARY_PATH",
        kind="env",
        env={"LD_LIBRARY_PATH": ":".join(kept) or None},
        why="torch ships the libraries it needs and finds them itself; what lies ahead of them on "
        "LD_LIBRARY_PATH is loaded first, and ld.so stops at the first file of that name even when it "
        "cannot load it.",
        undo="Restore LD_LIBRARY_PATH to its previous value (see the evidence).",
        restart=True,
    )


_RMTREE = "import shutil, sys; [shutil.rmtree(p) for p in sys.argv[1:]]"


@_builder("reinstall-package")
def reinstall_package(ev: Evidence, package: str, version: str, leftovers: list[str] | None = None) -> Fix:
    """The same version again over damaged files; pip's ``~name`` stash folders ``leftovers`` (from an
    interrupted install) removed by the target interpreter itself: an argv, never a shell."""
    inst = installer_for(ev)
    argv = [inst.install([f"{package}=={version}"], force_reinstall=True, no_deps=True)]
    if leftovers and inst.auto:
        argv.append([ev.target.executable or ev.target.python, "-c", _RMTREE, *leftovers])
    return Fix(
        id="reinstall-package",
        title=f"Reinstall {package} {version} over the damaged files"
        + (f" and remove pip's leftovers ({', '.join(os.path.basename(p) for p in leftovers)})" if leftovers else ""),
        kind="command",
        commands=[quote(a) for a in argv],
        argv=argv,
        applicable=inst.auto,
        restart=True,
        why="A fresh copy of the same version replaces the damaged files; nothing else changes.",
        changes=f"Rewrites every file of {package} {version}; its dependencies are not touched (--no-deps)."
        + (" Deletes the ~ folders pip left when an install was interrupted." if leftovers else ""),
        undo="Nothing to undo: the same version is installed again.",
        download="",
    )


@_builder("restore-overwritten-file")
def restore_overwritten(ev: Evidence, victim: str, version: str, intruder: str) -> Fix:
    """Uninstall ``intruder`` (the package that wrote over ``victim``'s file), then reinstall ``victim``.

    The order matters: uninstalling the intruder deletes every file its RECORD lists, the shared
    one included, so the victim is reinstalled after it."""
    inst = installer_for(ev)
    argv = [inst.uninstall([intruder]), inst.install([f"{victim}=={version}"], force_reinstall=True, no_deps=True)]
    return Fix(
        id="restore-overwritten-file",
        title=f"Uninstall {intruder}, then reinstall {victim} {version}",
        kind="command",
        commands=[quote(a) for a in argv],
        argv=argv,
        applicable=inst.auto,
        restart=True,
        why=f"{intruder} wrote its own copy of a file {victim} owns. Uninstalling it removes that copy (and "
        f"the shared path); reinstalling {victim} puts the right file back.",
        changes=f"Removes {intruder}; rewrites {victim} {version} (--no-deps: nothing else changes).",
        undo=f"Reinstall {intruder} (it will overwrite the file again).",
    )


# -- packages --------------------------------------------------------------------------------


@_builder("install-torch")
def install_torch(ev: Evidence, torch: str, torchvision: str, variant: str | None, index_url: str | None) -> Fix:
    """Install the pair ``torch``/``torchvision`` where torch is missing (``variant`` "cpu" on a box without a GPU)."""
    inst = installer_for(ev)
    reqs = [f"torch=={torch}", f"torchvision=={torchvision}"]
    if variant:
        reqs = [f"{r}+{variant}" for r in reqs]
    argv = inst.install(reqs, index_url=index_url)
    cpu = variant == "cpu"
    return Fix(
        id="install-torch",
        title=f"Install torch {torch} and torchvision {torchvision}"
        + (" (CPU build: no NVIDIA GPU here)" if cpu else ""),
        kind="command",
        why="The newest released pair for this Python"
        + (", CPU build from the CPU index." if cpu else ", from PyPI (its default build for this platform)."),
        commands=[quote(argv)],
        argv=[argv],
        download="about 200 MB" if cpu else "about 3 GB on Linux x86_64 (a CUDA build)",
        changes=f"Installs torch and torchvision into {_where(ev)}.",
        undo=quote(inst.uninstall(["torch", "torchvision"])),
        applicable=inst.auto,
    )


@_builder("install-requirement")
def install_requirement(ev: Evidence, requirement: str, name: str, requirer: str, installed: str | None) -> Fix:
    inst = installer_for(ev)
    argv = inst.install([requirement])
    return Fix(
        id="install-requirement",
        title=f"Install {requirement}",
        kind="command",
        commands=[quote(argv)],
        argv=[argv],
        applicable=inst.auto,
        restart=True,
        why=f"{requirer} declares it in Requires-Dist.",
        changes=f"Installs {requirement} into {_where(ev)}" + (f" (replacing {installed})." if installed else "."),
        undo=quote(inst.uninstall([name]))
        if not installed
        else quote(inst.install([f"{name}=={installed}"]))
        if is_valid_version(installed)
        else "",
    )


@_builder("numpy-below-2")
def numpy_below_2(ev: Evidence, installed: str | None) -> Fix:
    inst = installer_for(ev)
    argv = inst.install(["numpy<2"])
    return Fix(
        id="numpy-below-2",
        title="Install NumPy 1.x",
        kind="command",
        commands=[quote(argv)],
        argv=[argv],
        why="The torch installed here needs NumPy 1.x; torch 2.3+ supports NumPy 2.",
        changes=f"Replaces NumPy {installed or ''} with the newest 1.x in {_where(ev)}.",
        undo=quote(inst.install([f"numpy=={installed}"])) if is_valid_version(installed) else "",
        download="about 20 MB",
        restart=True,
        applicable=inst.auto,
    )


# -- shadowing and stray copies ----------------------------------------------------------------


@_builder("leave-checkout")
def leave_checkout(folder: str) -> Fix:
    return Fix(
        id="leave-checkout",
        title=f"Run Python outside {folder}",
        kind="manual",
        why="Outside the checkout, the installed package is found: a source checkout without built extensions "
        "shadows it.",
        commands=["cd ~"],
    )


@_builder("build-checkout")
def build_checkout(folder: str, python: str) -> Fix:
    return Fix(
        id="build-checkout",
        title="Or build the checkout in place (needs a compiler and the torch it builds against)",
        kind="manual",
        commands=[f"cd {_shell(folder)} && {_shell(python)} -m pip install -e . --no-build-isolation"],
        why="An editable install builds the extensions against the torch installed here.",
    )


@_builder("rename-shadowing-file")
def rename_shadowing_file(target: str, module: str) -> Fix:
    """Rename the file or folder ``target`` that hides ``module``: ``x.py`` -> ``x_renamed.py``."""
    renamed = target[:-3] + "_renamed.py" if target.endswith(".py") else target + "_renamed"
    return Fix(
        id="rename-shadowing-file",
        title=f"Rename {os.path.basename(target)}"
        + (" (and remove its __pycache__)" if target.endswith(".py") else ""),
        kind="rename",
        why=f"So `import {module}` finds the installed module.",
        commands=[f"mv {_shell(target)} {_shell(renamed)}"],
        changes=f"Renames {target}.",
        undo=f"mv {_shell(renamed)} {_shell(target)}",
    )


@_builder("trim-pythonpath")
def trim_pythonpath(package: str, location: str, entries: list[str], why: str | None = None) -> Fix:
    kept = [e for e in entries if os.path.normpath(e) != os.path.normpath(location)]
    return Fix(
        id="trim-pythonpath",
        title=f"Take {location} out of PYTHONPATH",
        kind="env",
        env={"PYTHONPATH": os.pathsep.join(kept) or None},
        why=why or f"It puts another {package} ahead of the one installed in the env.",
        undo=f"Set PYTHONPATH back to {os.pathsep.join(entries)}",
        restart=True,
    )


@_builder("disable-pth-file")
def disable_pth(pth: str, what: str) -> Fix:
    """Rename the ``.pth`` file that puts ``what`` on sys.path, so site stops reading it."""
    renamed = pth + ".disabled"
    return Fix(
        id="disable-pth-file",
        title=f"Disable {os.path.basename(pth)} (it puts {what} on sys.path)",
        kind="rename",
        commands=[f"mv {_shell(pth)} {_shell(renamed)}"],
        why="Python's site module reads every .pth file in site-packages at start-up and adds the folders "
        "they name; renamed, this one is skipped.",
        changes=f"Renames {pth}.",
        undo=f"mv {_shell(renamed)} {_shell(pth)}",
        restart=True,
    )


@_builder("ignore-user-site")
def ignore_user_site(ev: Evidence, package: str) -> Fix:
    return Fix(
        id="ignore-user-site",
        title="Ignore the user site-packages for this Python",
        kind="env",
        env={"PYTHONNOUSERSITE": "1"},
        why=f"The user-site {package} wins over the env's own; removing it with "
        f"`{ev.target.python} -m pip uninstall {package}` (which takes the first copy) works too.",
        undo="unset PYTHONNOUSERSITE",
        restart=True,
    )


@_builder("remove-stray-copy")
def remove_stray_copy(package: str, location: str, version: str | None, paths: list[str]) -> Fix:
    return Fix(
        id="remove-stray-copy",
        title=f"Remove the stray {package} in {location}",
        kind="manual",
        why="Python imports it instead of the env's own copy.",
        commands=["rm -r " + " ".join(_shell(p) for p in paths)],
        changes=f"Deletes {package} {version} from {location} (outside the env).",
    )


# -- the user's own code -----------------------------------------------------------------------


@_builder("read-failing-line")
def read_failing_line(where: str | None, code: object = None) -> Fix:
    """Point at the line that raised: torch and torchvision work, the user's code does not."""
    return Fix(
        id="read-failing-line",
        title=f"Look at {where}: the error is raised there"
        if where
        else "Read the error: it is raised before any code of yours ran",
        kind="manual",
        why="torch and torchvision pass every check tvwizard has; the failure is in the code that ran.",
        changes=str(code or ""),
    )
