"""Probes: stdlib-only code that runs inside the *target* interpreter.

Everything in this package is executed by the Python being diagnosed, not by tvwizard's
own interpreter, so it must:

- use only the standard library and parse and run on Python 3.8+ (CI checks with vermin);
- never decide anything: probes report facts, the diagnosis layer judges them;
- guard every step: one failing step must not lose the others' data.

tvwizard loads this package in the target under the name ``_tvwizard_probes`` without
touching ``sys.path`` (see :data:`BOOTSTRAP`), so the probed import sees exactly the
``sys.path`` a user's ``python -c "import torchvision"`` would.

Each probe module defines ``run(ctx) -> dict`` (see :mod:`._api`).
"""

# Runs as ``python -c BOOTSTRAP <pkg_dir> <probe> <fd> <options-json> <fault-file>``.  It
# must *parse* on Python 2 too, so an old interpreter fails with one clear line (exit 3).
BOOTSTRAP = r"""
import sys
if sys.version_info < (3, 8):
    sys.stderr.write("tvwizard: probes need Python 3.8 or newer, this is %s\n" % sys.version.split()[0])
    sys.exit(3)
import importlib.util, json, os
_d, _name, _fd, _opts, _fault = sys.argv[1:6]
del sys.argv[1:]
_w = sys.dont_write_bytecode
sys.dont_write_bytecode = True
_s = importlib.util.spec_from_file_location(
    "_tvwizard_probes", os.path.join(_d, "__init__.py"), submodule_search_locations=[_d])
_p = importlib.util.module_from_spec(_s)
sys.modules["_tvwizard_probes"] = _p
_s.loader.exec_module(_p)
import importlib
_api = importlib.import_module("_tvwizard_probes._api")
_m = importlib.import_module("_tvwizard_probes." + _name)
sys.dont_write_bytecode = _w
del _d, _s, _p, _w
_api.main(_m, int(_fd), json.loads(_opts), _fault or None)
"""
