"""native: torch's and torchvision's compiled files, read statically (nothing is imported).

Runs inside the *target* interpreter (stdlib only, Python 3.8+).  It finds torch and
torchvision with ``importlib.util.find_spec`` of the top-level names (which executes
nothing), reads the ELF headers of their shared objects with :mod:`._elf`, and resolves
every ``DT_NEEDED`` library the way glibc's ld.so would:

1. a library already loaded (by ``LD_PRELOAD``, by python itself, by ``import torch``, or
   earlier in the same load) with that name or SONAME;
2. a name containing ``/`` is a path;
3. ``DT_RPATH`` of the object (only when it has no ``DT_RUNPATH``), then of the object that
   loaded it, and up the chain, then of the python executable;
4. ``LD_LIBRARY_PATH``;
5. ``DT_RUNPATH`` of the object;
6. ``/etc/ld.so.cache``, then the default dirs (both skipped for ``DF_1_NODEFLIB``).

``$ORIGIN``, ``$LIB`` and ``$PLATFORM`` are expanded.  A candidate of another ELF class or
machine is skipped (as ld.so does); a candidate that is not a loadable ELF file ends the
search with an error (as ld.so does).  Loads are modelled breadth-first, like ld.so: first
python's own libraries, ``LD_PRELOAD``, then ``import torch`` (``torch/lib/
libtorch_global_deps.so``, the nvidia wheel libraries torch itself preloads, read from its
``_preload_cuda_deps``, then ``torch/_C*.so``); then each of torchvision's extension
modules on top of what torch loaded (how ``libc10.so`` is found at runtime).  glibc-hwcaps
subdirectories are not modelled.

The probe reports; it decides nothing.  It is one module of over 600 lines on purpose: the
steps above are one algorithm whose parts share the same state (what is loaded so far, the chain
of loaders whose RPATHs apply, the parsed ld.so.cache); split, every part would take that state
as arguments.  The ELF reading it needs lives in :mod:`._elf`.

Result (``run`` returns it)::

    {
      "supported": bool,              # False off Linux: then only "platform" and "packages"
                                      # with each file's "path" and "size"
      "platform": str,                # sys.platform
      "arch": {"class", "endian", "machine"} | None,   # of the python executable
      "executable": str | None,       # /proc/self/exe
      "packages": {
        "torch" | "torchvision": {
          "found": bool, "dir": str | None, "origin": str | None,
          "error": str,               # only when find_spec itself failed
          "lib_dir": str | None,      # torch/lib, torchvision.libs
          "files": [{
            "path": str, "size": int | None,
            "valid": bool,            # a loadable ELF object for this python (problem is None)
            "problem": None | "unreadable" | "empty" | "not-elf" | "bad-elf" | "truncated"
                       | "bad-type" | "wrong-arch",
            "detail": str,            # only with a problem ("truncated" whose detail starts
                                      # "section headers" is damaged, yet ld.so can map it)
            "soname": str | None, "rpath": str | None, "runpath": str | None,
            "cuda_arch": {"sm": [75, ...], "ptx": [120]},   # torchvision's own extensions
                                      # with GPU code only: its .nv_fatbin's cubins and PTX
            "needed": [{
              "name": str, "found": bool,
              "path": str | None,     # what was loaded, or the bad file that stopped the search
              "via": "torch" | "python" | "preload" | "loaded" | "path" | "rpath"
                     | "ld_library_path" | "runpath" | "ld.so.cache" | "default"
                     | "torch/lib" | None,
              "entry": str,           # rpath/runpath/ld_library_path: the entry as written
              "rpath_of": str,        # rpath: the object whose RPATH it was, when inherited
              "problem": str, "detail": str,   # the found file is not loadable
              "skipped": [{"path", "why"}],    # candidates passed over (wrong arch)
            }],
          }],
        },
      },
      "lib_dirs": [str],              # site-packages nvidia/*/lib and cuda*/lib* dirs
      "unresolved": [{"name", "needed_by", "package", "root"?, "path"?, "problem"?, "detail"?,
                      "driver"?: True}],   # driver: a library of the NVIDIA driver (libcuda)
      "overrides": [{"name", "source": "LD_LIBRARY_PATH" | "LD_PRELOAD", "entry", "path",
                     "shadows": str, "used_by": [str]}],
      "ld_library_path": [{"entry", "path", "exists", "is_dir"}],
      "ld_preload": [{"entry", "path", "exists", "soname"?, "problem"?}],
      "ld_cache": {"source": str | None, "entries": int, "error"?: str},
      "default_dirs": [str],
      "loaded_by_torch": int,         # objects in the modelled ``import torch``
      "torch_preload": {"modelled": bool, "ran": bool, "libs": [str], "after_load"?: bool,
                        "best_effort"?: bool, "stopped_at"?: str},   # see _torch_preload_plan
      "elapsed": float,               # seconds this probe took
      "error"?: {"type", "message", "traceback"},   # only if something unguarded failed
    }

``via "torch"`` means the library is loaded by ``import torch`` (found in that load with
torch's own RPATHs), ``"torch/lib"`` that ``import torch`` would not load it but torch's
``lib`` dir has it.  In ``unresolved``, ``root`` is the file whose load reached the
object that needs the library, when that is not the object itself.  An ``override`` is a
library in an ``LD_LIBRARY_PATH`` entry or ``LD_PRELOAD`` with the name of one torch,
torchvision or the pip nvidia/cuda wheels ship (``shadows``: the shipped copy);
``used_by`` lists the objects this model resolves to the override copy.
"""

import glob
import importlib.machinery
import importlib.util
import os
import re
import struct
import subprocess
import sys
import time

from . import _api, _elf

_NEW_CACHE_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_CACHE_MAGIC = b"ld.so-1.7.0"
_TRIPLETS = {
    "x86_64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "ppc64": "powerpc64le-linux-gnu",
    "s390": "s390x-linux-gnu",
    "i386": "i386-linux-gnu",
    "arm": "arm-linux-gnueabihf",
    "riscv": "riscv64-linux-gnu",
    "loongarch": "loongarch64-linux-gnu",
}
_COMPILED = (".so", ".pyd", ".dylib", ".dll")
# Installed with the NVIDIA driver, never by a wheel: missing on a machine without a GPU.
_DRIVER_LIBS = ("libcuda.so", "libnvidia-ml.so", "libnvcuvid.so", "libnvidia-")
_DST = re.compile(r"\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))")


def _is_compiled(name):
    return name.endswith(_COMPILED) or ".so." in name


# --------------------------------------------------------------------------- locating


def _locate(name):
    """Where ``name`` would be imported from, without importing it (top-level names only)."""
    out = {"found": False, "dir": None, "origin": None}
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:  # a broken finder or sys.modules entry
        out["error"] = "%s: %s" % (type(exc).__name__, exc)
        return out
    if spec is None:
        return out
    out["found"] = True
    out["origin"] = spec.origin
    locations = list(spec.submodule_search_locations or [])
    if locations:
        out["dir"] = os.path.abspath(locations[0])
    if spec.origin in (None, "namespace"):
        out["origin"] = None
        out["namespace"] = True
    return out


def _list_files(pkg_dir, lib_dir, top_only):
    """Compiled files of a package (and its bundled lib dir), sorted."""
    found = []
    if pkg_dir and os.path.isdir(pkg_dir):
        if top_only:
            found.extend(
                os.path.join(pkg_dir, n)
                for n in os.listdir(pkg_dir)
                if n.startswith("_C") and _is_compiled(n) and os.path.isfile(os.path.join(pkg_dir, n))
            )
        else:
            for root, dirs, names in os.walk(pkg_dir):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                found.extend(os.path.join(root, n) for n in names if _is_compiled(n))
    if lib_dir and os.path.isdir(lib_dir):
        found.extend(
            os.path.join(lib_dir, n)
            for n in os.listdir(lib_dir)
            if _is_compiled(n) and os.path.isfile(os.path.join(lib_dir, n))
        )
    return sorted(found)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


# --------------------------------------------------------------------------- ld.so.cache


def _parse_ld_cache(raw):
    """``{name: [(path, hwcap)]}`` from the bytes of ``/etc/ld.so.cache`` (native order)."""
    e = "<" if sys.byteorder == "little" else ">"
    base = 0
    if raw.startswith(_OLD_CACHE_MAGIC):
        nlibs = struct.unpack_from(e + "I", raw, 12)[0]
        base = 16 + nlibs * 12
        base = (base + 7) & ~7  # the new format follows, aligned
    if raw[base : base + len(_NEW_CACHE_MAGIC)] != _NEW_CACHE_MAGIC:
        raise ValueError("no glibc-ld.so.cache1.1 data")
    nlibs, _len_strings = struct.unpack_from(e + "II", raw, base + 20)
    out = {}
    pos = base + 48
    if pos + nlibs * 24 > len(raw):
        raise ValueError("cache is shorter than its %d entries" % nlibs)

    def string(off):
        off += base
        end = raw.find(b"\x00", off)
        return raw[off : end if end >= 0 else len(raw)].decode("utf-8", "surrogateescape")

    for i in range(nlibs):
        _flags, key, value, _osv, hwcap = struct.unpack_from(e + "iIIIQ", raw, pos + i * 24)
        out.setdefault(string(key), []).append((string(value), hwcap))
    return out


def _ldconfig_p():
    for exe in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "/usr/bin/ldconfig", "ldconfig"):
        if "/" in exe and not os.path.exists(exe):
            continue
        try:
            text = subprocess.run(
                [exe, "-p"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                timeout=10,
                check=False,
            ).stdout.decode("utf-8", "surrogateescape")
        except (OSError, subprocess.SubprocessError):
            continue
        out = {}
        for line in text.splitlines():
            if " => " not in line or not line.startswith("\t"):
                continue
            left, path = line.strip().split(" => ", 1)
            name = left.split(" (", 1)[0]
            out.setdefault(name, []).append((path, 0))
        return exe + " -p", out
    raise OSError("no ldconfig")


def _load_ld_cache():
    try:
        with open("/etc/ld.so.cache", "rb") as f:
            raw = f.read(64 * 1024 * 1024)
        return "/etc/ld.so.cache", _parse_ld_cache(raw), None
    except (OSError, ValueError, struct.error) as exc:
        first = "%s: %s" % (type(exc).__name__, exc)
    try:
        source, entries = _ldconfig_p()
        return source, entries, first
    except OSError as exc:
        return None, {}, first + "; %s" % exc


# --------------------------------------------------------------------------- the loader model


class _Obj:
    """A loaded object in the model: its path, ELF info and who loaded it."""

    __slots__ = ("info", "loader", "path")

    def __init__(self, path, info, loader):
        self.path = path
        self.info = info
        self.loader = loader


class Loader:
    def __init__(self, env, exe_path, cache_entries):
        self.env = env
        self.elves = {}
        self.cache = cache_entries
        self.exe_path = exe_path
        self.exe = self.elf(exe_path) if exe_path else None
        if self.exe is not None and self.exe.get("class") is None:
            self.exe = None
        self.ref = self.exe
        self.exe_obj = _Obj(exe_path, self.exe, None) if self.exe else None
        machine = _elf.arch_name(self.exe) if self.exe else os.uname().machine
        is64 = (self.exe or {}).get("class", 64) == 64
        triplet = _TRIPLETS.get(machine, "")
        self.platform = os.uname().machine
        if triplet and os.path.isdir("/usr/lib/" + triplet):
            self.lib_token = "lib/" + triplet
        else:
            self.lib_token = "lib64" if is64 else "lib"
        dirs = []
        if triplet:
            dirs += ["/lib/" + triplet, "/usr/lib/" + triplet]
        if is64:
            dirs += ["/lib64", "/usr/lib64"]
        dirs += ["/lib", "/usr/lib"]
        self.default_dirs = [d for d in dirs if os.path.isdir(d)]
        self.ld_library_path = self._ld_library_path(env.get("LD_LIBRARY_PATH") or "")
        self.used = {}  # path -> [objects whose needed resolved to it] (ld_library_path/preload)

    def elf(self, path):
        info = self.elves.get(path)
        if info is None:
            info = self.elves[path] = _elf.read_elf(path)
        return info

    def expand(self, entry, origin):
        values = {"ORIGIN": origin, "LIB": self.lib_token, "PLATFORM": self.platform}
        return _DST.sub(lambda m: values[m.group(1) or m.group(2)], entry)

    def _exe_origin(self):
        return os.path.dirname(self.exe_path) if self.exe_path else os.getcwd()

    def _ld_library_path(self, value):
        out = []
        if not value:
            return out
        for raw in value.replace(";", ":").split(":"):
            path = self.expand(raw, self._exe_origin()) if raw else ""
            path = os.path.abspath(path or ".")  # an empty entry is the current dir
            out.append((raw, path))
        return out

    def _arch_ok(self, info, requester):
        ref = self.ref or (requester.info if requester is not None else None)
        return ref is None or _elf.same_arch(info, ref)

    def _try(self, path, requester, rec):
        """Like ld.so's open_verify: None (go on), or True/False (stop: loaded / error)."""
        if not os.path.isfile(path):
            return None
        info = self.elf(path)
        if info.get("class") is not None and not self._arch_ok(info, requester):
            rec.setdefault("skipped", []).append({"path": path, "why": "wrong-arch"})
            return None
        rec["path"] = path
        if not info["loadable"]:
            rec["problem"] = info["problem"]
            rec["detail"] = info.get("detail", "")
            return False
        return True

    def _search_dirs(self, name, dirs, requester, rec, via):
        for entry, d, extra in dirs:
            res = self._try(os.path.join(d, name), requester, rec)
            if res is None:
                continue
            rec["via"] = via
            rec["entry"] = entry
            if extra:
                rec["rpath_of"] = extra
            return res
        return None

    def search(self, name, requester, loaded, label, torch_lib=None):
        """Resolve ``name`` needed by ``requester`` (an :class:`_Obj`; for LD_PRELOAD the
        python executable's, as in ld.so)."""
        rec = {"name": name, "found": False, "path": None, "via": None}
        hit = loaded.get(name)
        if hit is not None:
            rec.update(found=True, path=hit[0], via=hit[1] if hit[1] != label else "loaded")
            if hit[1] == "preload" and requester is not None:
                self.used.setdefault(hit[0], []).append(requester.path)
            return rec
        res = None
        if "/" in name:
            origin = os.path.dirname(requester.path) if requester else self._exe_origin()
            res = self._try(os.path.abspath(self.expand(name, origin)), requester, rec)
            if res is not None:
                rec["via"] = "path"
        else:
            info = requester.info if requester is not None else {}
            if not info.get("runpath"):
                chain = []
                obj = requester
                while obj is not None:
                    chain.append(obj)
                    obj = obj.loader
                dirs = []
                for obj in chain:
                    if obj.info.get("rpath") and not obj.info.get("runpath"):
                        extra = obj.path if obj is not requester else None
                        origin = os.path.dirname(obj.path)
                        dirs += [(e, self.expand(e, origin), extra) for e in obj.info["rpath"].split(":") if e]
                exe = self.exe
                in_chain = any(obj.path == self.exe_path for obj in chain)
                if exe and exe.get("rpath") and not exe.get("runpath") and not in_chain:
                    origin = self._exe_origin()
                    dirs += [(e, self.expand(e, origin), self.exe_path) for e in exe["rpath"].split(":") if e]
                res = self._search_dirs(name, dirs, requester, rec, "rpath")
            if res is None:
                dirs = [(raw, path, None) for raw, path in self.ld_library_path]
                res = self._search_dirs(name, dirs, requester, rec, "ld_library_path")
            if res is None and requester is not None and info.get("runpath"):
                origin = os.path.dirname(requester.path)
                dirs = [(e, self.expand(e, origin), None) for e in info["runpath"].split(":") if e]
                res = self._search_dirs(name, dirs, requester, rec, "runpath")
            nodeflib = info.get("flags_1", 0) & _elf.DF_1_NODEFLIB
            if res is None and not nodeflib:
                hits = self.cache.get(name, [])
                for path, _hw in sorted(hits, key=lambda h: h[1] != 0):
                    res = self._try(path, requester, rec)
                    if res is not None:
                        rec["via"] = "ld.so.cache"
                        break
            if res is None and not nodeflib:
                dirs = [(d, d, None) for d in self.default_dirs]
                res = self._search_dirs(name, dirs, requester, rec, "default")
                rec.pop("entry", None)
        if res is None and torch_lib:
            res = self._try(os.path.join(torch_lib, name), requester, rec)
            if res is not None:
                rec["via"] = "torch/lib"
        rec["found"] = bool(res)
        if res and rec["via"] == "ld_library_path" and requester is not None:
            self.used.setdefault(rec["path"], []).append(requester.path)
        return rec

    def load(self, root_path, loaded, label, package, records, unresolved, torch_lib=None):
        """Model ``dlopen(root_path)``: a breadth-first load of its dependencies.

        ``loaded`` (name -> (path, label)) is updated; each object's needed list goes to
        ``records[path]`` (the first load that met it wins); missing ones to ``unresolved``.
        """
        root = _Obj(root_path, self.elf(root_path), None)
        real = os.path.realpath(root_path)
        self._mark(loaded, root_path, root.info, label)
        queue = [root]
        seen = {real}
        while queue:
            obj = queue.pop(0)
            if not obj.info["loadable"] or not self._arch_ok(obj.info, None):
                continue
            recs = []
            for name in obj.info["needed"]:
                try:
                    rec = self.search(name, obj, loaded, label, torch_lib)
                except Exception as exc:  # one odd entry must not lose the rest
                    rec = {"name": name, "found": False, "path": None, "via": None, "error": str(exc)}
                recs.append(rec)
                if not rec["found"]:
                    miss = {"name": name, "needed_by": obj.path, "package": package}
                    if name.startswith(_DRIVER_LIBS):
                        miss["driver"] = True
                    if obj is not root:
                        miss["root"] = root_path
                    for key in ("path", "problem", "detail"):
                        if rec.get(key):
                            miss[key] = rec[key]
                    unresolved.append(miss)
                    continue
                if rec["via"] in (label, "loaded") or name in loaded:
                    continue
                path = rec["path"]
                self._mark(loaded, path, self.elf(path), label, name)
                real = os.path.realpath(path)
                if real not in seen:
                    seen.add(real)
                    queue.append(_Obj(path, self.elf(path), obj))
            records.setdefault(os.path.realpath(obj.path), recs)
        return root

    @staticmethod
    def _mark(loaded, path, info, label, name=None):
        # What ld.so matches a later request against: the names it was asked for (a
        # full path for dlopen of a path) and its DT_SONAME.
        entry = (path, label)
        for key in (name, info.get("soname"), path):
            if key and key not in loaded:
                loaded[key] = entry


# --------------------------------------------------------------------------- torch's preloads


def _torch_preload_plan(torch_dir):
    """What ``torch._load_global_deps`` of this torch preloads, read from its source.

    torch (2.5+) dlopens the CUDA libraries of the pip nvidia wheels it finds on
    ``sys.path`` (``_preload_cuda_deps``): when ``libtorch_global_deps.so`` fails to load,
    and in newer versions also right after it loaded, when ``libcudart`` is in the process.
    Those copies then win every later lookup by name, ``LD_LIBRARY_PATH`` or not.
    """
    try:
        with open(os.path.join(torch_dir, "__init__.py"), encoding="utf-8", errors="replace") as f:
            src = f.read()
    except OSError:
        return None
    start = src.find("def _preload_cuda_deps")
    if start < 0:
        return None
    end = src.find("\ndef ", start + 1)
    body = src[start : end if end > 0 else len(src)]
    libs = re.findall(r'\(\s*"([\w.-]+)",\s*"(lib[^"]+)"\s*\)', body)
    if not libs:
        return None
    cuda = None
    try:
        with open(os.path.join(torch_dir, "version.py"), encoding="utf-8", errors="replace") as f:
            m = re.search(r"^cuda\b[^=\n]*=\s*['\"]([\d.]+)['\"]", f.read(), re.M)
            cuda = m.group(1) if m else None
    except OSError:
        pass
    return {
        "libs": libs,
        "after_load": '"libcudart.so" not in' in src,
        "best_effort": "_preload_cuda_deps(required=False)" in src,
        "cuda": cuda,
    }


def _find_wheel_lib(folder, pattern, cuda):
    """torch's ``_get_cuda_dep_paths``: the first ``sys.path`` entry with a match wins."""
    for entry in sys.path:
        pats = [os.path.join(entry, "nvidia", folder, "lib", pattern)]
        if cuda:
            pats.append(os.path.join(entry, "nvidia", "cu" + cuda.split(".")[0], "lib", pattern))
        pats.append(os.path.join(entry, folder, "lib", pattern))
        for pat in pats:
            hits = glob.glob(pat)
            if hits:
                return hits[0]
    return None


def _load_global_deps(loader, torch, global_deps, loaded, records, unresolved, data):
    """Model ``torch._load_global_deps``: libtorch_global_deps.so, then torch's preloads."""
    plan = _torch_preload_plan(torch["dir"])
    data["torch_preload"] = info = {"modelled": plan is not None, "ran": False, "libs": []}
    before = dict(loaded)
    first = []
    loader.load(global_deps, loaded, "torch", "torch", records, first)
    if plan is None:
        unresolved.extend(first)
        return
    info.update(after_load=plan["after_load"], best_effort=plan["best_effort"])
    stems = [pattern.split(".", 1)[0] for _, pattern in plan["libs"]]
    failed = bool(first) and any(stem in m["name"] for m in first for stem in stems)
    has_cudart = any(k.startswith("libcudart.so") for k in loaded)
    if failed:
        # The OSError path: preload (every library required), then load global_deps again.
        loaded.clear()
        loaded.update(before)
        records.pop(os.path.realpath(global_deps), None)
    elif not (plan["after_load"] and has_cudart):
        unresolved.extend(first)
        return
    info["ran"] = True
    for folder, pattern in plan["libs"]:
        path = _find_wheel_lib(folder, pattern, plan["cuda"])
        if path is None:
            if failed or not plan["best_effort"]:
                info["stopped_at"] = pattern  # torch raises (caught after a successful load)
                break
            continue
        info["libs"].append(path)
        loader.load(path, loaded, "torch", "torch", records, unresolved)
    if failed:
        loader.load(global_deps, loaded, "torch", "torch", records, unresolved)
    else:
        unresolved.extend(first)


# --------------------------------------------------------------------------- the probe


def _file_record(loader, path, records):
    info = loader.elf(path)
    rec = {"path": path, "size": info.get("size"), "problem": info["problem"]}
    if info["problem"]:
        rec["detail"] = info.get("detail", "")
    elif info.get("class") is not None and not loader._arch_ok(info, None):
        rec["problem"] = "wrong-arch"
        ref = loader.ref or {}
        rec["detail"] = "%s %d-bit %s-endian, python is %s %s-bit %s-endian" % (
            _elf.arch_name(info),
            info["class"],
            info["endian"],
            _elf.arch_name(ref),
            ref.get("class"),
            ref.get("endian"),
        )
    rec["valid"] = rec["problem"] is None
    rec["soname"] = info.get("soname")
    rec["rpath"] = info.get("rpath")
    rec["runpath"] = info.get("runpath")
    rec["needed"] = records.get(os.path.realpath(path), [])
    return rec


def _exe_path():
    try:
        return os.readlink("/proc/self/exe")
    except OSError:
        return os.path.realpath(sys.executable) if sys.executable else None


def _nvidia_dirs(site_dirs):
    out = []
    for sp in site_dirs:
        pats = [os.path.join(sp, "nvidia", "*", "lib"), os.path.join(sp, "nvidia", "*", "lib64")]
        pats += [os.path.join(sp, "cuda*", "lib"), os.path.join(sp, "cuda*", "lib64")]
        for pat in pats:
            out.extend(d for d in sorted(glob.glob(pat)) if os.path.isdir(d) and d not in out)
    return out


def _shipped(dirs):
    """``{name: path}`` of the libraries in the dirs torch, torchvision and the wheels ship."""
    out = {}
    for d in dirs:
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            if ".so" in n and n not in out:
                out[n] = os.path.join(d, n)
    return out


def _same(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _offline(packages, pkgs):
    for name, info in pkgs.items():
        entry = dict(info)
        files = _list_files(info.get("dir"), info.get("lib_dir"), name == "torch")
        entry["files"] = [{"path": p, "size": _size(p)} for p in files]
        packages[name] = entry


def run(ctx):
    t0 = time.perf_counter()
    data = {"supported": sys.platform.startswith("linux"), "platform": sys.platform, "packages": {}}
    pkgs = {n: {"found": False, "dir": None, "origin": None, "lib_dir": None} for n in ("torch", "torchvision")}
    with ctx.step("locate") as d:
        for name in ("torch", "torchvision"):
            info = _locate(name)
            if name == "torch" and info.get("dir"):
                info["lib_dir"] = os.path.join(info["dir"], "lib")
            elif name == "torchvision" and info.get("dir"):
                info["lib_dir"] = os.path.join(os.path.dirname(info["dir"]), "torchvision.libs")
            else:
                info["lib_dir"] = None
            if info.get("lib_dir") and not os.path.isdir(info["lib_dir"]):
                info["lib_dir"] = None
            pkgs[name] = info
            d[name] = info.get("dir") or info.get("origin")
        ctx.fact("native.locations", {k: v.get("dir") for k, v in pkgs.items()})

    if not data["supported"]:
        with ctx.step("files") as d:
            _offline(data["packages"], pkgs)
        data["elapsed"] = round(time.perf_counter() - t0, 4)
        return data

    try:
        _linux(ctx, data, pkgs)
    except Exception as exc:  # every step is guarded; this is for what lies between them
        data["error"] = _api.format_exception(exc)
    data["elapsed"] = round(time.perf_counter() - t0, 4)
    return data


def _linux(ctx, data, pkgs):
    """The Linux part of :func:`run`: fills ``data`` step by step."""
    for key in ("unresolved", "overrides", "ld_library_path", "ld_preload", "lib_dirs"):
        data[key] = []
    for name, info in pkgs.items():
        data["packages"][name] = dict(info, files=[])
    data["torch_preload"] = None
    env = os.environ
    cache_source, cache_entries, cache_error = None, {}, None
    with ctx.step("ld-cache") as d:
        cache_source, cache_entries, cache_error = _load_ld_cache()
        d["source"] = cache_source
        d["entries"] = len(cache_entries)
    data["ld_cache"] = {"source": cache_source, "entries": len(cache_entries)}
    if cache_error:
        data["ld_cache"]["error"] = cache_error

    exe_path = _exe_path()
    loader = Loader(env, exe_path, cache_entries)
    data["executable"] = exe_path
    data["arch"] = (
        {"class": loader.exe["class"], "endian": loader.exe["endian"], "machine": _elf.arch_name(loader.exe)}
        if loader.exe
        else None
    )
    data["default_dirs"] = loader.default_dirs
    data["ld_library_path"] = [
        {"entry": raw, "path": path, "exists": os.path.exists(path), "is_dir": os.path.isdir(path)}
        for raw, path in loader.ld_library_path
    ]

    loaded = {}
    records = {}
    unresolved = []
    data["ld_preload"] = []
    # The process before torch: python's own libraries, then LD_PRELOAD.
    with ctx.step("python") as d:
        if exe_path and loader.exe:
            loader.load(exe_path, loaded, "python", "python", {}, [])
        d["loaded"] = len({v[0] for v in loaded.values()})
    with ctx.step("ld-preload") as d:
        value = env.get("LD_PRELOAD") or ""
        for raw in value.replace(":", " ").split():
            item = {"entry": raw, "path": None, "exists": False}
            try:
                rec = loader.search(loader.expand(raw, loader._exe_origin()), loader.exe_obj, {}, "preload")
                item["path"] = rec["path"]
                item["exists"] = bool(rec["path"]) and os.path.exists(rec["path"])
                if rec.get("problem"):
                    item["problem"] = rec["problem"]
                if rec["found"]:
                    info = loader.elf(rec["path"])
                    item["soname"] = info.get("soname")
                    loader._mark(loaded, rec["path"], info, "preload", raw)
                    loader.load(rec["path"], loaded, "preload", "preload", records, unresolved)
            except Exception as exc:
                item["error"] = "%s: %s" % (type(exc).__name__, exc)
            data["ld_preload"].append(item)
        d["entries"] = len(data["ld_preload"])

    torch = pkgs["torch"]
    torch_lib = torch.get("lib_dir")
    torch_files = []
    with ctx.step("torch") as d:
        if torch.get("dir"):
            torch_files = _list_files(torch["dir"], torch_lib, True)
            global_deps = os.path.join(torch_lib, "libtorch_global_deps.so") if torch_lib else None
            if global_deps and os.path.isfile(global_deps):
                try:
                    _load_global_deps(loader, torch, global_deps, loaded, records, unresolved, data)
                except Exception as exc:
                    d.setdefault("errors", []).append("%s: %s" % (global_deps, exc))
            roots = []
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                p = os.path.join(torch["dir"], "_C" + suffix)
                if os.path.isfile(p):
                    roots.append(p)
                    break
            for root in roots:
                try:
                    loader.load(root, loaded, "torch", "torch", records, unresolved)
                except Exception as exc:
                    d.setdefault("errors", []).append("%s: %s" % (root, exc))
            d["roots"] = roots
        d["loaded"] = len({v[0] for v in loaded.values() if v[1] == "torch"})
    data["loaded_by_torch"] = len({v[0] for v in loaded.values() if v[1] == "torch"})

    def extra_loads(files, package, step):
        # Each file dlopen'ed on its own, after ``import torch`` (not before another file).
        for path in files:
            if os.path.realpath(path) in records:
                continue
            try:
                loader.load(path, dict(loaded), package, package, records, unresolved, torch_lib)
            except Exception as exc:
                step.setdefault("errors", []).append("%s: %s" % (path, exc))

    with ctx.step("torch-files") as d:
        extra_loads(torch_files, "torch", d)
        d["files"] = len(torch_files)

    tv = pkgs["torchvision"]
    tv_files = []
    with ctx.step("torchvision") as d:
        if tv.get("dir"):
            tv_files = _list_files(tv["dir"], tv.get("lib_dir"), False)
            ext = [p for p in tv_files if not (tv.get("lib_dir") and p.startswith(tv["lib_dir"] + os.sep))]
            extra_loads(ext, "torchvision", d)
            extra_loads(tv_files, "torchvision", d)
        d["files"] = len(tv_files)

    for name, files in (("torch", torch_files), ("torchvision", tv_files)):
        entry = dict(pkgs[name])
        out = []
        lib_dir = entry.get("lib_dir")
        for path in files:
            try:
                record = _file_record(loader, path, records)
                if name == "torchvision" and not (lib_dir and path.startswith(lib_dir + os.sep)):
                    # torchvision's own kernels: their GPU architectures, for "no kernel image"
                    arches = _elf.cuda_arches(path) if record.get("valid") else None
                    if arches is not None:
                        record["cuda_arch"] = arches
                out.append(record)
            except Exception as exc:
                out.append({"path": path, "size": _size(path), "valid": False, "error": str(exc)})
        entry["files"] = out
        data["packages"][name] = entry

    seen = set()
    data["unresolved"] = []
    for miss in unresolved:
        key = (miss["name"], miss["needed_by"])
        if key not in seen:
            seen.add(key)
            data["unresolved"].append(miss)
    ctx.fact("native.unresolved", data["unresolved"])

    with ctx.step("overrides") as d:
        site_dirs = []
        for info in pkgs.values():
            if info.get("dir"):
                sp = os.path.dirname(info["dir"])
                if sp not in site_dirs:
                    site_dirs.append(sp)
        data["lib_dirs"] = _nvidia_dirs(site_dirs)
        ship_dirs = [p for p in [torch_lib, tv.get("lib_dir")] if p] + data["lib_dirs"]
        shipped = _shipped(ship_dirs)
        overrides = []
        for raw, path in loader.ld_library_path:
            try:
                names = set(os.listdir(path))
            except OSError:
                continue
            for name in sorted(names & set(shipped)):
                mine = os.path.join(path, name)
                if _same(mine, shipped[name]):
                    continue
                overrides.append(
                    {
                        "name": name,
                        "source": "LD_LIBRARY_PATH",
                        "entry": raw,
                        "path": mine,
                        "shadows": shipped[name],
                        "used_by": sorted(set(loader.used.get(mine, []))),
                    }
                )
        for item in data["ld_preload"]:
            path = item.get("path")
            if not path or not item.get("exists"):
                continue
            for name in {os.path.basename(path), item.get("soname")}:
                if name and name in shipped and not _same(path, shipped[name]):
                    users = sorted(set(loader.used.get(path, [])))
                    overrides.append(
                        {
                            "name": name,
                            "source": "LD_PRELOAD",
                            "entry": item["entry"],
                            "path": path,
                            "shadows": shipped[name],
                            "used_by": users,
                        }
                    )
        data["overrides"] = overrides
        d["overrides"] = len(overrides)
