"""Probe ``resolution``: where ``import torch``/``torchvision``/``numpy``/``PIL`` would come from.

Nothing is imported: ``importlib.util.find_spec`` on *top-level* names only (find_spec of
a submodule imports its parent), and ``importlib.machinery.PathFinder.find_spec(name,
[entry])`` per ``sys.path`` entry to list every candidate the path search would meet.
Import order rule the diagnosis needs: the first candidate that is a module or regular
package wins; namespace portions (a bare folder, no ``__init__.py``) only win when no
regular candidate exists anywhere on ``sys.path``.

Data::

    {
      "cwd": str,
      "meta_path": ["module.Class", …],          # sys.meta_path finders, in order
      "sys_path": [{"index", "path", "origin"}],  # origin as in the interpreter probe
      "packages": {                               # keyed by import name
        "torchvision": {
          "origin": str|null,                     # = spec.origin: the file import would load
          "dist": "torchvision",                  # the distribution that should provide it
          "already_imported": bool,               # in sys.modules before probing (sitecustomize, .pth)
          "module_file": str|null,
          "spec": {"origin": str|null, "locations": [str], "loader": "module.Class"|null,
                   "kind": "package"|"module"|"extension"|"sourceless"|"namespace"|"zip"|"other",
                   "entries": [int],              # sys.path indexes it came from ([] if none)
                   "entry_origin": "cwd"|"pythonpath"|"site"|…|null} | null,
          "spec_error": "Type: message",          # only when find_spec raised
          "candidates": [                         # sys.path order
            {"entry": int, "entry_origin": str, "kind": str, "origin": str|null,
             "path": str,                         # the package dir or module file
             "extensions": [str],                 # native modules directly in the package dir
             "has_version_py": bool,
             "checkout": [str],                   # setup.py/pyproject.toml/.git/… beside it
             "dists": [{"meta": str, "version": str|null}]}   # its dist's metadata in that entry
          ],
          "installed": [{"entry": int, "meta": str, "version": str|null}],  # sys.path order
          "stale_pyc": [str],                     # __pycache__/<name>.*.pyc with no <name>.py
        }, …
      },
      "dirs": {path: {"torch.py": bool, …}}       # cwd and options["extra_dirs"]: what is there
      "errors": {part: "Type: message"},
    }

Facts sent early (the runner merges them into the data): ``origin:<name>`` (the spec's
origin) for each name.

Options: ``names`` (import names), ``dists`` ({import name: dist name}), ``extra_dirs``
(dirs a script would have as ``sys.path[0]``: checked for shadowing files too).
"""

from __future__ import annotations

import os
import re
import sys

NAMES = ("torch", "torchvision", "numpy", "PIL")
DISTS = {"torch": "torch", "torchvision": "torchvision", "numpy": "numpy", "PIL": "pillow"}
CHECKOUT_MARKERS = ("setup.py", "pyproject.toml", "setup.cfg", "CMakeLists.txt", ".git")


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _tname(obj):
    if obj is None:
        return None
    t = obj if isinstance(obj, type) else type(obj)
    return "%s.%s" % (t.__module__, t.__qualname__)


def _kind(spec):
    loader = spec.loader
    if loader is None:
        return "namespace" if spec.submodule_search_locations else "other"
    lname = type(loader).__name__
    if spec.submodule_search_locations is not None and "Namespace" in lname:
        return "namespace"
    if "zipimporter" in lname:
        return "zip"
    if "Extension" in lname:
        return "extension"
    if "Sourceless" in lname:
        return "sourceless"
    if spec.submodule_search_locations is not None:
        return "package"
    return "module"


def _ext_suffixes():
    import importlib.machinery

    return (*importlib.machinery.EXTENSION_SUFFIXES, ".so", ".pyd")


class _Listing:
    """``os.listdir`` once per directory."""

    def __init__(self):
        self._cache = {}

    def __call__(self, d):
        if d not in self._cache:
            try:
                self._cache[d] = sorted(os.listdir(d))
            except OSError:
                self._cache[d] = []
        return self._cache[d]


def _dists_in(listing, entry_dir, key):
    out = []
    for n in listing(entry_dir):
        if n.endswith((".dist-info", ".egg-info")):
            stem = n.rsplit(".", 1)[0]
            name, _, version = stem.partition("-")
            if _canonical(name) == key:
                out.append({"meta": n, "version": version.split("-")[0] or None})
    return out


def _candidate(name, entry_index, entry_dir, origin, spec, listing, key):
    kind = _kind(spec)
    rec = {"entry": entry_index, "entry_origin": origin, "kind": kind, "origin": spec.origin}
    path = os.path.join(entry_dir, name) if kind in ("package", "namespace") else spec.origin
    rec["path"] = path
    if kind in ("package", "namespace") and os.path.isdir(path):
        sfx = _ext_suffixes()
        names = listing(path)
        rec["extensions"] = [n for n in names if n.endswith(sfx)]
        rec["has_version_py"] = "version.py" in names
        rec["has_init"] = any(n.startswith("__init__.") for n in names)
    rec["checkout"] = [m for m in CHECKOUT_MARKERS if m in listing(entry_dir)]
    rec["dists"] = _dists_in(listing, entry_dir, key)
    return rec


def _stale_pyc(name, entry_dir, listing):
    if "__pycache__" not in listing(entry_dir):
        return []
    out = []
    pyc = os.path.join(entry_dir, "__pycache__")
    for n in listing(pyc):
        if n.startswith(name + ".") and n.endswith(".pyc") and name + ".py" not in listing(entry_dir):
            out.append(os.path.join(pyc, n))
    return out


def _entries_of(spec, norm_path):
    """sys.path indexes a spec came from."""
    dirs = []
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        d = os.path.dirname(spec.origin)
        if spec.submodule_search_locations is not None:
            d = os.path.dirname(d)
        dirs.append(d)
    elif spec.submodule_search_locations:
        dirs.extend(os.path.dirname(p) for p in spec.submodule_search_locations)
    out = []
    for d in dirs:
        n = os.path.normcase(os.path.abspath(d))
        for i, p in enumerate(norm_path):
            if p == n and i not in out:
                out.append(i)
                break
    return out


def resolve(name, key, sys_path, origins, listing):
    import importlib.util
    from importlib.machinery import PathFinder

    if "." in name:
        raise ValueError("top-level names only: find_spec of a submodule imports its parent")
    norm_path = [os.path.normcase(os.path.abspath(p or os.curdir)) for p in sys_path]
    out = {"origin": None, "dist": key}
    mod = sys.modules.get(name)
    out["already_imported"] = mod is not None
    out["module_file"] = getattr(mod, "__file__", None) if mod is not None else None
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:  # a broken meta path finder, a bad .pth hook …
        spec = None
        out["spec_error"] = "%s: %s" % (type(exc).__name__, exc)
    if spec is None:
        out["spec"] = None
        out["origin"] = None
    else:
        entries = _entries_of(spec, norm_path)
        out["origin"] = spec.origin
        out["spec"] = {
            "origin": spec.origin,
            "locations": list(spec.submodule_search_locations or []),
            "loader": _tname(spec.loader),
            "kind": _kind(spec),
            "entries": entries,
            "entry_origin": origins.get(entries[0]) if entries else None,
        }
    cands = []
    stale = []
    installed = []
    for i, entry in enumerate(sys_path):
        entry_dir = entry or os.curdir
        try:
            s = PathFinder.find_spec(name, [entry])
            if s is not None:
                cands.append(_candidate(name, i, entry_dir, origins.get(i), s, listing, key))
            if os.path.isdir(entry_dir):
                stale.extend(os.path.abspath(p) for p in _stale_pyc(name, entry_dir, listing))
                for d in _dists_in(listing, entry_dir, key):
                    d["entry"] = i
                    installed.append(d)
        except Exception as exc:
            cands.append({"entry": i, "error": "%s: %s" % (type(exc).__name__, exc)})
    out["candidates"] = cands
    out["installed"] = installed
    out["stale_pyc"] = stale
    return out


def dir_facts(d, names, listing):
    have = listing(d)
    facts = {}
    for name in names:
        facts[name + ".py"] = name + ".py" in have
        facts[name + "/"] = name in have and os.path.isdir(os.path.join(d, name))
        pyc = os.path.join(d, "__pycache__")
        facts["__pycache__/" + name + ".*.pyc"] = bool(
            "__pycache__" in have and any(n.startswith(name + ".") and n.endswith(".pyc") for n in listing(pyc))
        )
    facts["checkout"] = [m for m in CHECKOUT_MARKERS if m in have]
    return facts


def run(ctx):
    from . import interpreter

    data = {}
    opts = ctx.options or {}
    names = list(opts.get("names") or NAMES)
    dists = dict(DISTS)
    dists.update(opts.get("dists") or {})
    sys_path = list(sys.path)
    listing = _Listing()
    data["cwd"] = os.getcwd()

    def meta_path():
        return [_tname(f) for f in sys.meta_path]

    interpreter.collect(ctx, data, "meta_path", meta_path)

    def classify():
        entries, _ = interpreter.classify_sys_path(sys_path)
        return [{"index": e["index"], "path": e["path"], "origin": e.get("origin")} for e in entries]

    entries = interpreter.collect(ctx, data, "sys_path", classify) or []
    origins = {e["index"]: e["origin"] for e in entries}

    modules = {}
    for name in names:
        key = _canonical(dists.get(name, name))
        tmp = {}
        box = interpreter.collect(
            ctx, tmp, "find " + name, lambda n=name, k=key: resolve(n, k, sys_path, origins, listing)
        )
        if box is None:
            data.setdefault("errors", {}).update(tmp.get("errors", {}))
            continue
        modules[name] = box
        spec = box.get("spec")
        ctx.fact("origin:" + name, spec.get("origin") if spec else None)
    data["packages"] = modules

    def dirs():
        out = {}
        for d in [os.getcwd(), *(opts.get("extra_dirs") or [])]:
            out[d] = dir_facts(d, names, listing)
        return out

    interpreter.collect(ctx, data, "dirs", dirs)
    return data
