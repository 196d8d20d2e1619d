"""Rules on what failed for the user: their import, their command, their pasted traceback
(the ``user`` probe).

The root cause is named by provenance: the frame that made the failing import, and the
distribution whose RECORD lists that file ("basicsr 1.4.2 (`basicsr/data/degradations.py`,
line 8) imports …").  A removed API gets the fixes of :mod:`tvwizard.fixes.removed_api`;
any other failure is reported as what the user saw, folded under the root cause the other
rules found when the error is of a class one of them explains.
"""

from __future__ import annotations

from tvwizard.diagnosis import tracebacks
from tvwizard.diagnosis.rules import rule
from tvwizard.facts.evidence import Evidence
from tvwizard.facts.removed_apis import RemovedApi
from tvwizard.fixes import catalog
from tvwizard.fixes import removed_api as fixes
from tvwizard.model import Fact, Finding, Fix, RunStatus, Severity

SOURCES = {"import": "import", "command": "command", "pasted": "pasted traceback"}


def failing_frame(failure: dict) -> dict:
    """The innermost frame in real code (not ``<frozen importlib._bootstrap>``): for an import
    error, the line that made the failing import."""
    frames = [f for f in failure.get("frames") or [] if isinstance(f, dict)]
    real = [f for f in frames if not str(f.get("file") or "").startswith("<")]
    return (real or frames or [{}])[-1]


def _located(data: dict, frame: dict) -> dict | None:
    """Where the failing file is in the target (``file``), and its distribution when one owns it."""
    found = (data.get("owners") or {}).get(frame.get("file"))
    return found if isinstance(found, dict) and found.get("file") else None


def _owner(data: dict, frame: dict) -> dict | None:
    found = _located(data, frame)
    return found if found is not None and found.get("dist") else None


def where(frame: dict, owner: dict | None) -> str:
    """ "basicsr 1.4.2 (`basicsr/data/degradations.py`, line 8)" or "`train.py`, line 3"."""
    line = frame.get("line")
    at = f", line {line}" if line else ""
    if owner:
        return f"{owner['dist']} {owner.get('version') or ''} (`{owner.get('record_path')}`{at})".replace("  ", " ")
    return f"`{frame.get('file') or '?'}`{at}"


def _have(ev: Evidence, api: RemovedApi) -> str | None:
    if api.provider == "torchvision":
        return ev.torchvision_version()
    dist = ev.dist(api.provider)
    return str(dist["version"]) if dist and dist.get("version") else None


def what_user_ran(data: dict) -> str:
    request = data.get("request") or []
    if data.get("source") == "import":
        return "import " + ", ".join(str(r) for r in request)
    if data.get("source") == "command":
        return " ".join(str(r) for r in request)
    return "the pasted traceback"


def _facts(data: dict, failure: dict, frame: dict, owner: dict | None) -> list[Fact]:
    source = SOURCES.get(str(data.get("source")), "user")
    out = [Fact("user", f"{source}: {what_user_ran(data)}", f"{failure.get('type')}: {failure.get('message')}")]
    if frame:
        out.append(Fact("user", "failing line", f"{frame.get('file')}:{frame.get('line')}: {frame.get('code') or ''}"))
    if owner:
        hash_note = {True: "matches RECORD", False: "differs from RECORD (edited or damaged)"}.get(owner.get("hash_ok"))
        out.append(
            Fact(
                "user",
                "owner",
                f"{owner['dist']} {owner.get('version')} lists {owner.get('record_path')} in its RECORD"
                + (f"; the file {hash_note}" if hash_note else ""),
            )
        )
    return out


def _removed_api(ev: Evidence, data: dict, failure: dict, api: RemovedApi) -> Finding:
    frame = failing_frame(failure)
    owner = _owner(data, frame)
    have = _have(ev, api)
    title = f"{where(frame, owner)} imports `{api.what}`, {api.removed_phrase()}"
    if have:
        title += f"; you have {api.provider} {have}"
    fix_list: list[Fix] = [
        f
        for f in (
            fixes.downstream_release_fix(ev, api, owner),
            fixes.older_pair_fix(ev, api),
            fixes.source_edit_fix(ev, api, frame, _located(data, frame)),
        )
        if f is not None
    ]
    if not fix_list:
        fix_list.append(fixes.manual_replacement_fix(api, frame, where(frame, owner)))
    healthy = ""
    if api.provider == "torchvision":
        healthy = " torchvision itself is not broken: the calling code is older than it."
    explanation = (
        f"{api.what} was {'deprecated in ' + api.deprecated_in + ' and ' if api.deprecated_in else ''}"
        f"removed from {api.provider}{' by ' if api.removed_in_is_bound else ' in '}{api.removed_in or '?'}; "
        f"its replacement is {api.replacement}.{healthy} "
        "Of the fixes, the newer release and the source edit keep your torch; going back to an older pair does not. "
        f"Sources: {'; '.join(api.sources)}."
    )
    return Finding(
        id="removed-api-used",
        severity=Severity.ERROR,
        title=title,
        explanation=explanation,
        evidence=_facts(data, failure, frame, owner),
        fixes=fix_list,
        checks=["user"],
    )


def _optional(ev: Evidence, data: dict, failure: dict, api: RemovedApi) -> Finding:
    frame = failing_frame(failure)
    owner = _owner(data, frame)
    return Finding(
        id="optional-package-missing",
        severity=Severity.ERROR,
        title=f"{api.provider} needs the optional package {api.package!r} here ({where(frame, owner)}), "
        "and it is not installed",
        explanation=f"{api.replacement[:1].upper()}{api.replacement[1:]}. Sources: {'; '.join(api.sources)}.",
        evidence=_facts(data, failure, frame, owner),
        fixes=[fixes.optional_package_fix(ev, api)],
        checks=["user"],
    )


@rule(needs=("user",), emits=("removed-api-used", "optional-package-missing", "user-code-failed"))
def user_failure(ev: Evidence) -> Finding | None:
    """What failed for the user, with the line that failed and who owns it."""
    data = ev.user_request()
    failure = data.get("failure")
    run = ev.probes["user"]
    if run.status in (RunStatus.TIMEOUT, RunStatus.CRASHED) and not isinstance(failure, dict):
        return Finding(
            id="user-code-failed",
            severity=Severity.ERROR,
            title=f"{what_user_ran(data)} did not finish: {run.error}",
            explanation="tvwizard ran it in its own process group with no terminal and ended the whole group "
            "at the limit (--timeout). Its output up to then is in the report's log.",
            evidence=[Fact("user", str(run.status), run.error or "")],
            fixes=[catalog.build("rerun-with-longer-timeout")],
            checks=["user"],
        )
    if not isinstance(failure, dict):
        return None
    cls = tracebacks.classify(failure)
    if cls.finding == tracebacks.REMOVED_API and cls.api is not None:
        return _removed_api(ev, data, failure, cls.api)
    if cls.finding == tracebacks.OPTIONAL_PACKAGE and cls.api is not None:
        return _optional(ev, data, failure, cls.api)
    frame = failing_frame(failure)
    owner = _owner(data, frame)
    error = f"{failure.get('type') or 'Error'}: {failure.get('message') or ''}".strip()
    return Finding(
        id="user-code-failed",
        severity=Severity.ERROR,
        title=f"{what_user_ran(data)} failed{' at ' + where(frame, owner) if frame else ''}: "
        f"{error.splitlines()[0][:300]}",
        explanation=cls.summary
        + (
            " The finding this failure is a symptom of is above it."
            if cls.known
            else " Nothing tvwizard knows explains it; the traceback and the owner of the failing line are below."
        ),
        evidence=_facts(data, failure, frame, owner),
        fixes=[
            catalog.build("read-failing-line", where=where(frame, owner) if frame else None, code=frame.get("code"))
        ],
        caused_by=cls.finding,
        checks=["user"],
    )
