"""Which removed, renamed or moved API an error names: the table in ``data/removed_apis.json``.

A downstream package (BasicSR, an old training script) imports something torchvision no
longer has: torchvision is healthy, the caller is out of date.  The table says what went,
in which release, what replaces it, and the one-line edit that moves an import to the
replacement; ``docs/knowledge.md`` cites where each fact comes from.

Pure functions over data: no probe, no I/O beyond reading the table once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

DATA_PACKAGE = "tvwizard.facts"
DATA_NAME = "removed_apis.json"

_NO_MODULE = re.compile(r"No module named '([^']+)'")
_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '([^']+)'")
_CANNOT_IMPORT_OLD = re.compile(r"cannot import name '([^']+)'$")  # Python < 3.7: no "from"
_NO_ATTRIBUTE = re.compile(r"module '([^']+)' has no attribute '([^']+)'")


@dataclass(frozen=True)
class Edit:
    """A one-line source edit: ``old`` becomes ``new`` on a line that holds ``only_if``."""

    old: str
    new: str
    only_if: str = ""

    def applies_to(self, line: str) -> bool:
        return self.old in line and (not self.only_if or self.only_if in line)

    def apply(self, line: str) -> str:
        return line.replace(self.old, self.new, 1)


@dataclass(frozen=True)
class RemovedApi:
    id: str
    kind: str  # "module" | "name" | "optional"
    provider: str  # the distribution that removed it (or whose feature needs the package)
    module: str = ""
    name: str = ""
    message: str = ""  # kind "optional": the text of the error
    package: str = ""  # kind "optional": what to install
    deprecated_in: str | None = None
    removed_in: str | None = None
    removed_in_is_bound: bool = False  # "gone by then": the exact release is not known
    replacement: str = ""
    edit: Edit | None = None
    fixed_downstream: tuple[tuple[str, str], ...] = ()  # (distribution, first version without it)
    sources: tuple[str, ...] = field(default_factory=tuple)

    @property
    def what(self) -> str:
        """``torchvision.transforms.functional_tensor`` or ``PIL.PILLOW_VERSION``."""
        return f"{self.module}.{self.name}" if self.name else self.module

    def removed_phrase(self) -> str:
        """ "which torchvision removed in 0.17" / "… removed by 0.8.1"."""
        if not self.removed_in:
            return f"which {self.provider} no longer has"
        return f"which {self.provider} removed {'by' if self.removed_in_is_bound else 'in'} {self.removed_in}"


@dataclass(frozen=True)
class Match:
    """An error that names a table entry, and the import it was (``from M import N``)."""

    api: RemovedApi
    missing: str  # what the error says is missing, as it says it


@cache
def entries() -> tuple[RemovedApi, ...]:
    raw = json.loads(resources.files(DATA_PACKAGE).joinpath("data", DATA_NAME).read_text(encoding="utf-8"))
    out = []
    for e in raw["entries"]:
        edit = e.get("edit")
        out.append(
            RemovedApi(
                id=e["id"],
                kind=e["kind"],
                provider=e["provider"],
                module=e.get("module") or "",
                name=e.get("name") or "",
                message=e.get("message") or "",
                package=e.get("package") or "",
                deprecated_in=e.get("deprecated_in"),
                removed_in=e.get("removed_in"),
                removed_in_is_bound=bool(e.get("removed_in_is_bound")),
                replacement=e.get("replacement") or "",
                edit=Edit(edit["old"], edit["new"], edit.get("only_if", "")) if edit else None,
                fixed_downstream=tuple((d["dist"], d["version"]) for d in e.get("fixed_downstream") or []),
                sources=tuple(e.get("sources") or ()),
            )
        )
    return tuple(out)


def match(error_type: str, message: str) -> Match | None:
    """The table entry an exception names, or None.

    ``No module named 'M'`` (M or a submodule of it), ``cannot import name 'N' from 'M'``
    (a removed name, or a removed module imported as ``from parent import child``),
    ``module 'M' has no attribute 'N'``, and the messages of optional packages.
    """
    text = str(message or "")
    kind = str(error_type or "").rsplit(".", 1)[-1]
    for api in entries():
        if api.kind == "optional" and api.message and api.message in text:
            return Match(api, api.package)
    found = _NO_MODULE.search(text)
    if found:
        missing = found.group(1)
        for api in entries():
            if api.kind == "module" and (missing == api.module or missing.startswith(api.module + ".")):
                return Match(api, missing)
    pairs = [(m.group(2), m.group(1)) for m in (_CANNOT_IMPORT.search(text),) if m]
    pairs += [(m.group(1), m.group(2)) for m in (_NO_ATTRIBUTE.search(text),) if m]
    old = _CANNOT_IMPORT_OLD.search(text.strip())
    for module, name in pairs:
        for api in entries():
            if api.kind == "name" and api.module == module and api.name == name:
                return Match(api, f"{module}.{name}")
            if api.kind == "module" and api.module == f"{module}.{name}":
                return Match(api, api.module)
    if old and kind in ("ImportError", ""):
        for api in entries():  # "cannot import name 'PILLOW_VERSION'": old Pythons do not say from where
            if api.kind == "name" and api.name == old.group(1):
                return Match(api, f"{api.module}.{api.name}")
    return None


def by_id(api_id: str) -> RemovedApi | None:
    return next((a for a in entries() if a.id == api_id), None)


def as_dict(api: RemovedApi) -> dict[str, Any]:
    """For tests and ``--json`` consumers: the entry as the table has it."""
    return {
        "id": api.id,
        "kind": api.kind,
        "what": api.what,
        "provider": api.provider,
        "removed_in": api.removed_in,
        "replacement": api.replacement,
    }
