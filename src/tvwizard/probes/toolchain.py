"""Probe: the compilers and CUDA toolkit a source build of torchvision would use.

Runs inside the *target* interpreter (stdlib only, Python 3.8+), with the target's
environment, so ``PATH`` and ``CUDA_HOME`` are the ones a ``pip install`` there would see.

Each tool found on ``PATH`` is run once with ``--version`` (``LC_ALL=C``, stdin closed, in a
process group of its own).  All run concurrently in threads, each under a time limit
(option ``timeout``, default 5 s): a tool that hangs is killed with its whole group and
reported ``timed_out``; it never holds the probe up.  Option ``tools`` replaces the list of
tool names.

Data::

    {
      "tools": {
        NAME: {
          "found": bool,
          "path": str | None,         # shutil.which on the target's PATH
          "realpath": str | None,     # symlinks resolved (cc -> gcc-12, clang …)
          "returncode": int | None,
          "timed_out": bool,
          "duration": float,
          "first_line": str | None,   # first non-empty line of stdout (else stderr)
          "version": str | None,      # parsed from first_line ("11.4.0", "2.38")
          "error": str | None,        # could not run it (permissions, exec format …)
          # nvcc only:
          "cuda_release": "13.0" | None,   # "Cuda compilation tools, release 13.0, V13.0.88"
          "cuda_build": "V13.0.88" | None,
        },
      },
      "cuda_env": {
        "CUDA_HOME" | "CUDA_PATH": {
          "set": bool, "value": str, "exists": bool, "is_dir": bool,
          "nvcc": str | None,         # <dir>/bin/nvcc(.exe) when it is a file
          "lib64": bool,              # <dir>/lib64 (or lib/x64 on Windows) is a dir
          "version_file": str | None, # version.json "cuda.version" or version.txt
          "nvcc_tool": {...}          # like a tools entry, only when this nvcc is not
                                      # the one found on PATH
        },
      },
      "usr_local_cuda": {             # /usr/local/cuda (absent key on Windows)
        "exists": bool, "is_symlink": bool, "link_target": str | None,
        "realpath": str | None, "nvcc": str | None, "lib64": bool, "version_file": str | None,
      },
    }
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TOOLS = ("gcc", "g++", "cc", "c++", "nvcc", "c++filt", "ld", "ldd")
DEFAULT_TIMEOUT = 5.0
WINDOWS = sys.platform.startswith("win")

_VERSION_WORD = re.compile(r"\bversion\s+v?(\d+(?:\.\d+)+)", re.IGNORECASE)
_VERSION_TOKEN = re.compile(r"^v?(\d+(?:\.\d+)+)$")
_VERSION_ANY = re.compile(r"(\d+\.\d+(?:\.\d+)*)")
_NVCC_RELEASE = re.compile(r"release\s+(\d+\.\d+)(?:,\s*(V[\w.\-]+))?")


def parse_version(line):
    """The version in a ``--version`` first line, or None."""
    if not line:
        return None
    m = _VERSION_WORD.search(line)  # "clang version 14.0.0-1ubuntu1"
    if m:
        return m.group(1)
    for token in reversed(line.split()):  # "gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0"
        m = _VERSION_TOKEN.match(token.strip("()[],"))
        if m:
            return m.group(1)
    m = _VERSION_ANY.search(line)
    return m.group(1) if m else None


def parse_nvcc(text):
    m = _NVCC_RELEASE.search(text or "")
    if not m:
        return None, None
    return m.group(1), m.group(2)


def _kill(proc):
    try:
        if WINDOWS:
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            proc.kill()


def run_version(path, timeout):
    """Run ``path --version`` under ``timeout``; never raises, never waits past it (much)."""
    info = {"returncode": None, "timed_out": False, "duration": 0.0, "first_line": None, "error": None}
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    start = time.monotonic()
    kwargs = {}
    if WINDOWS:
        kwargs["creationflags"] = getattr(subprocess, "CREATE_NO_WINDOW", 0)
    else:
        kwargs["start_new_session"] = True
    try:
        proc = subprocess.Popen(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            **kwargs,
        )
    except (OSError, ValueError) as exc:
        info["error"] = "%s: %s" % (type(exc).__name__, exc)
        info["duration"] = round(time.monotonic() - start, 4)
        return info, ""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        info["timed_out"] = True
        _kill(proc)
        try:  # the group is dead; whatever is left in the pipes, briefly
            out, err = proc.communicate(timeout=1.0)
        except (subprocess.TimeoutExpired, OSError, ValueError):
            out, err = b"", b""
    info["returncode"] = proc.returncode
    info["duration"] = round(time.monotonic() - start, 4)
    text_out = (out or b"").decode("utf-8", "replace")
    text_err = (err or b"").decode("utf-8", "replace")
    for text in (text_out, text_err):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            info["first_line"] = lines[0][:500]
            break
    return info, text_out + "\n" + text_err


def probe_tool(name, path, timeout):
    entry = {"found": path is not None, "path": path, "realpath": None, "version": None}
    if path is None:
        return entry
    with contextlib.suppress(OSError, ValueError):
        entry["realpath"] = os.path.realpath(path)
    info, text = run_version(path, timeout)
    entry.update(info)
    entry["version"] = parse_version(entry.get("first_line"))
    if os.path.basename(name).lower().startswith("nvcc"):
        release, build = parse_nvcc(text)
        entry["cuda_release"] = release
        entry["cuda_build"] = build
        if release:
            entry["version"] = release
    return entry


def run_all(jobs, timeout):
    """``jobs``: {key: (name, path)}.  Runs them in daemon threads; returns {key: entry}."""
    results = {}
    lock = threading.Lock()

    def work(key, name, path):
        try:
            entry = probe_tool(name, path, timeout)
        except Exception as exc:  # a thread must always leave a result
            entry = {"found": path is not None, "path": path, "error": "%s: %s" % (type(exc).__name__, exc)}
        with lock:
            results[key] = entry

    threads = []
    for key, (name, path) in jobs.items():
        t = threading.Thread(target=work, args=(key, name, path), name="tvwizard-" + key)
        t.daemon = True
        t.start()
        threads.append(t)
    deadline = time.monotonic() + timeout + 3.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        out = dict(results)
    for key, (_name, path) in jobs.items():
        if key not in out:
            out[key] = {"found": path is not None, "path": path, "timed_out": True, "error": "did not finish"}
    return out


def read_cuda_version(root):
    """The toolkit version from ``version.json`` (CUDA 11.1+) or ``version.txt``."""
    try:
        with open(os.path.join(root, "version.json")) as fh:
            data = json.load(fh)
        v = data.get("cuda", {}).get("version")
        if v:
            return str(v)
    except (OSError, ValueError, AttributeError):
        pass
    try:
        with open(os.path.join(root, "version.txt")) as fh:
            m = re.search(r"(\d+\.\d+(?:\.\d+)*)", fh.read(4096))
        if m:
            return m.group(1)
    except OSError:
        pass
    return None


def describe_cuda_dir(path):
    info = {"exists": False, "is_dir": False, "nvcc": None, "lib64": False, "version_file": None}
    info["exists"] = os.path.exists(path)
    info["is_dir"] = os.path.isdir(path)
    if not info["is_dir"]:
        return info
    nvcc = os.path.join(path, "bin", "nvcc.exe" if WINDOWS else "nvcc")
    if os.path.isfile(nvcc):
        info["nvcc"] = nvcc
    lib = os.path.join(path, "lib", "x64") if WINDOWS else os.path.join(path, "lib64")
    info["lib64"] = os.path.isdir(lib)
    info["version_file"] = read_cuda_version(path)
    return info


def run(ctx):
    opts = ctx.options or {}
    names = list(opts.get("tools") or TOOLS)
    try:
        timeout = float(opts.get("timeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        timeout = DEFAULT_TIMEOUT
    data = {"tools": {}, "cuda_env": {}}

    jobs = {}
    with ctx.step("which") as d:
        for name in names:
            try:
                path = shutil.which(name)
            except Exception:
                path = None
            jobs[name] = (name, path)
        d["found"] = sorted(n for n, (_, p) in jobs.items() if p)

    with ctx.step("cuda_env") as d:
        for var in ("CUDA_HOME", "CUDA_PATH"):
            value = os.environ.get(var)
            entry = {"set": value is not None}
            if value is not None:
                entry["value"] = value
                try:
                    entry.update(describe_cuda_dir(value))
                except Exception as exc:
                    entry["error"] = "%s: %s" % (type(exc).__name__, exc)
                nvcc = entry.get("nvcc")
                path_nvcc = jobs.get("nvcc", (None, None))[1]
                same = False
                if nvcc and path_nvcc:
                    try:
                        same = os.path.realpath(nvcc) == os.path.realpath(path_nvcc)
                    except (OSError, ValueError):
                        same = False
                if nvcc and not same:
                    jobs[var + ":nvcc"] = ("nvcc", nvcc)
            data["cuda_env"][var] = entry
        d["set"] = sorted(k for k, v in data["cuda_env"].items() if v["set"])

    if not WINDOWS:
        with ctx.step("usr_local_cuda") as d:
            path = "/usr/local/cuda"
            entry = {"exists": False, "is_symlink": False, "link_target": None, "realpath": None}
            entry["is_symlink"] = os.path.islink(path)
            if entry["is_symlink"]:
                with contextlib.suppress(OSError):
                    entry["link_target"] = os.readlink(path)
            if os.path.exists(path):
                entry["realpath"] = os.path.realpath(path)
            entry.update(describe_cuda_dir(path))
            entry.pop("is_dir", None)
            data["usr_local_cuda"] = entry
            d.update(entry)

    with ctx.step("versions") as d:
        results = run_all({k: v for k, v in jobs.items() if v[1]}, timeout)
        for key, (_name, path) in jobs.items():
            entry = results.get(key) or {"found": False, "path": None, "realpath": None, "version": None}
            if ":" in key:
                data["cuda_env"][key.split(":")[0]]["nvcc_tool"] = entry
            else:
                data["tools"][key] = entry
            if entry.get("timed_out"):
                ctx.log("%s --version: no answer after %g s, killed" % (path, timeout))
        d["timed_out"] = sorted(k for k, v in results.items() if v.get("timed_out"))
        d["versions"] = {k: v.get("version") for k, v in results.items()}
    return data
