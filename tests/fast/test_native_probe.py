"""The ``native`` probe and its ELF reader, against tiny shared libraries built with gcc."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_probe_sync

from tvwizard.model import RunStatus
from tvwizard.probes import _api, _elf, native

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build test libraries")
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF loader model is Linux-only")


# --------------------------------------------------------------------------- building


class Builder:
    """Builds shared objects with chosen SONAME, DT_NEEDED, RPATH and RUNPATH."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stubs = root / "stubs"
        self.stubs.mkdir(parents=True, exist_ok=True)
        self.src = root / "empty.c"
        self.src.write_text(f"int tvw_symbol_{os.getpid()}(void) {{ return 0; }}\n")

    def stub(self, soname: str) -> Path:
        """A library with ``soname`` outside every search path: linking it records DT_NEEDED."""
        out = self.stubs / soname
        if not out.exists():
            self.so(out, soname=soname)
        return out

    def so(
        self,
        out: Path,
        *,
        soname: str | None = None,
        needed: tuple[str | Path, ...] = (),
        rpath: str | None = None,
        runpath: str | None = None,
    ) -> Path:
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = ["gcc", "-shared", "-fPIC", "-o", str(out), str(self.src), "-Wl,--no-as-needed"]
        if soname:
            argv.append(f"-Wl,-soname,{soname}")
        if rpath:
            argv += ["-Wl,--disable-new-dtags", f"-Wl,-rpath,{rpath}"]
        if runpath:
            argv += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
        for lib in needed:
            argv.append(str(lib if isinstance(lib, Path) else self.stub(lib)))
        subprocess.run(argv, check=True, capture_output=True)
        return out


def set_machine(path: Path, machine: int) -> None:
    """Patch e_machine (little-endian file): a valid ELF for another architecture."""
    with path.open("r+b") as f:
        f.seek(18)
        f.write(struct.pack("<H", machine))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("gcc") is None or not sys.platform.startswith("linux"):
        pytest.skip("needs gcc on Linux")
    root = tmp_path_factory.mktemp("native")
    b = Builder(root)
    site = root / "site"
    ldlp = root / "ldlp"
    wrong = root / "wrongarch"
    nv = site / "nvidia" / "fakejit" / "lib"
    tlib = site / "torch" / "lib"
    tv = site / "torchvision"
    tvlibs = site / "torchvision.libs"

    # torch: _C (RPATH $ORIGIN/lib) -> libc10 -> libinherit (found with _C's inherited RPATH)
    #                                         -> libjituser (RUNPATH into nvidia/) -> libtvwjit.so.13
    b.so(nv / "libtvwjit.so.13", soname="libtvwjit.so.13")
    b.so(ldlp / "libtvwjit.so.13", soname="libtvwjit.so.13")  # the "old system copy"
    b.so(tlib / "libinherit.so", soname="libinherit.so")
    b.so(
        tlib / "libjituser.so",
        soname="libjituser.so",
        needed=(b.stub("libtvwjit.so.13"),),
        runpath="$ORIGIN/../../nvidia/fakejit/lib",
    )
    b.so(
        tlib / "libc10.so",
        soname="libc10.so",
        needed=(b.stub("libinherit.so"), b.stub("libjituser.so")),
    )
    b.so(tlib / "libonlyintorchlib.so", soname="libonlyintorchlib.so")
    b.so(site / "torch" / "_C.so", needed=(b.stub("libc10.so"),), rpath="$ORIGIN/lib")
    (site / "torch" / "__init__.py").write_text("raise SystemExit('the probe must not import torch')\n")

    # torchvision
    (tv / "__init__.py").parent.mkdir(parents=True)
    (tv / "__init__.py").write_text("raise SystemExit('the probe must not import torchvision')\n")
    b.so(tv / "_C.so", needed=("libc10.so", "libtvw_missing.so"))
    b.so(tvlibs / "libbundled.so", soname="libbundled.so")
    b.so(tv / "_origin.so", needed=("libbundled.so",), runpath="$ORIGIN/../torchvision.libs")
    b.so(ldlp / "libfromldlp.so", soname="libfromldlp.so")
    b.so(tv / "_ldlp.so", needed=("libfromldlp.so",))
    b.so(wrong / "libarch.so", soname="libarch.so")
    set_machine(wrong / "libarch.so", 183)  # aarch64
    b.so(ldlp / "libarch.so", soname="libarch.so")
    b.so(tv / "_arch.so", needed=("libarch.so",))
    (ldlp / "libbroken.so").write_text("not a library\n")
    b.so(tv / "_badep.so", needed=("libbroken.so",))
    b.so(tv / "_torchlib.so", needed=("libonlyintorchlib.so",))
    whole = (tv / "_C.so").read_bytes()
    (tv / "_trunc.so").write_bytes(whole[: len(whole) // 3])
    (tv / "_empty.so").write_bytes(b"")
    (tv / "_text.so").write_text("hello, I am not a shared object\n")
    (tv / "_dangling.so").symlink_to(root / "does-not-exist.so")
    (tv / "ops").mkdir()
    b.so(tv / "ops" / "_nested.so.1", needed=("libc10.so",))
    return {"root": root, "site": site, "ldlp": ldlp, "wrong": wrong, "nv": nv, "tlib": tlib, "tv": tv}


def probe_env(tree: dict[str, Path], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tree["site"])
    env.update(extra)
    return env


def by_path(pkg: dict) -> dict[str, dict]:
    return {Path(f["path"]).name: f for f in pkg["files"]}


def needed(file: dict, name: str) -> dict:
    return next(n for n in file["needed"] if n["name"] == name)


@pytest.fixture(scope="module")
def with_ldlp(tree: dict[str, Path]) -> dict:
    ldlp = f"{tree['wrong']}:{tree['ldlp']}:{tree['root'] / 'nope'}"
    run = run_probe_sync("native", env=probe_env(tree, LD_LIBRARY_PATH=ldlp))
    assert run.status == RunStatus.OK, (run.error, run.log, run.fault)
    return run.data


@pytest.fixture(scope="module")
def plain(tree: dict[str, Path]) -> dict:
    run = run_probe_sync("native", env=probe_env(tree))
    assert run.status == RunStatus.OK, (run.error, run.log, run.fault)
    return run.data


# --------------------------------------------------------------------------- the probe


@linux_only
@needs_gcc
class TestProbe:
    def test_locates_without_importing(self, plain, tree):
        assert plain["supported"] is True
        assert plain["packages"]["torch"]["dir"] == str(tree["site"] / "torch")
        assert plain["packages"]["torchvision"]["dir"] == str(tree["tv"])
        assert plain["packages"]["torchvision"]["lib_dir"] == str(tree["site"] / "torchvision.libs")
        assert plain["lib_dirs"] == [str(tree["nv"])]

    def test_lists_compiled_files(self, plain):
        names = set(by_path(plain["packages"]["torchvision"]))
        assert {"_C.so", "_origin.so", "_trunc.so", "_empty.so", "_text.so", "_nested.so.1"} <= names
        assert "libbundled.so" in names  # torchvision.libs
        assert "__init__.py" not in names
        torch_names = set(by_path(plain["packages"]["torch"]))
        assert {"_C.so", "libc10.so", "libinherit.so", "libjituser.so"} <= torch_names

    def test_missing_library_reported_with_requester(self, plain, tree):
        c = by_path(plain["packages"]["torchvision"])["_C.so"]
        assert c["valid"] is True and c["problem"] is None
        miss = needed(c, "libtvw_missing.so")
        assert miss["found"] is False and miss["path"] is None
        assert {
            "name": "libtvw_missing.so",
            "needed_by": str(tree["tv"] / "_C.so"),
            "package": "torchvision",
        } in (plain["unresolved"])

    def test_libc10_found_once_torch_is_loaded(self, plain, tree):
        c10 = needed(by_path(plain["packages"]["torchvision"])["_C.so"], "libc10.so")
        assert c10 == {
            "name": "libc10.so",
            "found": True,
            "path": str(tree["tlib"] / "libc10.so"),
            "via": "torch",
        }
        nested = needed(by_path(plain["packages"]["torchvision"])["_nested.so.1"], "libc10.so")
        assert nested["via"] == "torch"

    def test_torch_rpath_and_inherited_rpath(self, plain, tree):
        torch = by_path(plain["packages"]["torch"])
        c = torch["_C.so"]
        assert c["rpath"] == "$ORIGIN/lib" and c["runpath"] is None
        assert needed(c, "libc10.so")["via"] == "rpath"
        assert needed(c, "libc10.so")["entry"] == "$ORIGIN/lib"
        inherit = needed(torch["libc10.so"], "libinherit.so")
        assert inherit["found"] and inherit["via"] == "rpath"
        assert inherit["rpath_of"] == str(tree["site"] / "torch" / "_C.so")
        assert plain["loaded_by_torch"] >= 5

    def test_runpath_origin(self, plain, tree):
        origin = needed(by_path(plain["packages"]["torchvision"])["_origin.so"], "libbundled.so")
        assert origin["found"] and origin["via"] == "runpath"
        assert origin["entry"] == "$ORIGIN/../torchvision.libs"
        assert os.path.samefile(origin["path"], tree["site"] / "torchvision.libs" / "libbundled.so")
        jit = needed(by_path(plain["packages"]["torch"])["libjituser.so"], "libtvwjit.so.13")
        assert jit["via"] == "runpath" and os.path.samefile(jit["path"], tree["nv"] / "libtvwjit.so.13")

    def test_torch_lib_fallback(self, plain, tree):
        rec = needed(by_path(plain["packages"]["torchvision"])["_torchlib.so"], "libonlyintorchlib.so")
        assert rec == {
            "name": "libonlyintorchlib.so",
            "found": True,
            "path": str(tree["tlib"] / "libonlyintorchlib.so"),
            "via": "torch/lib",
        }

    def test_without_ld_library_path_those_are_unresolved(self, plain):
        missing = {m["name"] for m in plain["unresolved"]}
        assert {"libfromldlp.so", "libarch.so", "libbroken.so", "libtvw_missing.so"} <= missing
        assert "libc10.so" not in missing and "libbundled.so" not in missing
        assert plain["ld_library_path"] == [] and plain["overrides"] == []

    def test_invalid_files(self, plain):
        files = by_path(plain["packages"]["torchvision"])
        assert files["_empty.so"]["problem"] == "empty" and files["_empty.so"]["size"] == 0
        assert files["_text.so"]["problem"] == "not-elf"
        assert files["_trunc.so"]["problem"] == "truncated"
        for name in ("_empty.so", "_text.so", "_trunc.so"):
            assert files[name]["valid"] is False and files[name]["needed"] == []
            assert files[name]["detail"]

    def test_unreadable_file_does_not_lose_the_rest(self, plain):
        files = by_path(plain["packages"]["torchvision"])
        assert files["_dangling.so"]["problem"] == "unreadable"
        assert files["_dangling.so"]["size"] is None
        assert files["_origin.so"]["valid"] is True

    def test_failing_step_keeps_the_others(self, tree, monkeypatch):
        def boom():
            raise RuntimeError("cache exploded")

        events = []

        class Ctx(_api.Context):
            def emit(self, event):
                events.append(event)

        monkeypatch.setattr(native, "_load_ld_cache", boom)
        monkeypatch.syspath_prepend(str(tree["site"]))
        monkeypatch.delenv("LD_LIBRARY_PATH", raising=False)
        monkeypatch.delenv("LD_PRELOAD", raising=False)
        data = native.run(Ctx(None))
        ends = {e["name"]: e for e in events if e.get("t") == "step" and e["phase"] == "end"}
        assert ends["ld-cache"]["status"] == "error"
        assert "cache exploded" in ends["ld-cache"]["data"]["error"]["message"]
        assert ends["torchvision"]["status"] == "ok"
        assert "error" not in data
        c = by_path(data["packages"]["torchvision"])["_C.so"]
        assert needed(c, "libc10.so")["via"] == "torch"

    def test_ld_library_path(self, with_ldlp, tree):
        files = by_path(with_ldlp["packages"]["torchvision"])
        rec = needed(files["_ldlp.so"], "libfromldlp.so")
        assert rec["via"] == "ld_library_path" and rec["entry"] == str(tree["ldlp"])
        assert rec["path"] == str(tree["ldlp"] / "libfromldlp.so")
        entries = with_ldlp["ld_library_path"]
        assert [e["exists"] for e in entries] == [True, True, False]
        assert entries[2]["path"] == str(tree["root"] / "nope")

    def test_wrong_arch_skipped(self, with_ldlp, tree):
        rec = needed(by_path(with_ldlp["packages"]["torchvision"])["_arch.so"], "libarch.so")
        assert rec["found"] and rec["path"] == str(tree["ldlp"] / "libarch.so")
        assert rec["skipped"] == [{"path": str(tree["wrong"] / "libarch.so"), "why": "wrong-arch"}]

    def test_bad_dependency_stops_search(self, with_ldlp, tree):
        rec = needed(by_path(with_ldlp["packages"]["torchvision"])["_badep.so"], "libbroken.so")
        assert rec["found"] is False and rec["problem"] == "not-elf"
        assert rec["path"] == str(tree["ldlp"] / "libbroken.so")
        miss = next(m for m in with_ldlp["unresolved"] if m["name"] == "libbroken.so")
        assert miss["problem"] == "not-elf" and miss["path"] == str(tree["ldlp"] / "libbroken.so")

    def test_override_via_ld_library_path(self, with_ldlp, tree):
        (ov,) = [o for o in with_ldlp["overrides"] if o["name"] == "libtvwjit.so.13"]
        assert ov["source"] == "LD_LIBRARY_PATH"
        assert ov["entry"] == str(tree["ldlp"])
        assert ov["path"] == str(tree["ldlp"] / "libtvwjit.so.13")
        assert ov["shadows"] == str(tree["nv"] / "libtvwjit.so.13")
        # libjituser has a RUNPATH, so LD_LIBRARY_PATH wins over its own nvidia dir
        assert ov["used_by"] == [str(tree["tlib"] / "libjituser.so")]
        jit = needed(by_path(with_ldlp["packages"]["torch"])["libjituser.so"], "libtvwjit.so.13")
        assert jit["via"] == "ld_library_path"

    def test_override_via_ld_preload(self, tree):
        preload = f"{tree['ldlp'] / 'libtvwjit.so.13'} {tree['root'] / 'nope.so'}"
        run = run_probe_sync("native", env=probe_env(tree, LD_PRELOAD=preload))
        assert run.status == RunStatus.OK, (run.error, run.log)
        data = run.data
        first, second = data["ld_preload"]
        assert first["exists"] and first["soname"] == "libtvwjit.so.13"
        assert second["exists"] is False
        (ov,) = [o for o in data["overrides"] if o["source"] == "LD_PRELOAD"]
        assert ov["shadows"] == str(tree["nv"] / "libtvwjit.so.13")
        assert ov["used_by"] == [str(tree["tlib"] / "libjituser.so")]
        jit = needed(by_path(data["packages"]["torch"])["libjituser.so"], "libtvwjit.so.13")
        assert jit["via"] == "preload" and jit["path"] == str(tree["ldlp"] / "libtvwjit.so.13")

    def test_steps_and_speed(self, tree):
        run = run_probe_sync("native", env=probe_env(tree))
        assert {s.name for s in run.steps} >= {"locate", "ld-cache", "torch", "torchvision", "overrides"}
        assert all(s.status == "ok" for s in run.steps), [(s.name, s.data) for s in run.steps]
        assert run.data["elapsed"] < 1.0

    def test_no_torch_no_torchvision(self, tmp_path):
        env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
        env["PYTHONNOUSERSITE"] = "1"
        run = run_probe_sync("native", python=sys.executable, cwd=tmp_path, env=env)
        assert run.status == RunStatus.OK
        # tvwizard's own venv has neither; whatever is found, the probe must not fail
        for pkg in run.data["packages"].values():
            assert "files" in pkg

    def test_python38(self, tree, py38):
        run = run_probe_sync("native", python=py38, env=probe_env(tree))
        assert run.status == RunStatus.OK, (run.error, run.log, run.fault)
        assert any(m["name"] == "libtvw_missing.so" for m in run.data["unresolved"])
        c10 = needed(by_path(run.data["packages"]["torchvision"])["_C.so"], "libc10.so")
        assert c10["via"] == "torch"


TORCH_INIT_WITH_PRELOAD = """raise SystemExit("the probe must not import torch")


def _preload_cuda_deps(err=None, required=True):
    cuda_libs = [
        ("cuda_runtime", "libcudart.so.*[0-9]"),
        ("fakejit", "libtvwjit.so.*[0-9]"),
        ("absent", "libabsent.so.*[0-9]"),
    ]


def _load_global_deps():
    if "libcudart.so" not in _maps:
        return
    _preload_cuda_deps(required=False)
"""


@linux_only
@needs_gcc
@pytest.mark.parametrize("global_deps_finds_cudart", [True, False])
def test_torch_preloads_modelled(tmp_path, global_deps_finds_cudart):
    """torch dlopens the nvidia wheels' libraries itself: LD_LIBRARY_PATH copies then lose."""
    b = Builder(tmp_path)
    site, ldlp = tmp_path / "site", tmp_path / "ldlp"
    tlib, jit = site / "torch" / "lib", site / "nvidia" / "fakejit" / "lib"
    cudart = site / "nvidia" / "cuda_runtime" / "lib"
    b.so(cudart / "libcudart.so.99", soname="libcudart.so.99")
    b.so(jit / "libtvwjit.so.13", soname="libtvwjit.so.13")
    b.so(ldlp / "libtvwjit.so.13", soname="libtvwjit.so.13")
    b.so(
        tlib / "libtorch_global_deps.so",
        needed=("libcudart.so.99",),
        rpath="$ORIGIN/../../nvidia/cuda_runtime/lib" if global_deps_finds_cudart else None,
    )
    b.so(tlib / "libjituser.so", needed=("libtvwjit.so.13",), runpath="$ORIGIN/../../nvidia/fakejit/lib")
    b.so(site / "torch" / "_C.so", needed=(b.stub("libjituser.so"),), rpath="$ORIGIN/lib")
    (site / "torch" / "__init__.py").write_text(TORCH_INIT_WITH_PRELOAD)
    (site / "torch" / "version.py").write_text("cuda: Optional[str] = '99.0'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), LD_LIBRARY_PATH=str(ldlp))
    run = run_probe_sync("native", env=env)
    assert run.status == RunStatus.OK, (run.error, run.log, run.fault)
    data = run.data
    pre = data["torch_preload"]
    assert pre["modelled"] and pre["ran"] and pre["best_effort"] and pre["after_load"]
    assert [Path(p).name for p in pre["libs"]] == ["libcudart.so.99", "libtvwjit.so.13"]
    if not global_deps_finds_cudart:
        # the OSError path: every library required, so it stops at the first one missing
        assert pre["stopped_at"] == "libabsent.so.*[0-9]"
    assert data["unresolved"] == []
    files = by_path(data["packages"]["torch"])
    rec = needed(files["libjituser.so"], "libtvwjit.so.13")
    assert rec["via"] == "loaded" and os.path.samefile(rec["path"], jit / "libtvwjit.so.13")
    (ov,) = data["overrides"]
    assert ov["name"] == "libtvwjit.so.13" and ov["used_by"] == []
    gd = needed(files["libtorch_global_deps.so"], "libcudart.so.99")
    assert gd["found"] and gd["via"] == ("rpath" if global_deps_finds_cudart else "loaded")


def test_non_linux_reports_files_only(tmp_path, monkeypatch):
    tv = tmp_path / "torchvision"
    tv.mkdir()
    (tv / "__init__.py").write_text("")
    (tv / "_C.pyd").write_bytes(b"MZ")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "platform", "win32")
    data = native.run(_api.Context(None))
    assert data["supported"] is False and data["platform"] == "win32"
    files = data["packages"]["torchvision"]["files"]
    assert files == [{"path": str(tv / "_C.pyd"), "size": 2}]
    assert "unresolved" not in data


# --------------------------------------------------------------------------- _elf


def make_elf(
    cls: int,
    endian: str,
    *,
    machine: int = 62,
    needed: tuple[str, ...] = (),
    soname: str | None = None,
    rpath: str | None = None,
    runpath: str | None = None,
) -> bytes:
    """A minimal ET_DYN ELF: header, PT_LOAD + PT_DYNAMIC, .dynstr, .dynamic."""
    e = "<" if endian == "little" else ">"
    is64 = cls == 64
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    base = 0x10000
    strtab = b"\x00"
    offsets = {}
    for s in (*needed, soname, rpath, runpath):
        if s is not None and s not in offsets:
            offsets[s] = len(strtab)
            strtab += s.encode() + b"\x00"
    str_off = ehsize + 2 * phentsize
    dyn_off = (str_off + len(strtab) + 7) & ~7
    dyn = [(1, offsets[n]) for n in needed]
    if soname:
        dyn.append((14, offsets[soname]))
    if rpath:
        dyn.append((15, offsets[rpath]))
    if runpath:
        dyn.append((29, offsets[runpath]))
    dyn += [(5, base + str_off), (10, len(strtab)), (0, 0)]
    dfmt = e + ("qQ" if is64 else "iI")
    dynbytes = b"".join(struct.pack(dfmt, t, v) for t, v in dyn)
    total = dyn_off + len(dynbytes)
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1 if endian == "little" else 2, 1]) + b"\x00" * 9
    if is64:
        hdr = struct.pack(e + "HHIQQQIHHHHHH", 3, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, 2, 64, 0, 0)
        load = struct.pack(e + "IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000)
        dynp = struct.pack(
            e + "IIQQQQQQ", 2, 6, dyn_off, base + dyn_off, base + dyn_off, len(dynbytes), len(dynbytes), 8
        )
    else:
        hdr = struct.pack(e + "HHIIIIIHHHHHH", 3, machine, 1, 0, ehsize, 0, 0, ehsize, phentsize, 2, 40, 0, 0)
        load = struct.pack(e + "IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
        dynp = struct.pack(
            e + "IIIIIIII", 2, dyn_off, base + dyn_off, base + dyn_off, len(dynbytes), len(dynbytes), 6, 4
        )
    body = ident + hdr + load + dynp + strtab
    body += b"\x00" * (dyn_off - len(body))
    return body + dynbytes


@pytest.mark.parametrize("cls", [32, 64])
@pytest.mark.parametrize("endian", ["little", "big"])
def test_elf_synthetic(tmp_path, cls, endian):
    p = tmp_path / "lib.so"
    p.write_bytes(
        make_elf(cls, endian, machine=21, needed=("liba.so.1", "libb.so"), soname="libme.so.2", runpath="$ORIGIN")
    )
    info = _elf.read_elf(str(p))
    assert info["problem"] is None and info["loadable"] is True
    assert info["class"] == cls and info["endian"] == endian
    assert info["machine"] == 21 and info["machine_name"] == "ppc64"
    assert info["type"] == _elf.ET_DYN
    assert info["needed"] == ["liba.so.1", "libb.so"]
    assert info["soname"] == "libme.so.2"
    assert info["runpath"] == "$ORIGIN" and info["rpath"] is None
    assert info["size"] == p.stat().st_size


def test_elf_same_arch(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_bytes(make_elf(64, "little"))
    b.write_bytes(make_elf(32, "little"))
    c.write_bytes(make_elf(64, "little", machine=183))
    ia, ib, ic = (_elf.read_elf(str(x)) for x in (a, b, c))
    assert _elf.same_arch(ia, ia)
    assert not _elf.same_arch(ia, ib) and not _elf.same_arch(ia, ic)
    assert _elf.arch_name(ic) == "aarch64"


@needs_gcc
def test_elf_gcc_library(tmp_path):
    b = Builder(tmp_path)
    so = b.so(tmp_path / "libx.so", soname="libx.so.1", needed=("libdep.so.3",), rpath="/opt/a:$ORIGIN")
    info = _elf.read_elf(str(so))
    assert info["problem"] is None
    assert info["soname"] == "libx.so.1"
    assert "libdep.so.3" in info["needed"]
    assert info["rpath"] == "/opt/a:$ORIGIN" and info["runpath"] is None
    exe = _elf.read_elf(sys.executable)
    assert exe["problem"] is None and _elf.same_arch(info, exe)


@needs_gcc
def test_elf_damaged(tmp_path):
    b = Builder(tmp_path)
    so = b.so(tmp_path / "libx.so", soname="libx.so", runpath="$ORIGIN")
    whole = so.read_bytes()
    cases = {
        "empty": b"",
        "magic": b"\x7fEL",
        "header": whole[:40],
        "half": whole[: len(whole) // 2],
        "tail": whole[:-8],  # only the section header table is cut
        "text": b"GROUP ( /lib/libc.so.6 )\n",
        "badclass": whole[:4] + b"\x07" + whole[5:],
    }
    got = {}
    for name, raw in cases.items():
        p = tmp_path / f"{name}.so"
        p.write_bytes(raw)
        got[name] = _elf.read_elf(str(p))
    assert got["empty"]["problem"] == "empty"
    assert got["magic"]["problem"] == "not-elf"
    assert got["header"]["problem"] == "truncated"
    assert got["half"]["problem"] == "truncated" and not got["half"]["loadable"]
    assert got["tail"]["problem"] == "truncated" and got["tail"]["loadable"]
    assert got["tail"]["soname"] == "libx.so" and got["tail"]["runpath"] == "$ORIGIN"
    assert got["text"]["problem"] == "not-elf"
    assert got["badclass"]["problem"] == "bad-elf"
    for info in got.values():
        assert info["detail"]
    missing = _elf.read_elf(str(tmp_path / "nope.so"))
    assert missing["problem"] == "unreadable" and not missing["loadable"]


def test_elf_object_file_is_bad_type(tmp_path):
    raw = bytearray(make_elf(64, "little"))
    raw[16:18] = struct.pack("<H", 1)  # ET_REL
    p = tmp_path / "x.o"
    p.write_bytes(bytes(raw))
    assert _elf.read_elf(str(p))["problem"] == "bad-type"


def test_elf_reads_little(tmp_path, monkeypatch):
    """Big files are never read whole: a 64 MiB sparse tail changes nothing and costs nothing."""
    p = tmp_path / "big.so"
    p.write_bytes(make_elf(64, "little", needed=("liba.so",)))
    with p.open("r+b") as f:
        f.truncate(64 * 1024 * 1024)
    reads = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def read(self, n=-1):
            assert n >= 0, "unbounded read"
            reads.append(n)
            return self.f.read(n)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(_elf, "open", lambda path, mode: Spy(real_open(path, mode)), raising=False)
    info = _elf.read_elf(str(p))
    assert info["needed"] == ["liba.so"]
    assert sum(reads) < 16 * 1024


# --------------------------------------------------------------------------- loader pieces


def test_ld_cache_matches_ldconfig():
    try:
        raw = Path("/etc/ld.so.cache").read_bytes()
    except OSError:
        pytest.skip("no /etc/ld.so.cache")
    try:
        parsed = native._parse_ld_cache(raw)
    except ValueError:
        pytest.skip("ld.so.cache is not in the glibc 1.1 format here")
    try:
        _source, listed = native._ldconfig_p()
    except OSError:
        pytest.skip("no ldconfig")
    assert parsed
    for name, paths in listed.items():
        assert {p for p, _ in paths} <= {p for p, _ in parsed[name]}, name


def test_ld_cache_synthetic_old_and_new():
    e = "<" if sys.byteorder == "little" else ">"
    strings = b"libq.so.1\x00/x/libq.so.1\x00"
    new = bytearray(b"glibc-ld.so.cache1.1")
    new += struct.pack(e + "IIB3xI12x", 1, len(strings), 0, 0)
    key = len(new) + 24
    new += struct.pack(e + "iIIIQ", 0x303, key, key + 10, 0, 0)
    new += strings
    assert native._parse_ld_cache(bytes(new)) == {"libq.so.1": [("/x/libq.so.1", 0)]}
    old = b"ld.so-1.7.0\x00" + struct.pack(e + "I", 1) + struct.pack(e + "iII", 3, 0, 0)
    combined = old + b"\x00" * (((len(old) + 7) & ~7) - len(old)) + bytes(new)
    assert native._parse_ld_cache(combined) == {"libq.so.1": [("/x/libq.so.1", 0)]}
    with pytest.raises(ValueError):
        native._parse_ld_cache(b"garbage" * 10)


def test_expand_tokens():
    loader = native.Loader({}, None, {})
    loader.lib_token, loader.platform = "lib64", "x86_64"
    assert loader.expand("$ORIGIN/../lib", "/a/b") == "/a/b/../lib"
    assert loader.expand("${ORIGIN}/x:$LIB/$PLATFORM", "/o") == "/o/x:lib64/x86_64"
    assert loader.expand("$ORIGINAL/$LIBS", "/o") == "$ORIGINAL/$LIBS"


def test_ld_library_path_parsing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    loader = native.Loader({"LD_LIBRARY_PATH": "/a::/b;/c"}, None, {})
    assert loader.ld_library_path == [("/a", "/a"), ("", str(tmp_path)), ("/b", "/b"), ("/c", "/c")]


# --------------------------------------------------------------------------- GPU code


def fatbin(*entries: tuple[int, int, int], version: int = 1) -> bytes:
    """A CUDA fat binary: ``entries`` of (kind 1 PTX / 2 cubin, arch, payload bytes), laid out
    as nvcc lays them out (a 16-byte header, then per entry a header holding the arch at
    offset 28, then the payload)."""
    body = b""
    for kind, arch, payload in entries:
        header = struct.pack("<HHIQ", kind, 0x101, 64, payload) + struct.pack("<III", 0, 64, 65544)
        header += struct.pack("<I", arch) + bytes(64 - 32)
        body += header + bytes([0xAB]) * payload
    return struct.pack("<IHHQ", _elf.FATBIN_MAGIC, version, 16, len(body)) + body


def so_with_section(tmp: Path, name: str, blob: bytes) -> Path:
    """A shared object built by gcc whose ``.nv_fatbin`` section holds ``blob``."""
    src = tmp / f"{name}.c"
    data = ", ".join(str(b) for b in blob)
    src.write_text(
        f'__attribute__((section(".nv_fatbin"), used, aligned(8))) '
        f"static const unsigned char fatbin[{len(blob)}] = {{{data}}};\n"
        "int tvw_kernel_stub(void) { return 0; }\n"
    )
    out = tmp / f"{name}.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(src)], check=True, capture_output=True)
    return out


@needs_gcc
@linux_only
def test_cuda_arches_read_from_the_fatbin_section(tmp_path: Path) -> None:
    one = fatbin((2, 75, 100), (2, 80, 40), (1, 120, 24))
    two = fatbin((2, 86, 8), (2, 90, 16))
    path = so_with_section(tmp_path, "ext", one + bytes(8) + two)  # padding between fatbins
    assert _elf.cuda_arches(str(path)) == {"sm": [75, 80, 86, 90], "ptx": [120]}


@needs_gcc
@linux_only
def test_cuda_arches_of_files_without_gpu_code(tmp_path: Path) -> None:
    cpu = Builder(tmp_path).so(tmp_path / "cpu.so")
    assert _elf.cuda_arches(str(cpu)) is None  # no .nv_fatbin: a CPU build
    garbage = so_with_section(tmp_path, "garbage", b"\x00\x01" * 40)
    assert _elf.cuda_arches(str(garbage)) == {"sm": [], "ptx": []}
    cut = so_with_section(tmp_path, "cut", fatbin((2, 75, 400))[:100])  # sizes pointing past the end
    assert _elf.cuda_arches(str(cut)) == {"sm": [75], "ptx": []}
    (tmp_path / "text").write_text("not an ELF file")
    assert _elf.cuda_arches(str(tmp_path / "text")) is None
    assert _elf.cuda_arches(str(tmp_path / "missing.so")) is None
