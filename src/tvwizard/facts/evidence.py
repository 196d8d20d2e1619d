"""Evidence: the probes' data, with accessors rules can rely on.

Rules never poke at raw probe dicts directly: the accessors here know where each fact can
come from (a live import, or static metadata read without importing) and tolerate probes
that did not run, crashed, or are from an older tvwizard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tvwizard.facts.steps import CudaStep, ExtensionFile, ExtensionsStep, ImportStep, LiveStep, NmsStep, read_step
from tvwizard.model import ProbeRun, Report, RunStatus, StepResult, Target

if TYPE_CHECKING:  # the knowledge base (and packaging) loads on the first build question only
    from tvwizard.facts import knowledge

_T = TypeVar("_T")


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@dataclass
class Evidence:
    target: Target
    probes: dict[str, ProbeRun] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # tvwizard's view of the user's env (for fixes)

    @classmethod
    def of(cls, report: Report) -> Evidence:
        """The evidence a finished report rests on (tvwizard's own environment is not in a report)."""
        return cls(target=report.target, probes={p.name: p for p in report.probes}, system=dict(report.system))

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> Evidence:
        """The evidence a saved report holds (``check --json``, ``report -o x.json``, a fleet node's
        file), so ``report/``, ``compare`` and ``fleet`` read it through the same accessors as the rules.

        Built on the report model's ``from_dict`` (:class:`~tvwizard.model.Target`,
        :class:`~tvwizard.model.ProbeRun`) part by part: a probe an older or damaged file cannot
        give back is left out (its facts read as unknown) instead of losing the whole report.
        """
        target = _part(Target.from_dict, report.get("target")) or Target(python="")
        probes: dict[str, ProbeRun] = {}
        raw_probes = report.get("probes")
        for raw in raw_probes if isinstance(raw_probes, list) else []:
            run = _part(ProbeRun.from_dict, raw)
            if run is not None and isinstance(run.name, str):
                probes.setdefault(run.name, run)
        system = report.get("system")
        return cls(target=target, probes=probes, system=dict(system) if isinstance(system, dict) else {})

    # -- probes ---------------------------------------------------------------------------
    def has(self, probe: str) -> bool:
        run = self.probes.get(probe)
        return run is not None and run.status is not RunStatus.SKIPPED

    def data(self, probe: str) -> dict[str, Any]:
        run = self.probes.get(probe)
        return run.data if run is not None and isinstance(run.data, dict) else {}

    def step(self, name: str) -> StepResult | None:
        run = self.probes.get("live")
        return run.step(name) if run is not None else None

    def live_steps(self) -> list[LiveStep]:
        """The live probe's steps, in the order they ran, each through its typed reader (facts/steps.py)."""
        run = self.probes.get("live")
        return [read_step(s) for s in run.steps] if run is not None else []

    def live_step(self, name: str) -> LiveStep | None:
        step = self.step(name)
        return read_step(step) if step is not None else None

    def import_step(self, name: str) -> ImportStep | None:
        """``import_torch``, ``import_torchvision`` or ``second_import``; None when it did not run."""
        step = self.live_step(name)
        return step if isinstance(step, ImportStep) else None

    def extensions_step(self) -> ExtensionsStep | None:
        step = self.live_step("extensions")
        return step if isinstance(step, ExtensionsStep) else None

    def torch_cuda_step(self) -> CudaStep | None:
        """The live ``cuda`` step (``torch.cuda`` as the target sees it)."""
        step = self.live_step("cuda")
        return step if isinstance(step, CudaStep) else None

    def nms_steps(self) -> list[NmsStep]:
        """nms on the CPU and on each GPU, in order."""
        return [s for s in self.live_steps() if isinstance(s, NmsStep)]

    def live_cwd(self) -> str:
        """The working folder the live import ran in (where a shadowing file would be found)."""
        return str(self.data("live").get("cwd") or self.target.cwd)

    def step_data(self, name: str) -> dict[str, Any]:
        step = self.step(name)
        return step.data if step is not None and isinstance(step.data, dict) else {}

    # -- interpreter and environment -------------------------------------------------------
    def python_version(self) -> str:
        """The target's Python version ("3.11.7"): the target's own record, else the interpreter probe's."""
        return self.target.version or str(self.data("interpreter").get("version") or "")

    def _interpreter_part(self, key: str) -> dict[str, Any]:
        part = self.data("interpreter").get(key)
        return part if isinstance(part, dict) else {}

    def python_info(self) -> dict[str, Any]:
        """The interpreter probe's ``python`` facts (version, executable, prefix, base_prefix …)."""
        return self._interpreter_part("python")

    def environment_info(self) -> dict[str, Any]:
        """The interpreter probe's ``environment`` facts (env_kind, in_venv, pyvenv_cfg …)."""
        return self._interpreter_part("environment")

    def platform_info(self) -> dict[str, Any]:
        """The interpreter probe's ``platform`` facts (system, release, machine, libc …)."""
        return self._interpreter_part("platform")

    def env_kind(self) -> str:
        """venv, conda, uv, pyenv, system…: the interpreter probe's answer, else the target's."""
        kind = self.environment_info().get("env_kind") or self.data("interpreter").get("env_kind")
        return str(kind or self.target.env_kind or "")

    def marker_env(self) -> dict[str, Any]:
        """PEP 508 marker values of the target (for Requires-Dist markers); {} when unknown."""
        env = self.data("interpreter").get("marker_env")
        return env if isinstance(env, dict) else {}

    def sys_path_entries(self) -> list[dict[str, Any]]:
        """The interpreter probe's sys.path, in order: each entry's ``path``, ``abs``, ``index``,
        ``origin`` (why it is there: cwd, pythonpath, user_site, pth, site…), ``pth``, ``python``
        (another interpreter's site-packages)."""
        entries = self.data("interpreter").get("sys_path")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def sys_path_entry(self, location: str) -> dict[str, Any]:
        """The interpreter probe's record of the sys.path entry ``location`` (its ``origin``…)."""
        return next((e for e in self.sys_path_entries() if location in (e.get("path"), e.get("abs"))), {})

    def sys_path_entry_at(self, index: object) -> dict[str, Any]:
        """The sys.path entry at position ``index`` (the resolution probe names entries so); {} when unknown."""
        return next((e for e in self.sys_path_entries() if e.get("index") == index), {})

    def env_vars(self) -> dict[str, str | None]:
        """The allowlisted variables as the target sees them (envvars probe): name -> value."""
        found = self.data("envvars").get("vars")
        out: dict[str, str | None] = {}
        for name, entry in found.items() if isinstance(found, dict) else ():
            value = entry.get("value") if isinstance(entry, dict) else None
            out[str(name)] = None if value is None else str(value)
        return out

    # -- packages -------------------------------------------------------------------------
    def dists(self) -> list[dict[str, Any]]:
        dists = self.data("distributions").get("dists")
        return [d for d in dists if isinstance(d, dict)] if isinstance(dists, list) else []

    def dist(self, name: str) -> dict[str, Any] | None:
        """The first installed distribution of that name (sys.path order), or None."""
        want = _norm(name)
        for d in self.dists():
            if _norm(str(d.get("name", ""))) == want:
                return d
        return None

    def dist_location(self, dist: dict[str, Any]) -> str | None:
        """The sys.path entry a distribution was found in."""
        locations = self.dist_locations()
        loc = dist.get("loc")
        if not isinstance(loc, int) or not 0 <= loc < len(locations):
            return None
        return locations[loc]

    def duplicates(self, key: str) -> list[dict[str, Any]]:
        """Every installed copy of distribution ``key`` when there is more than one, sys.path order."""
        found = self.data("distributions").get("duplicates")
        copies = found.get(key) if isinstance(found, dict) else None
        return [c for c in copies if isinstance(c, dict)] if isinstance(copies, list) else []

    def dist_locations(self) -> list[str]:
        """The sys.path entries the distributions probe searched, in order (a dist's ``loc`` indexes it)."""
        locations = self.data("distributions").get("locations")
        return [str(x) for x in locations] if isinstance(locations, list) else []

    def focus_copies(self) -> dict[str, list[dict[str, Any]]]:
        """The packages read closely (torch, torchvision, numpy, nvidia-*): every installed copy of
        each, sys.path order, with its ``record`` (``native_missing``, ``native_changed`` …)."""
        focus = self.data("distributions").get("focus")
        out: dict[str, list[dict[str, Any]]] = {}
        for key, copies in focus.items() if isinstance(focus, dict) else ():
            out[str(key)] = [c for c in copies if isinstance(c, dict)] if isinstance(copies, list) else []
        return out

    def shared_files(self) -> list[dict[str, Any]]:
        """Files two or more distributions' RECORDs list: ``path`` (as RECORD writes it), ``loc``
        (index into :meth:`dist_locations`), ``owners`` (``key``, ``name``, ``version``)."""
        found = self.data("distributions").get("shared_files")
        return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []

    def record_missing(self, package: str) -> list[str]:
        """Compiled files ``package``'s RECORD lists but the disk lacks (``torchvision.libs/libjpeg…``)."""
        copies = self.focus_copies().get(package) or [{}]
        record = copies[0].get("record")
        missing = record.get("native_missing") if isinstance(record, dict) else None
        return [str(p) for p in missing] if isinstance(missing, list) else []

    def conda_records(self) -> list[dict[str, Any]]:
        """The env's conda-meta records (name, version, channel), when conda manages it."""
        conda = self.data("distributions").get("conda")
        records = conda.get("records") if isinstance(conda, dict) else None
        return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []

    def resolutions(self) -> dict[str, dict[str, Any]]:
        """The resolution probe's record per import name: ``origin``, ``spec``, ``candidates`` …"""
        found = self.data("resolution").get("packages")
        return {str(k): v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}

    def version_py_record(self, package: str) -> dict[str, Any]:
        """The distributions probe's record of ``<package>/version.py``: ``values``, ``local_tag``,
        ``cuda_from_tag``, ``path`` …; {} when it was not read."""
        records = self.data("distributions").get("version_py")
        record = records.get(package) if isinstance(records, dict) else None
        return record if isinstance(record, dict) else {}

    def version_py(self, package: str) -> dict[str, Any]:
        """``<package>/version.py`` as read by the distributions probe (never imported)."""
        values = self.version_py_record(package).get("values")
        return dict(values) if isinstance(values, dict) else {}

    def import_origin(self, package: str) -> str | None:
        """The file ``import <package>`` loads: the resolution probe's answer, else the file the
        live import really loaded."""
        origin = self.resolutions().get(package, {}).get("origin")
        origin = origin or self.data("resolution").get(f"origin:{package}")
        origin = origin or self.step_data(f"import_{package}").get("file")
        return str(origin) if origin else None

    def torch_version(self) -> str | None:
        """torch's full version with local tag: from the live import, else version.py, else metadata."""
        live = self.step_data("import_torch").get("version")
        if live:
            return str(live)
        vp = self.version_py("torch").get("__version__")
        if vp:
            return str(vp)
        d = self.dist("torch")
        return str(d["version"]) if d and d.get("version") else None

    def torch_cuda(self) -> str | None:
        live = self.step_data("import_torch")
        if live.get("ok"):
            return live.get("cuda")
        return self.version_py("torch").get("cuda")

    def torchvision_version(self) -> str | None:
        live = self.step_data("import_torchvision").get("version")
        if live:
            return str(live)
        vp = self.version_py("torchvision").get("__version__")
        if vp:
            return str(vp)
        d = self.dist("torchvision")
        return str(d["version"]) if d and d.get("version") else None

    def torchvision_cuda(self) -> str | None:
        """torchvision's CUDA version as "13.0", from version.py or the loaded ops."""
        for cuda in (
            self.version_py("torchvision").get("cuda"),
            self.version_py_record("torchvision").get("cuda_from_tag"),
            self.step_data("import_torchvision").get("cuda"),
            self.step_data("extensions").get("cuda_version"),
        ):
            text = _cuda_text(cuda)
            if text:
                return text
        return None

    def torch_installed(self) -> bool | None:
        """True/False when known; None when no probe could tell."""
        if self.has("distributions"):
            if self.dist("torch") is not None:
                return True
            origin = self.resolutions().get("torch", {}).get("origin")
            return bool(origin) or bool(self.step_data("import_torch").get("ok"))
        if self.step("import_torch") is not None:
            err = (self.step_data("import_torch").get("error") or {}).get("message", "")
            return "No module named 'torch'" not in err
        return None

    def torch_build(self) -> knowledge.Build | None:
        """torch's release and build variant (CPU / CUDA x.y / ROCm), from the best source."""
        version = self.torch_version()
        if not version:
            return None
        live = self.step_data("import_torch")
        if live.get("ok"):
            return _parse(version, live.get("cuda"), live.get("hip"), True)
        vp = self.version_py("torch")
        return _parse(version, vp.get("cuda"), vp.get("hip"), "cuda" in vp)

    def torchvision_build(self) -> knowledge.Build | None:
        version = self.torchvision_version()
        if not version:
            return None
        return _parse(version, self.torchvision_cuda(), None, False)

    def torchvision_installed(self) -> bool | None:
        if self.has("distributions"):
            if self.dist("torchvision") is not None:
                return True
            return bool(self.step_data("import_torchvision").get("ok"))
        if self.step("import_torchvision") is not None:
            err = (self.step_data("import_torchvision").get("error") or {}).get("message", "")
            return "No module named 'torchvision'" not in err
        return None

    # -- live outcome ----------------------------------------------------------------------
    def torch_imported(self) -> bool:
        """``import torch`` worked in the live probe (False when it failed or did not run)."""
        return bool(self.step_data("import_torch").get("ok"))

    def torchvision_imported(self) -> bool:
        return bool(self.step_data("import_torchvision").get("ok"))

    def extension_errors(self) -> list[ExtensionFile]:
        """The compiled torchvision extensions that did not load, with the loader's message."""
        step = self.extensions_step()
        return step.unloaded if step is not None else []

    def _native_list(self, key: str) -> list[dict[str, Any]]:
        found = self.data("native").get(key)
        return [x for x in found if isinstance(x, dict)] if isinstance(found, list) else []

    def unresolved_libraries(self) -> list[dict[str, Any]]:
        """Libraries the loader model could not find: ``name``, ``needed_by``, ``driver`` (comes with a driver)."""
        return self._native_list("unresolved")

    def native_unsupported_on(self) -> str | None:
        """The platform the native probe does not model (macOS, Windows), or None where it ran."""
        data = self.data("native")
        return str(data.get("platform")) if data.get("supported") is False else None

    def library_overrides(self) -> list[dict[str, Any]]:
        """Libraries loaded from LD_LIBRARY_PATH/LD_PRELOAD instead of torch's own copies (``used_by`` set)."""
        return [o for o in self._native_list("overrides") if o.get("used_by")]

    def ld_library_path(self) -> list[str]:
        """LD_LIBRARY_PATH's entries as the native probe read them, in order."""
        return [str(e["entry"]) for e in self.ld_library_path_entries() if e.get("entry")]

    def ld_library_path_entries(self) -> list[dict[str, Any]]:
        """LD_LIBRARY_PATH as the native probe read it: each ``entry`` as written and its ``path``."""
        return self._native_list("ld_library_path")

    def ld_preload(self) -> list[dict[str, Any]]:
        """LD_PRELOAD's libraries as the native probe checked them: ``path``, ``problem``, ``detail``."""
        return self._native_list("ld_preload")

    # -- what the user ran (``--import``, ``-- COMMAND``, a pasted traceback) ---------------
    def user_request(self) -> dict[str, Any]:
        """The user probe's record: ``source`` (import, command, pasted), ``request``, ``failure``
        (the first exception: ``type``, ``message``, ``frames``, ``traceback``), ``owners``,
        ``returncode``; {} when the user asked for nothing."""
        return self.data("user")

    def toolchain_part(self, key: str) -> dict[str, Any]:
        """One part of the toolchain probe's data: ``cuda_env``, ``usr_local_cuda``, ``tools``."""
        part = self.data("toolchain").get(key)
        return part if isinstance(part, dict) else {}

    def native_files(self, *packages: str) -> list[dict[str, Any]]:
        """The native probe's compiled files of ``packages`` (of every package it read when none
        are named), in the probe's order: each with its ``needed`` libraries, ``problem``, ``cuda_arch``."""
        found = self.data("native").get("packages") or {}
        return [
            f
            for name in packages or tuple(found)
            for f in (found.get(name) or {}).get("files") or []
            if isinstance(f, dict)
        ]


def _part(from_dict: Callable[[dict[str, Any]], _T], raw: object) -> _T | None:
    """``from_dict(raw)``, or None where ``raw`` is not the shape the model writes."""
    if not isinstance(raw, dict):
        return None
    try:
        return from_dict(raw)
    except (KeyError, TypeError, ValueError):
        return None


def _cuda_text(value: object) -> str | None:
    """ "13.0" from "13.0", 13000 or "13000" (:func:`tvwizard.gpu.cuda_int_to_str`); None for -1/None/garbage."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.isdigit():
        from tvwizard.gpu import cuda_int_to_str

        return cuda_int_to_str(int(text))
    return text if text and text[0].isdigit() else None


def _parse(version: str, cuda: object, hip: object, known: bool) -> knowledge.Build | None:
    from tvwizard.facts import knowledge

    try:
        return knowledge.parse_local(
            version, cuda=_cuda_text(cuda), hip=str(hip) if hip else None, build_info_known=known
        )
    except ValueError:  # not PEP 440 (a source build's odd version)
        return None


def clean_torch_warning(text: str) -> str:
    """torch's warning without its "CUDA initialization: " prefix and "(Triggered internally
    at <source file>)" suffix: the sentence a person needs."""
    # the suffix may be cut short where the text was bounded: then it runs to the end
    text = re.sub(r"\s*\(Triggered internally at (?:[^)]*\)\.?|[^)]*$)", "", str(text))
    return text.replace("CUDA initialization: ", "").strip()


def brief(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: whole sentences where they fit, else cut with "…"."""
    if len(text) <= limit:
        return text
    end = text.rfind(". ", 0, limit)
    if end > limit // 3:
        return text[: end + 1]
    return text[: limit - 1].rstrip() + "…"
