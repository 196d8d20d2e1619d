"""Redaction: take what identifies a person or a machine, or grants access, out of a report.

Redaction works on the report *dict* (``Report.to_dict()``), before any renderer sees it, and
walks every string in it (keys included): versions, paths, env values, evidence, fix
commands, step data, log lines, faulthandler output and tracebacks.  A renderer therefore
cannot leak what it never receives, and every format is covered by one code path.

What is replaced, and with what:

========================  ============================================================
home directory            ``~`` (as a path prefix only: ``/home/alice2`` is left alone)
user name                 ``<user>``
host name                 ``<host>``
GPU / MIG UUIDs           ``GPU-<redacted>`` / ``MIG-<redacted>``
serial numbers            ``<redacted>`` (``Serial Number : …`` in text, ``serial`` keys)
credentials in URLs       ``https://<redacted>@host/…`` (``user:pass@`` and ``token@``)
tokens                    ``Bearer <redacted>``, ``ghp_…``/``github_pat_…``, ``hf_…``,
                          ``pypi-…``, ``AKIA…`` AWS key ids, ``glpat-…``, ``xox?-…``,
                          ``sk-…``, JWTs (``eyJ….eyJ….…``), ``token=…``/``password=…``
secret-looking names      the value of any key or ``NAME=value`` whose name looks like a
                          secret (``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ``*_PASSWORD`` …)
secret env values         the *value* of every environment variable whose name looks like a
                          secret (``MYSQL_PWD``, ``PGPASSWORD``, ``*_KEY`` too), wherever it
                          appears: a traceback, a sitecustomize error, a path, a log line
env vars                  only names on :data:`ENV_ALLOWLIST` are kept in the ``envvars``
                          probe's data; the rest are dropped (and counted)
========================  ============================================================

User and host names are matched with care, so that a short or common name does not shred
the text: a *distinctive* name (3+ characters, not a common word such as ``root``, ``user``,
``ubuntu``) is replaced wherever it stands as a whole word; any other name only where it is
unmistakably a name: a whole path component (``/scratch/a/…``), ``a@host``, ``//host``.
"""

from __future__ import annotations

import copy
import getpass
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "ENV_ALLOWLIST",
    "ENV_ALLOW_PREFIXES",
    "NO_REDACT_WARNING",
    "Redactor",
    "env_allowed",
    "is_secret_env_name",
    "is_secret_name",
    "no_redaction_summary",
    "redact_report",
    "secret_env_values",
    "summary_lines",
]

HOME = "~"
USER = "<user>"
HOST = "<host>"
REDACTED = "<redacted>"

NO_REDACT_WARNING = (
    "warning: redaction is OFF (--no-redact). This report shows your home directory, user name, "
    "host name, GPU UUIDs and any secrets that reached the logs. Read it before you share it."
)

#: Environment variables a report may show (exact names), on top of :data:`ENV_ALLOW_PREFIXES`.
ENV_ALLOWLIST: frozenset[str] = frozenset(
    {
        "PATH",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "DYLD_LIBRARY_PATH",
        "DYLD_FALLBACK_LIBRARY_PATH",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONNOUSERSITE",
        "PYTHONSAFEPATH",
        "PYTHONUSERBASE",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONFAULTHANDLER",
        "PYTHONWARNINGS",
        "VIRTUAL_ENV",
        "VIRTUAL_ENV_PROMPT",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_ROOT",
        "CUDNN_HOME",
        "JUPYTER_PATH",
        "OMP_NUM_THREADS",
        "SLURM_JOB_PARTITION",
        "KMP_DUPLICATE_LIB_OK",
    }
)

#: Prefixes of environment variables a report may show.
ENV_ALLOW_PREFIXES: tuple[str, ...] = (
    "CUDA_",
    "CUDNN_",
    "NVIDIA_",
    "NCCL_",
    "TORCH_",
    "PYTORCH_",
    "TORCHVISION_",
    "ROCM_",
    "HIP_",
    "HSA_",
    "CONDA_",
    "MAMBA_",
    "PYENV_",
    "PIP_",
    "UV_",
    "MKL_",
    "TVWIZARD_",
)

# A name looks secret when one of its parts (split at _ - . or camelCase) is one of these.
_SECRET_PARTS = r"token|secret|password|passwd|passphrase|credentials?|cookie|apikey|authorization"
_SECRET_PAIRS = r"api[_-]?key|access[_-]?key|secret[_-]?key|private[_-]?key|auth[_-]?key|client[_-]?secret"
_SECRET_NAME = re.compile(rf"(?i)(?:^|[_\-.])(?:{_SECRET_PARTS}|{_SECRET_PAIRS})(?:$|[_\-.])")
# Glued to the end of a name: PGPASSWORD, DBPASSWD, GITHUBTOKEN, MYSQL_PWD (but not PWD itself).
_SECRET_SUFFIX = re.compile(r"(?i)(?:password|passwd|passphrase|token|secret|apikey|[_\-.]pwd)$")
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})
# Environment variables only: *_KEY (STRIPE_KEY, GPG_KEY) and *_AUTH hold secrets, unless the
# name says the value is a location (*_KEY_FILE, *_PATH, …), not the secret itself.
_SECRET_ENV = re.compile(r"(?i)(?:^|[_\-.])(?:key|auth|pat|pwd|pass|private)(?:$|[_\-.])")
_LOCATION_ENV = re.compile(r"(?i)(?:^|[_\-.])(?:file|path|dir|home|sock|socket|url_file|location)$")
_BORING_VALUES = frozenset({"true", "false", "none", "null", "undefined", "changeme", "redacted"})
_MIN_SECRET_VALUE = 6  # shorter values would shred the text (a "1" would take every 1 with it)
_SECRET_CAMEL = re.compile(
    r"[a-z0-9](?:Token|Secret|Password|Passwd|ApiKey|AccessKey|SecretKey|Credentials?)(?:$|[A-Z_])"
)

_COMMON_NAMES = frozenset(
    """
    root user users admin administrator guest test tester dev developer runner build builder
    ubuntu debian centos fedora ec2-user azureuser jovyan vagrant docker app service nobody
    ci home data work python torch torchvision conda pip local localhost host server node nodes
    gpu gpus cpu master worker login compute default none null redacted lib bin usr opt var tmp
    share shared site src source main
    """.split()  # noqa: SIM905
)

# user:password@ in a URL; the password runs to the authority's last "@" (punctuation and
# quotes included: a password may hold any of them).
_URL_CREDS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/@:'\"<>]+(?::[^\s/]*)?)@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=\-]{8,})")
_TOKEN_SHAPES = re.compile(
    r"\b(?:"
    r"gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|hf_[A-Za-z0-9]{20,}"
    r"|pypi-[A-Za-z0-9_\-]{20,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|sk-[A-Za-z0-9_\-]{20,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # a JWT: header.payload.signature
    r")\b"
)
# NAME=value / NAME: value / "name": "value"; the name is checked with is_secret_name().  The
# value is matched separately, so a non-secret ``https:`` does not swallow a ``?token=`` after it.
_ASSIGN_NAME = re.compile(r"(?P<q>[\"']?)(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)(?P=q)[ \t]*[:=][ \t]*")
# An unquoted value runs to whitespace, ``&`` (the next query parameter) or ``<``: a password
# may contain quotes, commas and semicolons.
_ASSIGN_VALUE = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'|[^\s\"'&,;=<][^\s&<]*")
_HEX = "[0-9a-fA-F]"
_UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
_GPU_UUID = re.compile(rf"\b(GPU|MIG)-(?:GPU-)?{_UUID}(?:/\d+/\d+)?")
_SERIAL = re.compile(
    r"(?i)\b(serial(?:[ _\-]?(?:number|no\.?|num))?)([ \t]*[:=][ \t]*)"
    r"(?!N/?A\b|None\b|\[N/A\]|<redacted>)([^\s,;\"']+)"
)
_UUID_KEY = re.compile(r"(?i)uuid")
_SERIAL_KEY = re.compile(r"(?i)serial")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_secret_name(name: str) -> bool:
    """Whether a variable/key name looks like it holds a secret (``HF_TOKEN``, ``dbPassword``, ``PGPASSWORD``)."""
    if name in _NOT_SECRET_NAMES:
        return False
    return bool(_SECRET_NAME.search(name) or _SECRET_CAMEL.search(name) or _SECRET_SUFFIX.search(name))


def is_secret_env_name(name: str) -> bool:
    """Whether an environment variable's value is a secret: :func:`is_secret_name`, and also
    ``*_KEY``, ``*_AUTH``, ``MYSQL_PWD``…, unless the name says it holds a location."""
    if name in _NOT_SECRET_NAMES or _LOCATION_ENV.search(name):
        return False
    return is_secret_name(name) or bool(_SECRET_ENV.search(name))


def _worth_hiding(value: str) -> bool:
    value = value.strip()
    if len(value) < _MIN_SECRET_VALUE or value.lower() in _BORING_VALUES:
        return False
    return not (value.isdigit() and len(value) < 8)  # a short number is everywhere (sizes, pids)


def secret_env_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of ``environ``'s (default: this process's) secret-looking variables, to be
    redacted wherever they appear; a multi-line value (a PEM key) also line by line."""
    environ = os.environ if environ is None else environ
    found: set[str] = set()
    for name, value in environ.items():
        if not isinstance(value, str) or not is_secret_env_name(str(name)):
            continue
        for part in {value, value.strip(), *(line.strip() for line in value.splitlines())}:
            if _worth_hiding(part):
                found.add(part)
    return sorted(found, key=len, reverse=True)


def env_allowed(name: str) -> bool:
    """Whether an environment variable may appear in a report at all."""
    return name in ENV_ALLOWLIST or name.startswith(ENV_ALLOW_PREFIXES)


def _real_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no USER: nothing to hide under that name
        return os.environ.get("USER") or os.environ.get("USERNAME") or None


def _real_host() -> str | None:
    try:
        return socket.gethostname() or None
    except OSError:
        return None


_SCHEMES = ("bearer", "basic", "token")  # "Authorization: Bearer …": the Bearer pass handles it
_REAL: Any = object()  # "use this machine's real value"

_Pass = Callable[[str], tuple[str, int]]


def _regex_pass(pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> _Pass:
    def run(text: str) -> tuple[str, int]:
        hits = 0

        def counted(m: re.Match[str]) -> str:
            nonlocal hits
            new = repl(m)
            hits += new != m.group(0)
            return new

        return pattern.sub(counted, text), hits

    return run


# Every name is_secret_name or is_secret_env_name accepts contains one of these: text without
# any is skipped (most of a report; the pass is the slowest of them).
_MAYBE_SECRET_NAME = re.compile(r"(?i:token|secret|pass|pwd|credential|cookie|key|auth|private)|PAT")


def _assignment_pass(text: str) -> tuple[str, int]:
    """``NAME=value``/``NAME: value``/``"name": "value"`` with a secret-looking name: value out."""
    if not _MAYBE_SECRET_NAME.search(text):
        return text, 0
    out: list[str] = []
    pos = hits = 0
    for m in _ASSIGN_NAME.finditer(text):
        name = m.group("name")
        if m.start() < pos or not (is_secret_name(name) or (name.isupper() and is_secret_env_name(name))):
            continue
        v = _ASSIGN_VALUE.match(text, m.end())
        if v is None:
            continue
        value = v.group(0)
        if value.strip("\"'") in ("", REDACTED) or value.startswith("$") or value.lower() in _SCHEMES:
            continue
        quote = value[0] if value[0] in "\"'" else ""
        out.append(text[pos : v.start()])
        out.append(f"{quote}{REDACTED}{quote}")
        pos = v.end()
        hits += 1
    if not hits:
        return text, 0
    out.append(text[pos:])
    return "".join(out), hits


_REMEMBERED_LENGTH = 8192  # texts longer than this are redacted each time they occur
_REMEMBERED_TEXTS = 50_000  # and at most this many are remembered


class Redactor:
    """Replaces the home directory, user and host names and secrets in text, and counts.

    ``Redactor()`` uses this machine's real home, user and host.  Tests (and callers that
    diagnose another account's interpreter) pass them in; ``""``/``None`` turns that part off.
    ``extra`` adds literal strings to hide (replaced by ``<redacted>``).  ``secrets``: values to
    hide wherever they appear; by default those of this process's secret-looking environment
    variables (:func:`secret_env_values`), which is the environment the probes ran with.
    """

    def __init__(
        self,
        home: str | None = _REAL,
        user: str | None = _REAL,
        host: str | None = _REAL,
        extra: Iterable[str] = (),
        secrets: Iterable[str] | None = _REAL,
    ) -> None:
        self.home = (os.path.expanduser("~") if home is _REAL else home) or None
        self.user = (_real_user() if user is _REAL else user) or None
        self.host = (_real_host() if host is _REAL else host) or None
        self.counts: Counter[str] = Counter()
        self._passes: list[tuple[str, _Pass]] = []
        # A report repeats itself (paths, package names, log lines): 3,600 strings, 1,000 distinct
        # in a real one. What each distinct text becomes, and what it counted, is kept.
        self._seen: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {}
        self.secrets = secret_env_values() if secrets is _REAL else [x for x in secrets or () if _worth_hiding(x)]
        self._build(list(extra))

    # -- setup ---------------------------------------------------------------------------

    def _build(self, extra: list[str]) -> None:
        def add(category: str, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str]) -> None:
            self._passes.append((category, _regex_pass(pattern, repl)))

        # Secrets first: they must go before user/host replacement rewrites their text; known
        # values before the patterns, which could rewrite part of one and leave the rest.
        if self.secrets:
            alts = "|".join(re.escape(v) for v in sorted(set(self.secrets), key=len, reverse=True))
            add("secret_env_values", re.compile(alts), lambda m: REDACTED)
        add("url_credentials", _URL_CREDS, lambda m: f"{m.group(1)}{REDACTED}@")
        add("tokens", _BEARER, lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}")
        add("tokens", _TOKEN_SHAPES, lambda m: REDACTED)
        self._passes.append(("secret_values", _assignment_pass))
        add("gpu_uuids", _GPU_UUID, lambda m: f"{m.group(1)}-{REDACTED}")
        add("serials", _SERIAL, lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}")
        for text in sorted({e for e in extra if e}, key=len, reverse=True):
            add("extra", re.compile(re.escape(text)), lambda m: REDACTED)
        if self.home and self.home.rstrip("/\\") not in ("", "~"):
            variants = {self.home.rstrip("/\\"), os.path.realpath(self.home).rstrip("/\\")}
            variants |= {v.replace("\\", "/") for v in variants}
            alts = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True) if len(v) > 1)
            if alts:
                flags = re.IGNORECASE if re.match(r"^[A-Za-z]:", self.home) else 0
                add("home", re.compile(rf"(?<![\w.\-])(?:{alts})(?![\w.\-])", flags), lambda m: HOME)
        if self.user:
            add("user", self._name_pattern(self.user, host=False), lambda m: USER)
        if self.host:
            names = {self.host, self.host.split(".")[0]}
            for name in sorted((n for n in names if n), key=len, reverse=True):
                add("host", self._name_pattern(name, host=True), lambda m: HOST)

    @staticmethod
    def _name_pattern(name: str, *, host: bool) -> re.Pattern[str]:
        esc = re.escape(name)
        distinctive = len(name) >= 3 and name.lower() not in _COMMON_NAMES
        if distinctive:
            # a whole word: not glued to letters or digits (hex ids, longer names stay intact)
            return re.compile(rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])", re.IGNORECASE)
        # Only where it is unmistakably a name: a whole path part, user@…, …@host, //host.
        end = r"(?=[/\\]|$|[\s\"'`:;,)\]>])"
        parts = [rf"(?<=[/\\]){esc}{end}", rf"(?<![\w.\-]){esc}(?=@)"]
        if host:
            parts.append(rf"(?<=@){esc}(?![\w\-])")
        return re.compile("|".join(parts), re.IGNORECASE if host else 0)

    # -- work ----------------------------------------------------------------------------

    def redact_text(self, text: str) -> str:
        """``text`` with everything this redactor hides replaced; counts what it replaced."""
        if not text:
            return text
        known = self._seen.get(text)
        if known is None:
            out, counted = text, []
            for category, run in self._passes:
                out, hits = run(out)
                if hits:
                    counted.append((category, hits))
            known = (out, tuple(counted))
            if len(text) <= _REMEMBERED_LENGTH and len(self._seen) < _REMEMBERED_TEXTS:
                self._seen[text] = known
        for category, hits in known[1]:
            self.counts[category] += hits  # every occurrence counts, as if redacted afresh
        return known[0]

    def redact_value(self, value: Any, key: str | None = None) -> Any:
        """Redact a JSON value: every string, keys included; secret/uuid/serial keys emptied."""
        if isinstance(value, str):
            if key is not None and value and value != REDACTED:
                if is_secret_name(key):
                    self.counts["secret_values"] += 1
                    return REDACTED
                if _UUID_KEY.search(key):
                    self.counts["gpu_uuids"] += 1
                    return REDACTED
                if _SERIAL_KEY.search(key):
                    self.counts["serials"] += 1
                    return REDACTED
            return self.redact_text(value)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                name = self.redact_text(str(k))
                if name in out:  # two keys that differ only in what was redacted (two MIG UUIDs)
                    n = 2
                    while f"{name} ({n})" in out:
                        n += 1
                    name = f"{name} ({n})"
                out[name] = self.redact_value(v, str(k))
            return out
        if isinstance(value, list | tuple):
            return [self.redact_value(v, key) for v in value]
        return value

    def summary(self) -> dict[str, Any]:
        """What was redacted: the redaction section of a report (``report["redaction"]``)."""
        return {
            "enabled": True,
            "replacements": {
                "home": HOME if self.home else None,
                "user": USER if self.user else None,
                "host": HOST if self.host else None,
                "secrets": REDACTED,
            },
            "counts": dict(sorted(self.counts.items())),
        }


def _filter_env(data: Any, redactor: Redactor) -> Any:
    """Drop env vars that are not on the allowlist from the ``envvars`` probe's data."""

    def filt(mapping: dict[str, Any]) -> dict[str, Any]:
        kept = {}
        for name, value in mapping.items():
            if _ENV_NAME.match(str(name)) and not env_allowed(str(name)):
                redactor.counts["env_not_allowlisted"] += 1
                continue
            kept[name] = value
        return kept

    if not isinstance(data, dict):
        return data
    out = dict(data)
    found = False
    for key in ("vars", "env", "environ", "variables", "values", "set"):
        if isinstance(out.get(key), dict):
            out[key] = filt(out[key])
            found = True
        elif isinstance(out.get(key), list):
            items = []
            for item in out[key]:
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and not env_allowed(name):
                    redactor.counts["env_not_allowlisted"] += 1
                    continue
                items.append(item)
            out[key] = items
            found = True
    if not found and out and all(isinstance(k, str) and _ENV_NAME.match(k) and k.isupper() for k in out):
        out = filt(out)
    return out


def redact_report(report: dict[str, Any], redactor: Redactor | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A redacted deep copy of a report dict, and the summary of what was redacted.

    The summary is also stored in the copy's ``redaction`` key, so every rendering of the
    report says what was taken out.  ``report`` itself is not changed.
    """
    redactor = redactor if redactor is not None else Redactor()
    redactor.counts.clear()
    src = copy.deepcopy(report)
    src.pop("redaction", None)
    for probe in src.get("probes") or []:
        if not isinstance(probe, dict) or not isinstance(probe.get("data"), dict):
            continue
        if probe.get("name") in ("envvars", "env"):
            probe["data"] = _filter_env(probe["data"], redactor)
        for key in ("env_vars", "environ"):  # e.g. the interpreter probe's PYTHON*/CONDA_* … vars
            if isinstance(probe["data"].get(key), dict):
                probe["data"][key] = _filter_env({"vars": probe["data"][key]}, redactor)["vars"]
    out = redactor.redact_value(src)
    summary = redactor.summary()
    result: dict[str, Any] = {}
    for key, value in out.items():  # keep the report's key order; redaction in its slot
        result[key] = value
    result["redaction"] = summary
    return result, summary


def no_redaction_summary() -> dict[str, Any]:
    """The ``redaction`` section of a report written with ``--no-redact``."""
    return {"enabled": False, "warning": NO_REDACT_WARNING}


_LABELS = {
    "home": "home directory → ~",
    "user": "user name → <user>",
    "host": "host name → <host>",
    "gpu_uuids": "GPU/MIG UUIDs",
    "uuids": "other UUIDs",
    "serials": "serial numbers",
    "url_credentials": "credentials in URLs",
    "tokens": "tokens",
    "secret_values": "values of secret-looking names",
    "secret_env_values": "values of secret environment variables, wherever they appeared",
    "env_not_allowlisted": "env vars not on the allowlist (dropped)",
    "extra": "other strings",
}


def summary_lines(summary: dict[str, Any] | None) -> list[str]:
    """The redaction summary in words, one line each (for every renderer and the CLI)."""
    if not summary:
        return ["Redaction: unknown (this report does not say whether it was redacted)."]
    if not summary.get("enabled"):
        return ["Redaction: OFF. " + str(summary.get("warning") or NO_REDACT_WARNING)]
    counts = summary.get("counts") or {}
    parts = [f"{_LABELS.get(k, k)} ({n:,})" for k, n in counts.items() if n]
    lines = ["Redaction: on."]
    lines.append("Replaced: " + "; ".join(parts) + "." if parts else "Nothing needed replacing.")
    lines.append("Env vars are shown only from an allowlist. `--no-redact` turns redaction off.")
    return lines
