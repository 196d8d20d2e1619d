"""Writing a report file: whole or not at all, and never over something that is not a file.

``tvwizard report -o PATH`` writes a regular file atomically (a temp file beside it, renamed
over it), so a ``fleet`` reader never sees half a report.  But a rename *replaces* what the
path names, so it is used only where that is a regular file or nothing yet:

- a device (``/dev/null``, ``/dev/full``, a tty), a FIFO or a socket is written to directly,
  never replaced (run as root, a rename would turn ``/dev/null`` into a regular file);
- a symlink is followed: the file it points to is replaced, the link stays a link;
- an existing file keeps its mode (a ``0600`` file stays ``0600``) and, where allowed, its
  owner; a new file gets the usual ``0666`` less the umask, or ``0600`` for an unredacted
  report (it may hold secrets);
- a directory, an unwritable folder or a full disk is one clear :class:`ReportWriteError`,
  and no temp file is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["ReportWriteError", "write_report"]


class ReportWriteError(OSError):
    """The report could not be written; ``str()`` is one line for the user."""


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_report(path: str | os.PathLike[str], text: str, *, private: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path``; returns the path written.  ``private``: a new file is 0600."""
    given = Path(path)
    data = text.encode("utf-8")
    try:
        st = os.stat(given)  # follows symlinks: what the path really names
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ReportWriteError(f"cannot write {given}: {_why(exc)}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ReportWriteError(f"cannot write {given}: it is a directory (give a file name inside it)")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(given, data)
        return given
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    if st is not None and not os.access(target, os.W_OK):
        raise ReportWriteError(f"cannot write {given}: the file is read-only")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportWriteError(f"cannot create the folder {folder}: {_why(exc)}") from None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):  # only root may give a file away
                    os.fchown(fd, st.st_uid, st.st_gid)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o600 if private else 0o666 & ~umask)
        finally:
            os.close(fd)
        os.replace(tmp, target)  # a fleet reader never sees half a report
        tmp = None
    except OSError as exc:
        raise ReportWriteError(f"cannot write {given}: {_why(exc)}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def _write_in_place(path: Path, data: bytes) -> None:
    """Write to a device, FIFO or socket as it is: opened without blocking (a FIFO nobody reads
    is an error, not a hang), then written to normally."""
    flags = os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise ReportWriteError(f"cannot write {path}: a FIFO that nothing reads from") from None
        raise ReportWriteError(f"cannot write {path}: {_why(exc)}") from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise ReportWriteError(f"cannot write {path}: {_why(exc)}") from None
    finally:
        os.close(fd)
