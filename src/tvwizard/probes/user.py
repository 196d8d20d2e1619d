"""Probe ``user``: what failed for *the user*: their import, their command, their traceback.

People arrive with their own error (``python train.py`` died, ``import basicsr`` raised), not
with ``import torchvision``.  This probe reproduces it in the target, under the same
isolation as every probe (tvwizard's runner: own process group, time limit, bounded output,
no TTY), and says which installed distribution owns each file of the traceback.

Options (exactly one of the first three):

``imports``   ``["basicsr", ...]``: import each module, in order, in this process; stop at
              the first that raises.
``command``   ``["python", "train.py", ...]``: run the user's own command (argv, never a
              shell) with this interpreter standing in for ``python``/``python3``; its
              stdout and stderr go to the probe's log, stderr also to a bounded buffer,
              from which the first traceback is read.
``failure``   a failure already parsed (``tvwizard explain``: a pasted traceback); only its
              files' owners are looked up.

Data::

    {"source": "import"|"command"|"pasted",
     "request": ["basicsr"] | ["python", "train.py"] | null,
     "returncode": int|null,                    # command only
     "failure": {"type", "message", "frames": [{"file", "line", "function", "code"}],
                 "traceback", "module"?, "name"?} | null,
     "owners": {file: {"dist", "version", "record_path", "location", "file", "hash_ok"} | null}}

``owners`` is read from each distribution's RECORD (no import): the file as RECORD lists it,
and whether its sha256 still matches.  A file that is here but in no RECORD (the user's own
script) maps to ``{"dist": null, "file": <absolute path>}``; a file not found here, to null.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading

from . import _traceback
from ._api import format_exception

STDERR_HEAD = 64 * 1024  # the first traceback is what matters: keep the start …
STDERR_TAIL = 256 * 1024  # … and the end (a failure after a long log)
PYTHON_NAMES = ("python", "python3", "python%d.%d" % sys.version_info[:2])


def _import_failure(exc):
    """The exception as a failure: parsed frames from its own traceback, plus the names
    ImportError carries (the module that was not found, the name that could not be imported)."""
    data = format_exception(exc)
    parsed = _traceback.parse(data["traceback"]) or {}
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep
    failure = {
        "type": data["type"],
        "message": data["message"],
        # the probe's own frame (the `__import__` call) is tvwizard's, not the user's
        "frames": [f for f in parsed.get("frames") or [] if not str(f.get("file", "")).startswith(here)],
        "traceback": data["traceback"][-_traceback.MAX_TEXT :],
    }
    if isinstance(exc, ImportError):
        if getattr(exc, "name", None):
            failure["module"] = exc.name
        if getattr(exc, "path", None):
            failure["module_path"] = exc.path
    return failure


def run_imports(ctx, modules):
    for name in modules:
        with ctx.step("import:" + name) as out:
            try:
                # __import__, as an import statement does: CPython then drops its own importlib
                # frames from the traceback, so it reads as the user's `python -c "import x"`
                __import__(name)
            except BaseException as exc:  # SystemExit from a package's import counts too
                if isinstance(exc, KeyboardInterrupt):
                    raise
                out["failure"] = _import_failure(exc)
                out["ok"] = False
                return out["failure"]
            out["ok"] = True
    return None


class _BoundedTee:
    """Read a stream to its end: pass it on to ``out`` (our stdout or stderr, tvwizard's log,
    bounded there), keep its head and tail here when ``keep`` (stderr: the traceback is there).

    The command never holds tvwizard's own pipes, only these: a process it leaves behind
    cannot keep tvwizard waiting for the end of a stream."""

    def __init__(self, stream, out, keep=True):
        self.stream = stream
        self.out = out
        self.keep = keep
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        out = getattr(self.out, "buffer", None)
        while True:
            try:
                chunk = os.read(self.stream.fileno(), 65536)
            except OSError:
                break
            if not chunk:
                break
            if out is not None:
                try:
                    out.write(chunk)
                    out.flush()
                except (OSError, ValueError):
                    out = None
            if not self.keep:
                continue
            room = STDERR_HEAD - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            self.tail += chunk
            if len(self.tail) > STDERR_TAIL:
                self.dropped += len(self.tail) - STDERR_TAIL
                del self.tail[: len(self.tail) - STDERR_TAIL]

    def text(self):
        joined = bytes(self.head)
        if self.dropped:
            joined += b"\n[tvwizard: %d bytes not kept]\n" % self.dropped
        return (joined + bytes(self.tail)).decode("utf-8", "replace")


def command_argv(argv):
    """The user's argv with this interpreter for a leading ``python``/``python3``: the command
    runs in the target, as the user's ``python`` would if the target's env were active."""
    argv = [str(a) for a in argv]
    if argv and argv[0] in PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def run_command(ctx, argv):
    argv = command_argv(argv)
    env = dict(os.environ)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    with ctx.step("command") as out:
        out["argv"] = argv
        try:
            # Same process group as this probe: when tvwizard's limit passes, it kills the
            # group, the command and whatever it started included.
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, close_fds=True
            )
        except OSError as exc:
            out["failure"] = {
                "type": type(exc).__name__,
                "message": "could not start %s: %s" % (argv[0] if argv else "", exc.strerror or exc),
                "frames": [],
                "traceback": "",
            }
            out["returncode"] = None
            return out["failure"], None
        tee = _BoundedTee(proc.stderr, sys.stderr)
        echo = _BoundedTee(proc.stdout, sys.stdout, keep=False)
        returncode = proc.wait()
        # A child that forked and left a grandchild holding its streams must not keep us here.
        tee.thread.join(2.0)
        echo.thread.join(0.5)
        out["returncode"] = returncode
        failure = _traceback.parse(tee.text()) if returncode != 0 else None
        if returncode != 0 and failure is None:
            failure = {
                "type": "",
                "message": "exited with code %s" % returncode,
                "frames": [],
                "traceback": tee.text()[-4000:],
            }
        out["failure"] = failure
        return failure, returncode


# -- owners ------------------------------------------------------------------------------
def _dist_infos(entry):
    try:
        names = os.listdir(entry)
    except OSError:
        return []
    return [os.path.join(entry, n) for n in sorted(names) if n.endswith(".dist-info")]


def _headers(meta):
    out = {}
    try:
        with open(os.path.join(meta, "METADATA"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if sep and key in ("Name", "Version") and key not in out:
                    out[key] = value.strip()
    except OSError:
        pass
    return out


def _record_rows(meta):
    try:
        with open(os.path.join(meta, "RECORD"), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.rstrip("\n").rsplit(",", 2)
                if len(parts) == 3:
                    yield parts[0].strip('"'), parts[1]
    except OSError:
        return


def _hash_ok(path, digest):
    """True/False: the file's sha256 matches RECORD's; None when RECORD has no hash."""
    algo, _, want = digest.partition("=")
    if algo != "sha256" or not want:
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return None
    return base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode("ascii") == want


def _candidates(path):
    """(sys.path entry, path relative to it) pairs where ``path`` could live in this env."""
    out = []
    norm = os.path.normpath(path) if os.path.isabs(path) else None
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        base = os.path.normpath(os.path.abspath(entry))
        if norm is not None and norm.startswith(base + os.sep):
            out.append((base, os.path.relpath(norm, base)))
    rel = _traceback.site_relative(path)
    if rel:  # a pasted path from another machine, or redacted ("~/…"): look it up by its package path
        for entry in sys.path:
            if entry and os.path.isdir(entry) and os.path.isfile(os.path.join(entry, rel)):
                out.append((os.path.normpath(os.path.abspath(entry)), os.path.normpath(rel)))
    return out


def owner_of(path, cache=None):
    """The distribution whose RECORD lists ``path``, or None."""
    cache = {} if cache is None else cache
    for entry, rel in _candidates(path):
        rel_posix = rel.replace(os.sep, "/")
        for meta in _dist_infos(entry):
            rows = cache.get(meta)
            if rows is None:
                rows = cache[meta] = dict(_record_rows(meta))
            if rel_posix in rows:
                head = _headers(meta)
                return {
                    "dist": head.get("Name") or os.path.basename(meta).split("-")[0],
                    "version": head.get("Version"),
                    "record_path": rel_posix,
                    "location": entry,
                    "file": os.path.join(entry, rel),
                    "hash_ok": _hash_ok(os.path.join(entry, rel), rows[rel_posix]),
                }
    return None


def owners(failure):
    cache = {}
    out = {}
    for frame in (failure or {}).get("frames") or []:
        path = frame.get("file")
        if path and path not in out and not path.startswith("<"):
            try:
                out[path] = owner_of(path, cache)
                if out[path] is None and os.path.isfile(path):  # here, but no RECORD lists it: the user's own
                    out[path] = {"dist": None, "file": os.path.abspath(path)}
            except Exception as exc:  # one odd path must not lose the others
                out[path] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    return out


def _announce(ctx, data):
    """What the user asked for, sent first: it survives a command that hangs or crashes."""
    ctx.fact("source", data["source"])
    ctx.fact("request", data["request"])


def run(ctx):
    opts = ctx.options
    data = {"source": None, "request": None, "returncode": None, "failure": None, "owners": {}}
    if opts.get("imports"):
        data["source"] = "import"
        data["request"] = [str(m) for m in opts["imports"]]
        _announce(ctx, data)
        data["failure"] = run_imports(ctx, data["request"])
    elif opts.get("command"):
        data["source"] = "command"
        data["request"] = [str(a) for a in opts["command"]]
        _announce(ctx, data)
        data["failure"], data["returncode"] = run_command(ctx, data["request"])
    elif opts.get("failure"):
        data["source"] = "pasted"
        data["failure"] = opts["failure"]
    if data["failure"]:
        with ctx.step("owners") as out:
            data["owners"] = owners(data["failure"])
            out["count"] = len(data["owners"])
    return data
