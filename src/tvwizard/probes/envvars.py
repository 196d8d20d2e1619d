"""Probe: the environment variables that decide how torch and torchvision load.

Runs inside the *target* interpreter (stdlib only, Python 3.8+).  Only an allowlist of
variables is reported; the value of anything else never leaves this process, and neither
does any variable whose *name* looks secret (TOKEN, SECRET, PASSWORD, PASSWD, KEY,
CREDENTIAL, AUTH), even when a pattern allowlists it.  Package-index URLs are reported with
their credentials (``user:password@``, query values) removed *here*, before anything is
sent; every other emitted value goes through the same URL scrubbing as a second line of
defence.

Allowlist: ``CUDA_*``, ``NVIDIA_*``, ``TORCH_*``, ``TORCHVISION_*``, ``PYTORCH_*``,
``CONDA_*``, ``LD_LIBRARY_PATH``, ``LD_PRELOAD``, ``DYLD_LIBRARY_PATH``, ``PATH``,
``PYTHONPATH``, ``PYTHONHOME``, ``PYTHONNOUSERSITE``, ``PYTHONUSERBASE``, ``PYTHONSAFEPATH``,
``VIRTUAL_ENV``, ``PIP_INDEX_URL``, ``PIP_EXTRA_INDEX_URL``, ``PIP_FIND_LINKS``,
``UV_INDEX_URL``, ``UV_EXTRA_INDEX_URL``, ``UV_INDEX``, ``UV_DEFAULT_INDEX``.

Data (``run`` returns it; JSON)::

    {
      "platform": "linux",            # sys.platform of the target
      "pathsep": ":",                 # os.pathsep of the target
      "vars": {
        NAME: {
          "value": str,               # as set, URL credentials removed
          "kind": "pathlist" | "path" | "url" | "plain",
          "redacted": bool,           # credentials were removed from the value
          # "path" only: the value checked as one path
          "path": ENTRY,
          # "pathlist" only: the value split (os.pathsep; LD_PRELOAD also on spaces)
          "entries": [ENTRY, ...],
          "missing": [str, ...],      # entries that do not exist
          "empty_entries": int,       # "" entries (the loader/interpreter reads them as cwd)
          "error": {...},             # only when looking at this variable failed
        },
      },
      "withheld": int,                # allowlisted names with a secret look: not emitted
      "not_allowlisted": int,         # other variables: neither name nor value emitted
    }

    ENTRY = {"path": str, "exists": bool, "type": "dir" | "file" | "other" | "missing" | "empty",
             "absolute": bool}

A probe reports facts only: whether a missing ``LD_LIBRARY_PATH`` entry or an old CUDA in
front of the pip ``nvidia-*`` libraries matters is for the diagnosis layer (docs/knowledge.md,
"Failure facts: Shared libraries …").
"""

from __future__ import annotations

import os
import re
import sys

PREFIXES = ("CUDA_", "NVIDIA_", "TORCH_", "TORCHVISION_", "PYTORCH_", "CONDA_")
NAMES = frozenset(
    [
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "DYLD_LIBRARY_PATH",
        "PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONNOUSERSITE",
        "PYTHONUSERBASE",
        "PYTHONSAFEPATH",
        "VIRTUAL_ENV",
    ]
)
URL_NAMES = frozenset(
    [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "UV_INDEX_URL",
        "UV_EXTRA_INDEX_URL",
        "UV_INDEX",
        "UV_DEFAULT_INDEX",
    ]
)
PATHLIST_NAMES = frozenset(["LD_LIBRARY_PATH", "LD_PRELOAD", "DYLD_LIBRARY_PATH", "PATH", "PYTHONPATH"])
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL", "AUTH")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def is_secret_name(name):
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def is_allowlisted(name):
    upper = name.upper()  # Windows names are case-insensitive
    return upper in NAMES or upper in URL_NAMES or upper.startswith(PREFIXES)


def _scrub_url(token):
    """One URL-ish token without its userinfo and query values.  Returns (text, changed)."""
    m = _SCHEME.search(token)
    if m is None:
        # "user:pass@host/simple" with no scheme: drop everything up to the last "@"
        # before the first "/".
        head, slash, tail = token.partition("/")
        if "@" in head:
            return "***@" + head.rpartition("@")[2] + slash + tail, True
        return token, False
    start = m.end()
    end = len(token)
    for ch in "/?#":
        i = token.find(ch, start)
        if i != -1 and i < end:
            end = i
    netloc = token[start:end]
    changed = False
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
        changed = True
    rest = token[end:]
    frag = ""
    if "#" in rest:
        rest, _, frag = rest.partition("#")
        frag = "#" + frag
    if "?" in rest:
        path, _, query = rest.partition("?")
        parts = []
        for item in query.split("&"):
            key, eq, val = item.partition("=")
            if eq and val:
                parts.append(key + "=***")
                changed = True
            else:
                parts.append(item)
        rest = path + "?" + "&".join(parts)
    if "@" in frag or "=" in frag:
        frag = "#***"
        changed = True
    return token[:start] + netloc + rest + frag, changed


def scrub(value):
    """``value`` with credentials removed from every URL in it.  Returns (text, changed)."""
    if "@" not in value and "://" not in value:
        return value, False
    out = []
    changed = False
    for piece in re.split(r"(\s+)", value):
        if piece and not piece.isspace() and ("@" in piece or "://" in piece):
            piece, c = _scrub_url(piece)
            changed = changed or c
        out.append(piece)
    return "".join(out), changed


def check_path(path):
    entry = {"path": path, "exists": False, "type": "empty", "absolute": False}
    if not path:
        return entry
    entry["absolute"] = os.path.isabs(path)
    try:
        if os.path.isdir(path):
            entry["type"] = "dir"
        elif os.path.isfile(path):
            entry["type"] = "file"
        elif os.path.exists(path):
            entry["type"] = "other"
        else:
            entry["type"] = "missing"
    except (OSError, ValueError):  # ValueError: embedded NUL
        entry["type"] = "missing"
    entry["exists"] = entry["type"] in ("dir", "file", "other")
    return entry


def split_pathlist(name, value):
    if name.upper() == "LD_PRELOAD":
        # ld.so splits LD_PRELOAD on spaces and colons.
        return re.split(r"[:\s]", value) if value.strip() else []
    return value.split(os.pathsep) if value else []


def describe(name, raw):
    upper = name.upper()
    value, redacted = scrub(raw)
    info = {"value": value, "redacted": redacted}
    if upper in URL_NAMES:
        info["kind"] = "url"
    elif upper in PATHLIST_NAMES:
        info["kind"] = "pathlist"
        entries = []
        for part in split_pathlist(upper, raw):
            text, _ = scrub(part)
            entry = check_path(part)
            entry["path"] = text
            entries.append(entry)
        info["entries"] = entries
        info["missing"] = [e["path"] for e in entries if e["type"] == "missing"]
        info["empty_entries"] = sum(1 for e in entries if e["type"] == "empty")
        if upper == "LD_PRELOAD":
            info["empty_entries"] = 0  # empty pieces between separators mean nothing there
            info["entries"] = [e for e in entries if e["type"] != "empty"]
    elif raw and (os.path.isabs(raw) or raw.startswith("~")):
        info["kind"] = "path"
        entry = check_path(os.path.expanduser(raw) if raw.startswith("~") else raw)
        entry["path"] = value
        info["path"] = entry
    else:
        info["kind"] = "plain"
    return info


def collect(environ):
    out = {"platform": sys.platform, "pathsep": os.pathsep, "vars": {}, "withheld": 0, "not_allowlisted": 0}
    for name in sorted(environ):
        if not is_allowlisted(name):
            out["not_allowlisted"] += 1
            continue
        if is_secret_name(name):
            out["withheld"] += 1
            continue
        try:
            out["vars"][name] = describe(name, environ[name])
        except Exception as exc:  # one odd variable must not lose the others
            out["vars"][name] = {
                "value": None,
                "kind": "plain",
                "redacted": True,
                "error": {"type": type(exc).__name__, "message": scrub(str(exc))[0]},
            }
    return out


def run(ctx):
    data = {"platform": sys.platform, "pathsep": os.pathsep, "vars": {}, "withheld": 0, "not_allowlisted": 0}
    with ctx.step("environment") as d:
        data = collect(dict(os.environ))
        d["allowlisted"] = len(data["vars"])
        d["withheld"] = data["withheld"]
        d["not_allowlisted"] = data["not_allowlisted"]
    with ctx.step("paths") as d:
        missing = {}
        for name, info in data["vars"].items():
            if info.get("missing"):
                missing[name] = info["missing"]
            elif info.get("kind") == "path" and info.get("path", {}).get("type") == "missing":
                missing[name] = [info["path"]["path"]]
        d["missing"] = missing
        for name, paths in sorted(missing.items()):
            ctx.log("%s: %d entr%s not found" % (name, len(paths), "y" if len(paths) == 1 else "ies"))
    return data
