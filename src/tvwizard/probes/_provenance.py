"""Provenance of the files a failure names: why *that* file is the one being loaded.

Runs inside the *target* interpreter (stdlib only, Python 3.8+), and only for the files a
failing step names (an import error's message and traceback, an extension's loader error):
a healthy environment never pays for it.  For each file it records

* which distribution owns it (the RECORD that lists it; more than one when a second package
  wrote the same path), and whether the file still matches that RECORD: its size always, its
  sha256 when the size agrees and the file is at most ``HASH_LIMIT`` bytes;
* which ``sys.path`` entry it sits under and why that entry is there (as the interpreter probe
  names it: cwd, pythonpath, site, user_site, pth with the ``.pth`` file, …), and the Python
  version whose site-packages that entry is when it is not this interpreter's;
* for a compiled module, its ABI tag (``cpython-311-x86_64-linux-gnu``) and whether this
  interpreter loads that tag; for a Python file, the tags of the compiled modules beside it;
* pip's ``~name`` stash folders left in the same site-packages by an interrupted install.

:func:`describe` returns a list of plain dicts::

    {"path": str, "exists": bool, "size": int | None,
     "entry": {"index", "path", "origin", "pth"?, "python"?} | None,
     "owners": [{"name", "version", "meta", "size": int | None, "hash": str | None}],
     "record": "match" | "size-differs" | "hash-differs" | "size-matches" | "missing" | None,
     "matches": str | None,          # with several owners: the one whose RECORD hash the file has
     "abi_tag": str | None, "abi_ok": bool | None,        # compiled modules
     "dir_abi_tags": [str], "dir_abi_ok": bool | None,    # the compiled modules beside a .py
     "leftovers": [str]}             # ~name folders in the owning site-packages
"""

import base64
import hashlib
import importlib.machinery
import os
import re

from . import interpreter

HASH_LIMIT = 64 * 1024 * 1024  # bytes: a named file larger than this gets its size checked, not its hash
_PATH = re.compile(r"(/[^\s:'\"()\[\]{},;<>]+)")
_ABI = re.compile(r"\.((?:cpython|pypy)[\w-]*?)\.(?:so|pyd)$")
_META = re.compile(r"^([A-Za-z0-9_.]+)-([^-/]+)\.dist-info$")


def paths_in(*texts):
    """Absolute paths named in error texts, in order, without duplicates.

    A text that is a traceback (``File "…", line N``) is read innermost frame first: the frame
    that raised names the file that matters."""
    out = []
    for text in texts:
        found = _PATH.findall(text or "")
        if 'File "' in (text or ""):
            found.reverse()
        for raw in found:
            path = os.path.normpath(raw.rstrip("."))
            if path not in out and (os.path.splitext(path)[1] or ".so" in os.path.basename(path)):
                out.append(path)
    return out


class _Records:
    """The RECORD files of each site-packages folder, read once; a path is looked up with a string
    search per RECORD (``\\n<path>,``), not by parsing every line of torch's 15,000."""

    def __init__(self):
        self.by_dir = {}

    def _texts(self, location):
        found = self.by_dir.get(location)
        if found is not None:
            return found
        found = []
        try:
            names = sorted(os.listdir(location))
        except OSError:
            names = []
        for name in names:
            m = _META.match(name)
            if not m:
                continue
            try:
                with open(os.path.join(location, name, "RECORD"), encoding="utf-8", errors="replace") as fh:
                    text = "\n" + fh.read()
            except OSError:
                continue
            dist = _dist_name(os.path.join(location, name)) or m.group(1)
            found.append((name, dist, m.group(2), text))
        self.by_dir[location] = found
        return found

    def owners(self, location, rel):
        """``[{"name", "version", "meta", "size", "hash"}]`` of the RECORDs that list ``rel``."""
        out = []
        needle = "\n" + rel.replace(os.sep, "/") + ","
        for meta, dist, version, text in self._texts(location):
            at = text.find(needle)
            if at < 0:
                continue
            end = text.find("\n", at + 1)
            parts = text[at + 1 : end if end >= 0 else len(text)].rstrip("\r").rsplit(",", 2)
            size = int(parts[2]) if len(parts) == 3 and parts[2].isdigit() else None
            digest = parts[1][7:] if len(parts) == 3 and parts[1].startswith("sha256=") else None
            out.append({"name": dist, "version": version, "meta": meta, "size": size, "hash": digest})
        return out


def _dist_name(meta):
    try:
        with open(os.path.join(meta, "METADATA"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Name:"):
                    return line[5:].strip()
                if not line.strip():
                    break
    except OSError:
        pass
    return None


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii")


def _entry_of(path, entries):
    """The sys.path entry ``path`` lies under (the longest match), as a small dict."""
    best = None
    for e in entries:
        root = e.get("abs") or ""
        inside = root and (path == root or path.startswith(root.rstrip(os.sep) + os.sep))
        if inside and (best is None or len(root) > len(best.get("abs") or "")):
            best = e
    if best is None:
        return None
    out = {"index": best.get("index"), "path": best.get("abs"), "origin": best.get("origin")}
    if best.get("pth"):
        out["pth"] = best["pth"]
    if best.get("python"):
        out["python"] = best["python"]
    return out


def _location_of(path, entry):
    """The site-packages-like folder whose RECORDs may list ``path``."""
    if entry is not None and entry.get("path"):
        return entry["path"]
    d = os.path.dirname(path)
    while d and d != os.path.dirname(d):
        if os.path.basename(d) in ("site-packages", "dist-packages"):
            return d
        d = os.path.dirname(d)
    return None


def _is_python(path):
    name = os.path.basename(path)
    return name.endswith((".py", ".pyc")) or _abi(name) is not None


def _abi(name):
    m = _ABI.search(name)
    return m.group(1) if m else None


def _abi_fits(name):
    """Whether this interpreter imports a compiled module of that file name: a tagged name only
    when its tag is this interpreter's (the bare ``.so`` suffix does not make a cp311 file fit 3.12)."""
    m = _ABI.search(name)
    if m is None:
        return any(name.endswith(s) for s in importlib.machinery.EXTENSION_SUFFIXES)
    return name[m.start() :] in importlib.machinery.EXTENSION_SUFFIXES


def describe(paths, limit=8):
    """Provenance of up to ``limit`` of ``paths`` (see the module docstring)."""
    try:
        entries, _pths = interpreter.classify_sys_path()
    except Exception:
        entries = []
    records = _Records()
    out = []
    for path in paths:
        if len(out) >= limit:
            break
        entry = _entry_of(path, entries)
        if entry is not None and entry.get("origin") == "stdlib":
            continue  # ctypes, importlib: the frames every import error passes through
        if entry is not None and entry.get("origin") == "cwd" and not _is_python(path):
            entry = None  # a shared library below the working folder: sys.path did not load it
        rec = {"path": path, "exists": os.path.isfile(path), "size": None, "owners": [], "record": None}
        try:
            _describe_one(path, rec, entry, records)
        except Exception as exc:  # provenance is best effort: one odd file must not lose the rest
            rec["error"] = "%s: %s" % (type(exc).__name__, exc)
        out.append(rec)
    return out


def _describe_one(path, rec, entry, records):
    real = os.path.realpath(path)
    if rec["exists"]:
        rec["size"] = os.path.getsize(real)
    rec["entry"] = entry
    location = _location_of(path, entry)
    name = os.path.basename(path)
    tag = _abi(name)
    if tag:
        rec["abi_tag"] = tag
        rec["abi_ok"] = _abi_fits(name)
    elif name.endswith(".py"):
        try:
            beside = os.listdir(os.path.dirname(path))
        except OSError:
            beside = []
        tags = sorted({t for t in (_abi(n) for n in beside) if t})
        if tags:
            rec["dir_abi_tags"] = tags
            rec["dir_abi_ok"] = any(_abi_fits(n) for n in beside if _abi(n))
    if not location:
        return
    rel = os.path.normpath(os.path.relpath(path, location))
    owners = records.owners(location, rel)
    rec["owners"] = owners
    try:
        rec["leftovers"] = sorted(n for n in os.listdir(location) if n.startswith("~"))[:10]
    except OSError:
        rec["leftovers"] = []
    if not owners:
        return
    if not rec["exists"]:
        rec["record"] = "missing"
        return
    first = owners[0]
    if first["size"] is not None and first["size"] != rec["size"]:
        rec["record"] = "size-differs"
    if rec["size"] is not None and rec["size"] <= HASH_LIMIT and any(o["hash"] for o in owners):
        digest = _sha256(real)
        hit = next((o for o in owners if o["hash"] == digest), None)
        rec["matches"] = hit["name"] if hit else None
        if rec["record"] is None:
            rec["record"] = "match" if first["hash"] in (None, digest) else "hash-differs"
    elif rec["record"] is None:
        rec["record"] = "size-matches"
