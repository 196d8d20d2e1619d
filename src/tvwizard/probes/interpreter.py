"""Probe ``interpreter``: what Python this is, and where its ``sys.path`` comes from.

Static: imports nothing outside the standard library, never runs a subprocess (so no
``platform.uname()``/``platform.architecture()``, which may call ``uname -p``/``file``).
Every part is a step of its own; a part that fails is missing from the data and named
in ``errors`` instead.

Data (``run`` returns it; values are JSON types)::

    {
      "python": {
        "version": "3.11.7", "version_info": [3, 11, 7, "final", 0], "hexversion": int,
        "sys_version": str, "implementation": "cpython", "cache_tag": "cpython-311",
        "executable": str, "base_executable": str|None,
        "prefix": str, "base_prefix": str, "exec_prefix": str, "base_exec_prefix": str,
        "cwd": str,
        "debug": bool,              # a --with-pydebug build (sys.gettotalrefcount)
        "free_threaded": bool,      # Py_GIL_DISABLED build (3.13t …)
        "gil_enabled": bool|None,   # sys._is_gil_enabled() where it exists
        "abiflags": str, "ext_suffix": str, "extension_suffixes": [str],
        "sysconfig_platform": "linux-x86_64",
      },
      "environment": {
        "env_kind": "venv"|"virtualenv"|"uv"|"conda"|"pyenv"|"uv-python"|"system",
        "env_kinds": [str],         # every kind that applies, the env's own first
        "base_kind": "pyenv"|"conda"|"uv-python"|"system",  # where base_prefix lives
        "in_venv": bool,
        "pyvenv_cfg": {key: value}|None,  # <prefix>/pyvenv.cfg, keys lower-case
        "conda_meta": bool,         # <prefix>/conda-meta is a directory
        "base_conda_meta": bool,    # <base_prefix>/conda-meta is a directory
        "externally_managed": bool, # PEP 668 marker next to the stdlib (outside a venv)
      },
      "platform": {
        "sys_platform": "linux", "os_name": "posix", "system": "Linux", "release": str,
        "version": str, "machine": "x86_64", "pointer_bits": 64,
        "libc": {"name": "glibc"|"musl"|"", "version": "2.35"|"", "source": "confstr"|…},
        "mac_ver": str|None, "win32_ver": [str]|None,
      },
      "sys_path": [
        {"index": 0, "path": "" , "abs": "/cwd", "origin": "cwd", "exists": true,
         "kind": "dir"|"file"|"missing", "pth": "/…/x.pth",  # only for origin "pth"
         "python": "3.11",  # only for another Python's lib/python3.11/site-packages
        }, …
      ],   # origin: cwd | pythonpath | stdlib | site | user_site | pth | other
      "pth_files": [{"file": str, "paths": [str], "imports": [str]}],  # in site's order
      "site": {"enable_user_site": bool|None, "user_site": str|None, "user_base": str|None,
               "user_site_exists": bool, "user_site_on_path": bool,
               "site_packages": [str], "no_site": bool},
      "env_vars": {name: value},   # PYTHON* plus VIRTUAL_ENV, CONDA_*, PYENV_*, UV_* …
      "marker_env": {…},           # same keys as packaging.markers.default_environment()
      "flags": {name: int},        # sys.flags (isolated, no_user_site, safe_path, …)
      "errors": {part: "Type: message"},  # only parts that failed
    }

Facts sent early (the runner merges them into the data): ``executable``,
``version``, ``implementation``, ``prefix``, ``base_prefix``, ``env_kind`` (a flat summary).

Options: none.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

_PYTHONPATH_KEYS = ("PYTHONPATH",)
_EXTRA_ENV = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_SHLVL",
    "CONDA_EXE",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "UV_PYTHON",
    "UV_PROJECT_ENVIRONMENT",
    "PIP_USER",
    "PIP_PREFIX",
    "PIP_TARGET",
)


def norm(path):
    """A path as compared here: absolute, normalized, case-folded where the OS folds."""
    return os.path.normcase(os.path.abspath(path or os.curdir))


_SITE_PYTHON = re.compile(r"/lib/python(\d+\.\d+)t?/(?:site|dist)-packages(?:/|$)")


def site_python(path):
    """``"3.11"`` when ``path`` is in a ``lib/python3.11/site-packages`` of a Python other than this one."""
    m = _SITE_PYTHON.search(path.replace(os.sep, "/"))
    if m is None:
        return None
    return m.group(1) if m.group(1) != "%d.%d" % sys.version_info[:2] else None


def _under(path, root):
    """``path`` (normalized) is ``root`` or inside it."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --- sys.path classification (shared with the other static probes) --------------------


def _site_dirs():
    """site-packages dirs of this interpreter, in site's order (without the user site)."""
    import site
    import sysconfig

    dirs = []
    with contextlib.suppress(Exception):  # old virtualenv's site.py has no getsitepackages
        dirs.extend(site.getsitepackages())
    for key in ("purelib", "platlib"):
        with contextlib.suppress(Exception):
            dirs.append(sysconfig.get_paths()[key])
    out = []
    for d in dirs:
        if d and d not in out:
            out.append(d)
    return out


def _user_site():
    import site

    try:
        return site.getusersitepackages()
    except Exception:
        return getattr(site, "USER_SITE", None)


def read_pth(path):
    """``(paths, imports)`` a .pth file adds/runs, as site.addpackage reads it."""
    paths, imports = [], []
    sitedir = os.path.dirname(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith(("import ", "import\t")):
                imports.append(line.strip()[:200])
                continue
            paths.append(os.path.join(sitedir, line.rstrip()))
    return paths, imports


def pth_files(site_dirs):
    """Every .pth file in ``site_dirs``, in the order site processes them."""
    out = []
    for d in site_dirs:
        try:
            names = sorted(n for n in os.listdir(d) if n.endswith(".pth") and not n.startswith("."))
        except OSError:
            continue
        for n in names:
            path = os.path.join(d, n)
            try:
                paths, imports = read_pth(path)
            except Exception as exc:  # unreadable .pth: keep going
                out.append({"file": path, "paths": [], "imports": [], "error": str(exc)})
                continue
            out.append({"file": path, "paths": paths, "imports": imports})
    return out


def _stdlib_dirs():
    import sysconfig

    dirs = [os.path.dirname(os.__file__)]
    for key in ("stdlib", "platstdlib"):
        with contextlib.suppress(Exception):
            dirs.append(sysconfig.get_paths()[key])
    return [norm(d) for d in dirs if d]


def classify_sys_path(path=None):
    """One dict per ``sys.path`` entry: where it came from and whether it exists.

    Returns ``(entries, pth_list)``.
    """
    path = list(sys.path if path is None else path)
    cwd = norm(os.getcwd())
    pythonpath = set()
    if not (sys.flags.ignore_environment or getattr(sys.flags, "isolated", 0)):
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep):
            if p:
                pythonpath.add(norm(p))
    stdlib = _stdlib_dirs()
    site_dirs = _site_dirs()
    site_set = {norm(d) for d in site_dirs}
    user_site = _user_site()
    user_norm = norm(user_site) if user_site else None
    scan = list(site_dirs)
    if user_site and user_norm in {norm(p) for p in path if p}:
        scan.append(user_site)
    pths = pth_files(scan)
    by_pth = {}
    for rec in pths:
        for p in rec["paths"]:
            by_pth.setdefault(norm(p), rec["file"])
    zip_re = re.compile(r"python\d+\.zip$", re.I)
    entries = []
    for i, entry in enumerate(path):
        rec = {"index": i, "path": entry}
        try:
            n = norm(entry)
            rec["abs"] = n
            parts = n.replace("\\", "/").split("/")
            if entry == "" or (i == 0 and n == cwd):
                origin = "cwd"
            elif n in pythonpath:
                origin = "pythonpath"
            elif zip_re.search(n) or (
                any(_under(n, s) for s in stdlib) and "site-packages" not in parts and "dist-packages" not in parts
            ):
                origin = "stdlib"
            elif n in site_set:
                origin = "site"
            elif user_norm and n == user_norm:
                origin = "user_site"
            elif n in by_pth:
                origin = "pth"
                rec["pth"] = by_pth[n]
            else:
                origin = "other"
            rec["origin"] = origin
            other = site_python(n)
            if other:
                rec["python"] = other  # another interpreter's site-packages
            rec["exists"] = os.path.exists(n)
            rec["kind"] = "dir" if os.path.isdir(n) else "file" if os.path.isfile(n) else "missing"
        except Exception as exc:
            rec["origin"] = "other"
            rec["error"] = str(exc)
        entries.append(rec)
    return entries, pths


# --- parts ------------------------------------------------------------------------------


def _python():
    import sysconfig

    vi = sys.version_info
    out = {
        "version": "%d.%d.%d" % vi[:3],
        "version_info": list(vi),
        "hexversion": sys.hexversion,
        "sys_version": sys.version,
        "implementation": sys.implementation.name,
        "cache_tag": sys.implementation.cache_tag,
        "executable": sys.executable,
        "base_executable": getattr(sys, "_base_executable", None),
        "prefix": sys.prefix,
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "exec_prefix": sys.exec_prefix,
        "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
        "real_prefix": getattr(sys, "real_prefix", None),
        "cwd": os.getcwd(),
        "abiflags": getattr(sys, "abiflags", ""),
    }
    out["debug"] = hasattr(sys, "gettotalrefcount") or bool(sysconfig.get_config_var("Py_DEBUG"))
    out["free_threaded"] = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    is_gil = getattr(sys, "_is_gil_enabled", None)
    out["gil_enabled"] = bool(is_gil()) if is_gil else None
    out["ext_suffix"] = sysconfig.get_config_var("EXT_SUFFIX")
    try:
        import importlib.machinery

        out["extension_suffixes"] = list(importlib.machinery.EXTENSION_SUFFIXES)
    except Exception:
        out["extension_suffixes"] = []
    out["sysconfig_platform"] = sysconfig.get_platform()
    return out


def _read_cfg(path):
    cfg = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if "=" in line:
                k, v = line.split("=", 1)
                cfg[k.strip().lower()] = v.strip()
    return cfg


def _environment():
    import sysconfig

    prefix = sys.prefix
    base = getattr(sys, "base_prefix", prefix)
    in_venv = prefix != base or hasattr(sys, "real_prefix")
    cfg_path = os.path.join(prefix, "pyvenv.cfg")
    cfg = _read_cfg(cfg_path) if os.path.isfile(cfg_path) else None
    conda = os.path.isdir(os.path.join(prefix, "conda-meta"))
    base_conda = os.path.isdir(os.path.join(base, "conda-meta"))
    kinds = []
    if conda:
        kinds.append("conda")
    if cfg is not None and "uv" in cfg:
        kinds.append("uv")
    if (cfg is not None and "virtualenv" in cfg) or hasattr(sys, "real_prefix"):
        kinds.append("virtualenv")
    if in_venv and "uv" not in kinds and "virtualenv" not in kinds:
        kinds.append("venv")

    nb = norm(base)
    pyenv_roots = [os.environ.get("PYENV_ROOT"), os.path.join(os.path.expanduser("~"), ".pyenv")]
    uv_roots = [
        os.environ.get("UV_PYTHON_INSTALL_DIR"),
        os.path.join(
            os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share"),
            "uv",
            "python",
        ),
    ]
    if base_conda:
        base_kind = "conda"
    elif any(r and _under(nb, norm(os.path.join(r, "versions"))) for r in pyenv_roots) or "pyenv" in nb.split(os.sep):
        base_kind = "pyenv"
    elif any(r and _under(nb, norm(r)) for r in uv_roots):
        base_kind = "uv-python"
    else:
        base_kind = "system"
    if base_kind not in kinds:
        kinds.append(base_kind)
    try:
        em = os.path.isfile(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")) and not in_venv
    except Exception:
        em = False
    return {
        "env_kind": kinds[0],
        "env_kinds": kinds,
        "base_kind": base_kind,
        "in_venv": in_venv,
        "pyvenv_cfg": cfg,
        "conda_meta": conda,
        "base_conda_meta": base_conda,
        "externally_managed": em,
    }


def _libc():
    try:
        ver = os.confstr("CS_GNU_LIBC_VERSION")
        if ver:
            name, _, version = ver.partition(" ")
            return {"name": name, "version": version, "source": "confstr"}
    except (AttributeError, ValueError, OSError):
        pass
    if sys.platform.startswith("linux"):
        import glob

        musl = sorted(glob.glob("/lib/ld-musl-*.so.1"))
        if musl:
            return {"name": "musl", "version": "", "source": musl[0]}
        try:
            import platform

            name, version = platform.libc_ver()
            return {"name": name, "version": version, "source": "libc_ver"}
        except Exception:
            pass
    return {"name": "", "version": "", "source": ""}


def _uname():
    """``(system, release, version, machine)`` without a subprocess."""
    if hasattr(os, "uname"):
        u = os.uname()
        return u.sysname, u.release, u.version, u.machine
    import platform

    return platform.system(), platform.release(), platform.version(), platform.machine()


def _platform():
    import struct

    system, release, version, machine = _uname()
    out = {
        "sys_platform": sys.platform,
        "os_name": os.name,
        "system": system,
        "release": release,
        "version": version,
        "machine": machine,
        "pointer_bits": struct.calcsize("P") * 8,
        "libc": _libc(),
        "mac_ver": None,
        "win32_ver": None,
    }
    if sys.platform == "darwin":
        import platform

        out["mac_ver"] = platform.mac_ver()[0]
    elif sys.platform == "win32":
        import platform

        out["win32_ver"] = list(platform.win32_ver())
    return out


def marker_env():
    """``packaging.markers.default_environment()``, computed with the stdlib."""
    import platform

    info = sys.implementation.version
    iver = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        iver += info.releaselevel[0] + str(info.serial)
    system, release, version, machine = _uname()
    if os.name != "posix" or sys.platform == "cygwin":  # keep platform's own answers there
        system, release, version, machine = (
            platform.system(),
            platform.release(),
            platform.version(),
            platform.machine(),
        )
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": machine,
        "platform_release": release,
        "platform_system": system,
        "platform_version": version,
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _site():
    import site

    user_site = _user_site()
    on_path = bool(user_site) and norm(user_site) in {norm(p) for p in sys.path if p}
    return {
        "enable_user_site": getattr(site, "ENABLE_USER_SITE", None),
        "user_site": user_site,
        "user_base": getattr(site, "USER_BASE", None),
        "user_site_exists": bool(user_site) and os.path.isdir(user_site),
        "user_site_on_path": on_path,
        "site_packages": _site_dirs(),
        "no_site": bool(sys.flags.no_site),
    }


def _env_vars():
    out = {}
    for k, v in os.environ.items():
        if k.startswith("PYTHON") or k in _EXTRA_ENV:
            out[k] = v
    return dict(sorted(out.items()))


def _flags():
    out = {}
    for name in dir(sys.flags):
        if name.startswith("_") or name in (
            "count",
            "index",
            "n_fields",
            "n_sequence_fields",
            "n_unnamed_fields",
        ):
            continue
        value = getattr(sys.flags, name)
        if isinstance(value, (bool, int)):
            out[name] = int(value)
    return out


def collect(ctx, data, key, fn):
    """Run ``fn`` as step ``key``; store its value in ``data[key]`` or the error in ``errors``."""
    box = []
    with ctx.step(key) as d:
        box.append(fn())
    if box:
        data[key] = box[0]
    else:
        err = d.get("error") or {}
        data.setdefault("errors", {})[key] = "%s: %s" % (err.get("type", "Error"), err.get("message", ""))
    return box[0] if box else None


def run(ctx):
    data = {}
    py = collect(ctx, data, "python", _python)
    if py:
        for key in ("executable", "version", "implementation", "prefix", "base_prefix"):
            ctx.fact(key, py[key])
    envd = collect(ctx, data, "environment", _environment)
    if envd:
        ctx.fact("env_kind", envd["env_kind"])
    collect(ctx, data, "platform", _platform)

    def sys_path():
        entries, pths = classify_sys_path()
        data["pth_files"] = pths
        return entries

    collect(ctx, data, "sys_path", sys_path)
    collect(ctx, data, "site", _site)
    collect(ctx, data, "env_vars", _env_vars)
    collect(ctx, data, "marker_env", marker_env)
    collect(ctx, data, "flags", _flags)
    return data
