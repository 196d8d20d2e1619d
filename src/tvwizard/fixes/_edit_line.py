"""Edit one line of a Python file, keeping a backup: the "source edit" fix for a removed API.

Run by the *target* interpreter in isolated mode (``python -I _edit_line.py FILE LINE OLD NEW``),
as ``fix --apply`` runs every fix: an argv, no shell, after the user's yes.  Standard library
only.  It changes line LINE only if that line still contains OLD (the file may have changed
since the diagnosis), writes the new file atomically next to the old one, and keeps the
original as ``FILE.tvwizard-bak`` (an older backup is never overwritten: it holds the
original).  Undo: ``mv -f FILE.tvwizard-bak FILE``.
"""

import os
import shutil
import sys
import tempfile

BACKUP_SUFFIX = ".tvwizard-bak"


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: _edit_line.py FILE LINE OLD NEW\n")
        return 2
    path, line_text, old, new = argv
    try:
        lineno = int(line_text)
        with open(path, "rb") as fh:
            lines = fh.read().splitlines(keepends=True)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"cannot read {path}: {exc}\n")
        return 1
    if not 1 <= lineno <= len(lines):
        sys.stderr.write(f"{path} has no line {lineno}\n")
        return 1
    target = lines[lineno - 1].decode("utf-8", "surrogateescape")
    if old not in target:
        sys.stderr.write(f"line {lineno} of {path} no longer contains {old!r}; nothing changed\n")
        return 1
    lines[lineno - 1] = target.replace(old, new, 1).encode("utf-8", "surrogateescape")
    backup = path + BACKUP_SUFFIX
    if not os.path.exists(backup):
        shutil.copy2(path, backup)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tvwizard-edit-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"".join(lines))
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        sys.stderr.write(f"cannot write {path}: {exc}\n")
        return 1
    print(f"edited {path} line {lineno}; the original is {backup}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
