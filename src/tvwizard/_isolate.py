"""Keep tvwizard's own interpreter out of the user's Python environment variables.

tvwizard runs where the user's ``PYTHONPATH`` points at their own packages, and maybe at a
``sitecustomize`` that prints, forks, or calls ``os._exit(0)``.  Those are the target's
business: the probes see them exactly (they get ``os.environ`` as it is).  tvwizard's own
interpreter must not: a ``packaging`` from ``PYTHONPATH`` would break it, and a
``sitecustomize`` runs before any of tvwizard's code could object.

So ``tvwizard-isolate.pth`` (installed next to the package, run by ``site`` before any
``sitecustomize``) imports this module when the command line looks like tvwizard's, and
this module starts the same command again with ``-E`` when one of those variables is set.
``-E`` makes Python ignore every ``PYTHON*`` variable; ``os.environ`` keeps them for the
probes.  Without such a variable nothing happens: no second interpreter start.
"""

from __future__ import annotations

import os
import sys

# Variables that change what tvwizard's own interpreter imports or does (PYTHONINSPECT would
# leave it waiting at a >>> prompt, PYTHONWARNINGS=error turn a warning into a traceback).
# PYTHONHOME is not one: where it is set the interpreter may need it to find its stdlib.
RISKY = ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONWARNINGS", "PYTHONUSERBASE")


def is_tvwizard(argv: list[str]) -> bool:
    """Whether ``argv`` (``sys.orig_argv``) runs tvwizard: its console script or ``-m tvwizard``."""
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m":
            return i + 1 < len(args) and args[i + 1] == "tvwizard"
        if arg.startswith("-m"):
            return arg[2:] == "tvwizard"
        if arg.startswith("-c") or arg == "-":
            return False
        if arg in ("-X", "-W", "--check-hash-based-pycs"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return os.path.basename(arg) == "tvwizard"
    return False


def _risky(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = [name for name in RISKY if environ.get(name)]
    userbase = environ.get("PYTHONUSERBASE")
    if userbase and here.startswith(os.path.abspath(userbase) + os.sep):
        found.remove("PYTHONUSERBASE")  # tvwizard itself is installed there: -E would lose it
    return found


def reexec_isolated() -> None:
    """Start this tvwizard command again with ``-E`` if the user's variables would reach it."""
    if sys.flags.ignore_environment or os.name != "posix":
        return
    argv = list(getattr(sys, "orig_argv", ()))
    if not argv or not is_tvwizard(argv) or not _risky(os.environ):
        return
    try:
        os.execv(sys.executable, [sys.executable, "-E", *argv[1:]])
    except OSError:
        return  # carry on unprotected rather than not at all


reexec_isolated()
