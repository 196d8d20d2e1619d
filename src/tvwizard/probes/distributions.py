"""Probe ``distributions``: every installed distribution on ``sys.path``, read as files.

Imports none of the packages.  Discovery follows ``importlib.metadata`` (``*.dist-info``
and ``*.egg-info`` children of each ``sys.path`` directory, ``EGG-INFO`` of ``.egg`` dirs,
in ``sys.path`` order), but reads the files itself: ``Distribution.name`` and friends
differ between 3.8 and 3.10+, and knowing which entry a dist came from is the point.
``version.py`` of torch/torchvision is parsed with :mod:`ast`, never executed.

Data::

    {
      "locations": [str],          # sys.path as it was (``loc`` below indexes it)
      "dists": [                   # all of them, sys.path order, then name
        {"name": "torch", "key": "torch", "version": "2.13.0+cpu", "loc": 4,
         "meta": "torch-2.13.0+cpu.dist-info", "installer": "pip"|"uv"|"conda"|…|null,
         "requires": ["filelock", "typing-extensions>=4.10.0", …],  # raw Requires-Dist
         "requires_python": ">=3.10"|null}
      ],
      "duplicates": {key: [{"version", "loc", "meta", "installer"}, …]},  # >1 copy, first wins
      "focus": {key: [ {…dist but "requires"…, "path": "<full dist-info path>", "requested": bool,
                        "top_level": [str], "direct_url": {"url", "editable"}|null,
                        "wheel_tags": [str], "record": {"files": int,
                        "native_missing": [str], "native": int,
                        "native_changed": [{"path", "size", "record_size"}]}|null}, … ]},
               # torch, torchvision, torchaudio, numpy, pillow, triton, pytorch-triton*,
               # nvidia-*, cuda-*; one entry per copy, sys.path order
      "shared_files": [{"path": rel, "loc": int, "owners": [{"name", "key", "version", "meta"}]}],
                                   # compiled files two dists' RECORDs list (one overwrote the other)
      "version_py": {"torch": {"path": str, "found": bool, "values": {"__version__": …,
                               "cuda": …, "hip": …, "git_version": …, "debug": …},
                               "dynamic": ["cuda"],   # assigned, but not to a literal
                               "local_tag": "cu130"|null, "cuda_from_tag": "13.0"|null,
                               "rocm_from_tag": "6.2"|null},
                     "torchvision": {…}},     # from importlib.util.find_spec's location
      "conda": {"meta_dir": str|null, "count": int, "base_meta_dir": str|null,
                "records": [{"name", "version", "build", "channel", "url", "file"}],  # focus
                "pip_also": [{"conda": "pytorch", "key": "torch", "conda_version": str,
                              "dists": [{"version", "loc", "installer"}]}]},
      "errors": {part: "Type: message"},
    }

Facts sent early (the runner merges them into the data): ``count`` (number of dists).

Options: ``focus`` (extra keys to detail), ``record`` (bool, default true: check that the
native files a focus dist's RECORD lists exist).
"""

from __future__ import annotations

import os
import re
import sys

FOCUS = ("torch", "torchvision", "torchaudio", "numpy", "pillow", "triton")
FOCUS_PREFIXES = ("nvidia-", "cuda-", "pytorch-triton")
VERSION_PY = ("torch", "torchvision")
CONDA_FOCUS = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "libtorch": None,
    "pytorch-cuda": None,
    "pytorch-mutex": None,
    "torchvision": "torchvision",
    "torchvision-extra-decoders": None,
    "torchaudio": "torchaudio",
    "numpy": "numpy",
    "numpy-base": "numpy",
    "pillow": "pillow",
    "triton": "triton",
    "cudatoolkit": None,
    "cudnn": None,
    "python": None,
    "libjpeg-turbo": None,
    "jpeg": None,
    "libpng": None,
    "mkl": None,
    "llvm-openmp": None,
    "intel-openmp": None,
    "_openmp_mutex": None,
}
_NATIVE = re.compile(r"\.(so(\.[0-9.]+)?|pyd|dll|dylib)$", re.I)
_NATIVE_END = re.compile(r"\.(?:so(?:\.[0-9.]+)?|pyd|dll|dylib),", re.I)  # where a compiled file's path ends


def native_lines(text):
    """``(path, size)`` of the compiled files a RECORD text lists (size as written: digits or "").

    Found by their extension and the comma after it, then back to the line's start: a
    RECORD of 15,000 lines (torch's) costs a millisecond or two, not a loop over every line."""
    out = []
    for m in _NATIVE_END.finditer(text):
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        rest = text[m.end() : end if end >= 0 else len(text)].rstrip("\r")
        out.append((text[start : m.end() - 1], rest.rsplit(",", 1)[-1] if "," in rest else ""))
    return out


def canonical(name):
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_focus(key, extra=()):
    return key in FOCUS or key in extra or key.startswith(FOCUS_PREFIXES)


def _read(path, limit=None):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read() if limit is None else fh.read(limit)


def parse_headers(text):
    """RFC 822 headers of METADATA/PKG-INFO as ``{lower-name: [values]}`` (body ignored)."""
    headers = {}
    last = None
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" and last is not None:
            headers[last][-1] += "\n" + line.strip()
            continue
        if ":" not in line:
            continue
        k, v = line.split(":", 1)
        last = k.strip().lower()
        headers.setdefault(last, []).append(v.strip())
    return headers


def _first(headers, key):
    v = headers.get(key)
    return v[0] if v else None


def _requires_from_egg(meta):
    """Requires of an .egg-info (``requires.txt`` with ``[extra:marker]`` sections)."""
    path = os.path.join(meta, "requires.txt")
    if not os.path.isfile(path):
        return []
    out, section = [], None
    for line in _read(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section:
            extra, _, marker = section.partition(":")
            conds = []
            if extra:
                conds.append('extra == "%s"' % extra)
            if marker:
                conds.append("(%s)" % marker)
            line = "%s; %s" % (line, " and ".join(conds))
        out.append(line)
    return out


def read_dist(meta, loc):
    """One distribution, from its ``*.dist-info``/``*.egg-info`` path."""
    base = os.path.basename(meta)
    rec = {"meta": base, "loc": loc}
    if os.path.isdir(meta):
        text = None
        for fname in ("METADATA", "PKG-INFO"):
            p = os.path.join(meta, fname)
            if os.path.isfile(p):
                text = _read(p, 256 * 1024)
                break
    else:  # an .egg-info *file* is PKG-INFO itself
        text = _read(meta, 256 * 1024)
    headers = parse_headers(text or "")
    stem = base.rsplit(".", 1)[0]
    fallback_name, _, fallback_version = stem.partition("-")
    name = _first(headers, "name") or fallback_name
    rec["name"] = name
    rec["key"] = canonical(name)
    rec["version"] = _first(headers, "version") or fallback_version.split("-")[0] or None
    installer = None
    if os.path.isdir(meta):
        p = os.path.join(meta, "INSTALLER")
        if os.path.isfile(p):
            installer = _read(p, 200).strip() or None
    rec["installer"] = installer
    if base.endswith(".dist-info") or "requires-dist" in headers:
        rec["requires"] = headers.get("requires-dist", [])
    else:
        rec["requires"] = _requires_from_egg(meta) if os.path.isdir(meta) else []
    rec["requires_python"] = _first(headers, "requires-python")
    if not text:
        rec["error"] = "no METADATA"
    return rec


def _meta_dirs(entry):
    """Metadata dirs in one sys.path entry, sorted by name."""
    if entry.endswith(".egg") and os.path.isdir(os.path.join(entry, "EGG-INFO")):
        return [os.path.join(entry, "EGG-INFO")]
    try:
        names = os.listdir(entry or os.curdir)
    except OSError:
        return []
    return [
        os.path.join(entry or os.curdir, n)
        for n in sorted(names)
        if n.endswith((".dist-info", ".egg-info")) and not n.startswith(".")
    ]


def scan(path=None):
    """``(locations, dists)`` for every dist on ``path`` (default ``sys.path``)."""
    locations = list(sys.path if path is None else path)
    seen = set()
    dists = []
    for i, entry in enumerate(locations):
        try:
            n = os.path.normcase(os.path.abspath(entry or os.curdir))
        except Exception:
            continue
        if n in seen:
            continue
        seen.add(n)
        for meta in _meta_dirs(entry):
            try:
                dists.append(read_dist(meta, i))
            except Exception as exc:  # one bad dist must not lose the rest
                dists.append({"meta": os.path.basename(meta), "loc": i, "name": None, "key": None, "error": str(exc)})
    return locations, dists


def duplicates(dists):
    by_key = {}
    for d in dists:
        if d.get("key"):
            by_key.setdefault(d["key"], []).append(d)
    return {
        k: [
            {"version": d.get("version"), "loc": d["loc"], "meta": d["meta"], "installer": d.get("installer")}
            for d in v
        ]
        for k, v in sorted(by_key.items())
        if len(v) > 1
    }


_RECORDS = {}  # RECORD path -> text: focus_detail and shared_files read each RECORD once


def _record_text(path):
    text = _RECORDS.get(path)
    if text is None:
        text = _RECORDS[path] = _read(path)
    return text


def _record(meta):
    p = os.path.join(meta, "RECORD")
    if not os.path.isfile(p):
        return None
    root = os.path.dirname(meta)
    native = 0
    missing = []
    changed = []
    text = _record_text(p)
    files = sum(1 for line in text.splitlines() if line and line[0] != ",")
    for rel, want in native_lines(text):
        native += 1
        try:
            size = os.stat(os.path.join(root, rel)).st_size
        except OSError:
            missing.append(rel)
            continue
        if want.isdigit() and int(want) != size:  # a stat per file: sizes always, hashes never here
            changed.append({"path": rel, "size": size, "record_size": int(want)})
    return {
        "files": files,
        "native": native,
        "native_missing": missing[:50],
        "native_missing_count": len(missing),
        "native_changed": changed[:50],
    }


def shared_files(dists, locations):
    """Compiled files that the RECORDs of two or more distributions in one folder list.

    A second wheel that writes a path another wheel owns (two NCCL wheels for different CUDA
    majors both write ``nvidia/nccl/lib/libnccl.so.2``) overwrites it; the RECORD of the
    last one written wins on disk.  Every dist's RECORD is read (compiled lines only)."""
    claims = {}
    for d in dists:
        loc = d.get("loc")
        if not isinstance(loc, int) or not d.get("meta", "").endswith(".dist-info"):
            continue
        root = locations[loc] or os.curdir
        p = os.path.join(root, d["meta"], "RECORD")
        try:
            text = _record_text(p)
        except OSError:
            continue
        for rel, _size in native_lines(text):
            if rel:
                claims.setdefault((loc, rel), []).append(
                    {"name": d.get("name"), "key": d.get("key"), "version": d.get("version"), "meta": d.get("meta")}
                )
    out = []
    for (loc, rel), owners in sorted(claims.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        if len({o["key"] for o in owners}) > 1:
            out.append({"path": rel, "loc": loc, "owners": owners})
    return out[:50]


def _top_level(meta):
    p = os.path.join(meta, "top_level.txt")
    if os.path.isfile(p):
        return [x.strip() for x in _read(p).splitlines() if x.strip()]
    p = os.path.join(meta, "RECORD")
    if os.path.isfile(p):
        tops = []
        for line in _read(p).splitlines():
            first = line.split(",", 1)[0].split("/", 1)[0]
            if first.endswith(".py"):
                first = first[:-3]
            skip = first.endswith((".dist-info", ".data", ".libs")) or first == "__pycache__" or ".." in first
            if first and not skip and first not in tops:
                tops.append(first)
        return tops
    return []


def focus_detail(dist, locations, want_record=True):
    out = {k: v for k, v in dist.items() if k != "requires"}  # already in "dists"
    meta = os.path.join(locations[dist["loc"]] or os.curdir, dist["meta"])
    out["path"] = os.path.abspath(meta)
    if not os.path.isdir(meta):
        return out
    out["requested"] = os.path.isfile(os.path.join(meta, "REQUESTED"))
    try:
        out["top_level"] = _top_level(meta)
    except Exception as exc:
        out["top_level_error"] = str(exc)
    p = os.path.join(meta, "direct_url.json")
    if os.path.isfile(p):
        try:
            import json

            du = json.loads(_read(p))
            out["direct_url"] = {
                "url": du.get("url"),
                "editable": bool((du.get("dir_info") or {}).get("editable")),
            }
        except Exception as exc:
            out["direct_url"] = {"error": str(exc)}
    p = os.path.join(meta, "WHEEL")
    if os.path.isfile(p):
        out["wheel_tags"] = parse_headers(_read(p)).get("tag", [])
    if want_record:
        try:
            out["record"] = _record(meta)
        except Exception as exc:
            out["record"] = {"error": str(exc)}
    return out


# --- version.py -------------------------------------------------------------------------


def parse_version_py(text):
    """Simple top-level assignments of literals: ``(values, dynamic_names)``."""
    import ast

    values, dynamic = {}, []
    tree = ast.parse(text)

    def visit(body):
        for node in body:
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)  # e.g. ``if _check_cuda_version() > 0: cuda = …``
                continue
            else:
                continue
            for t in targets:
                if not isinstance(t, ast.Name):
                    continue
                try:
                    values[t.id] = ast.literal_eval(value)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    if t.id not in dynamic:
                        dynamic.append(t.id)

    visit(tree.body)
    return values, dynamic


def tag_facts(version):
    """Local version tag of ``version`` and what it names (``+cu130`` -> CUDA 13.0)."""
    out = {"local_tag": None, "cuda_from_tag": None, "rocm_from_tag": None}
    if not isinstance(version, str) or "+" not in version:
        return out
    tag = version.split("+", 1)[1]
    out["local_tag"] = tag
    m = re.match(r"cu(\d+)(\d)$", tag)
    if m:
        out["cuda_from_tag"] = "%d.%s" % (int(m.group(1)), m.group(2))
    m = re.match(r"rocm(\d+(?:\.\d+)*)$", tag)
    if m:
        out["rocm_from_tag"] = m.group(1)
    return out


def package_dir(name):
    """Directory of top-level package ``name`` as import would find it (nothing executed)."""
    import importlib.util

    if "." in name:
        raise ValueError("top-level names only: find_spec of a submodule imports its parent")
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    locs = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen") and locs:
        return os.path.dirname(spec.origin)
    return locs[0] if locs else None


def read_version_py(name):
    d = package_dir(name)
    out = {"package_dir": d, "path": None, "found": False}
    if not d:
        return out
    p = os.path.join(d, "version.py")
    out["path"] = p
    if not os.path.isfile(p):
        return out
    out["found"] = True
    values, dynamic = parse_version_py(_read(p, 64 * 1024))
    keep = ("__version__", "git_version", "cuda", "hip", "rocm", "xpu", "debug")
    out["values"] = {k: values[k] for k in keep if k in values and isinstance(values[k], (str, bool, type(None)))}
    out["dynamic"] = dynamic
    out.update(tag_facts(out["values"].get("__version__")))
    return out


# --- conda ------------------------------------------------------------------------------


def _conda_dir(prefix):
    d = os.path.join(prefix, "conda-meta")
    return d if os.path.isdir(d) else None


def conda_info(dists):
    meta = _conda_dir(sys.prefix)
    base = getattr(sys, "base_prefix", sys.prefix)
    out = {
        "meta_dir": meta,
        "base_meta_dir": _conda_dir(base) if base != sys.prefix else None,
        "count": 0,
        "records": [],
        "pip_also": [],
    }
    if not meta:
        return out
    names = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    out["count"] = len(names)
    chan_re = re.compile(r'"channel"\s*:\s*"([^"]*)"')
    url_re = re.compile(r'"url"\s*:\s*"([^"]*)"')
    for fname in names:
        parts = fname[: -len(".json")].rsplit("-", 2)
        if len(parts) != 3:
            continue
        name, version, build = parts
        if name not in CONDA_FOCUS and not name.startswith("cuda-"):
            continue
        rec = {"name": name, "version": version, "build": build, "file": fname}
        try:
            text = _read(os.path.join(meta, fname))
            m = chan_re.search(text)
            rec["channel"] = m.group(1) if m else None
            m = url_re.search(text)
            rec["url"] = m.group(1) if m else None
        except Exception as exc:
            rec["error"] = str(exc)
        out["records"].append(rec)
        key = CONDA_FOCUS.get(name)
        if key:
            same = [d for d in dists if d.get("key") == key]
            out["pip_also"].append(
                {
                    "conda": name,
                    "key": key,
                    "conda_version": version,
                    "dists": [
                        {"version": d.get("version"), "loc": d["loc"], "installer": d.get("installer")} for d in same
                    ],
                }
            )
    return out


def run(ctx):
    from . import interpreter

    data = {}
    opts = ctx.options or {}
    extra_focus = tuple(canonical(x) for x in opts.get("focus", ()))
    want_record = bool(opts.get("record", True))

    def do_scan():
        locations, dists = scan()
        data["locations"] = locations
        return dists

    dists = interpreter.collect(ctx, data, "dists", do_scan) or []
    ctx.fact("count", len(dists))
    interpreter.collect(ctx, data, "duplicates", lambda: duplicates(dists))

    def focus():
        out = {}
        for d in dists:
            key = d.get("key")
            if key and _is_focus(key, extra_focus):
                try:
                    detail = focus_detail(d, data["locations"], want_record)
                except Exception as exc:
                    detail = dict(d, error=str(exc))
                out.setdefault(key, []).append(detail)
        return out

    interpreter.collect(ctx, data, "focus", focus)
    if want_record:
        interpreter.collect(ctx, data, "shared_files", lambda: shared_files(dists, data.get("locations") or []))

    def version_py():
        out = {}
        for name in VERSION_PY:
            try:
                out[name] = read_version_py(name)
            except Exception as exc:
                out[name] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        return out

    interpreter.collect(ctx, data, "version_py", version_py)
    interpreter.collect(ctx, data, "conda", lambda: conda_info(dists))
    return data
