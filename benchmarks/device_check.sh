#!/usr/bin/env bash
# The GPU device check for issue 7 (catalog §3.8): tvwizard's GPU findings on a real NVIDIA machine.
#
# NOT RUN ON A GPU YET: no session so far was lent a GPU machine.  The script itself was run
# end to end on a CPU machine against the real torch 2.14.1+cu130 env (TARGET_PY=...), and
# the GPU failure paths are covered there by the real tier's stand-in drivers
# (tests/real/test_fake_driver_real.py).  A session lent a GPU runs it there, from the
# repository root, as its single device call, e.g.
#
#     run(command="bash benchmarks/device_check.sh", timeout_s=420)
#
# The device machine reaches no index, so the wheels tvwizard needs travel with the tree.
# Prepare them here first (pure-Python wheels, psutil for x86_64 and aarch64, Python 3.10-3.13,
# and a wheel of this tree: the install is the real one, data files included):
#
#     bash benchmarks/device_check.sh --prepare        # writes device-wheels/ (git-ignored, ~4 MB)
#     run(command="bash benchmarks/device_check.sh", carry=["device-wheels"], timeout_s=420)
#
# What it does, in a bounded time (each tvwizard run is capped by RUN_TIMEOUT, default 150 s):
#   1. installs tvwizard into a throwaway venv from device-wheels/ (no index); without them,
#      falls back to a .pth file onto src/ and whatever the system has (pip's vendored
#      `packaging` when the real one is missing; no rich: no checklist);
#   2. runs `tvwizard --python "$TARGET_PY" check --json` against the machine's python3 (the
#      one with CUDA torch + torchvision), three times:
#        plain                     - the normal case: expect no GPU error finding, nms on each GPU
#        CUDA_VISIBLE_DEVICES=""   - every GPU hidden: expect cuda-unavailable ("hides every GPU")
#        CUDA_HOME=/nonexistent    - expect cuda-home-invalid (warning)
#   3. prints, per run, compactly: the GPU facts (driver, CUDA, GPUs with compute capability),
#      torch.cuda (available, arch list, devices), torchvision's compiled CUDA version, nms per
#      device (result, seconds), the GPU checklist line and the findings (GPU ones in full).
# Reports land in $OUT (the device tool's output folder) or ./device-out.
#
# Knobs: TARGET_PY (default python3), RUN_TIMEOUT (seconds per tvwizard run), SKIP_VARIANTS=1
# (plain run only).  Never imports torch in tvwizard's own process; the target does that.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELS="$ROOT/device-wheels"

if [ "${1:-}" = "--prepare" ]; then  # here, with an index: the wheels the device lacks
    PY="${PREPARE_PY:-$ROOT/.venv/bin/python}"
    rm -rf "$WHEELS" && mkdir -p "$WHEELS" || exit 2
    "$PY" -m pip wheel --quiet --no-deps --wheel-dir "$WHEELS" "$ROOT" || exit 2
    for arch in x86_64 aarch64; do
        for v in 3.10 3.11 3.12 3.13; do
            "$PY" -m pip download --quiet --only-binary=:all: --implementation cp --python-version "$v" \
                --platform "manylinux2014_$arch" --platform "manylinux_2_17_$arch" --platform any \
                --dest "$WHEELS" "$ROOT" 2>&1 | grep -v "is ignored: it is neither" || true
        done
    done
    ls "$WHEELS"
    du -sh "$WHEELS"
    exit 0
fi
OUT_DIR="${OUT:-$ROOT/device-out}"
TARGET_PY="${TARGET_PY:-python3}"
RUN_TIMEOUT="${RUN_TIMEOUT:-150}"
VENV="${TVW_VENV:-$(mktemp -d)/tvw-venv}"
mkdir -p "$OUT_DIR"

say() { printf '== %s\n' "$*"; }

say "machine"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=index,name,driver_version,compute_cap,memory.total,mig.mode.current --format=csv,noheader 2>&1 | head -8
    nvidia-smi -L 2>&1 | head -16  # GPU and MIG instance UUIDs, to compare with tvwizard's
else
    echo "no nvidia-smi on PATH"
fi
head -1 /proc/driver/nvidia/version 2>/dev/null || true
command -v "$TARGET_PY" >/dev/null 2>&1 || { echo "no $TARGET_PY on PATH"; exit 2; }
TARGET_PY="$(command -v "$TARGET_PY")"  # tvwizard --python wants a path, not a bare name
"$TARGET_PY" -c 'import sys; print(sys.executable, sys.version.split()[0])'
# what is installed, read from metadata only (no torch import here)
"$TARGET_PY" - <<'EOF'
from importlib import metadata
for name in ("torch", "torchvision", "numpy"):
    try:
        print(f"{name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"{name} not installed")
EOF

# -- 1. tvwizard into a venv ---------------------------------------------------------------------
say "tvwizard venv at $VENV"
BASE_PY=""
for cand in python3.13 python3.12 python3.11 python3.10 "$TARGET_PY" python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        BASE_PY="$cand"
        break
    fi
done
[ -n "$BASE_PY" ] || { echo "no Python >= 3.10 for tvwizard itself"; exit 2; }
"$BASE_PY" -m venv --system-site-packages "$VENV" || exit 2
VPY="$VENV/bin/python"
if ls "$WHEELS"/tvwizard-*.whl >/dev/null 2>&1; then
    timeout 180 "$VPY" -m pip install --quiet --no-index --find-links "$WHEELS" tvwizard ||
        echo "(installing from $WHEELS failed: see above)"
    "$VPY" -m pip list 2>/dev/null | grep -i -E '^(tvwizard|textual|rich|packaging|psutil) '
elif ! timeout 120 "$VPY" -m pip install --quiet --no-deps --no-build-isolation --no-index "$ROOT" 2>/dev/null; then
    site="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ROOT/src" > "$site/tvwizard-src.pth"
    echo "(pip could not build offline: using $ROOT/src through a .pth file)"
fi
if ! "$VPY" -c 'import packaging.version' 2>/dev/null; then
    site="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    vend="$("$VPY" -c 'import os, pip._vendor.packaging as p; print(os.path.dirname(p.__file__))' 2>/dev/null)"
    timeout 60 "$VPY" -m pip install --quiet --retries 0 --timeout 5 packaging 2>/dev/null || { [ -n "$vend" ] && ln -s "$vend" "$site/packaging"; }
fi
"$VPY" -c 'import psutil' 2>/dev/null || timeout 60 "$VPY" -m pip install --quiet --retries 0 --timeout 5 psutil 2>/dev/null ||
    echo "(psutil missing: system facts will say so; GPU facts do not need it)"
"$VPY" -m tvwizard --version || exit 2

# -- 2./3. the runs ------------------------------------------------------------------------------
summarize() {
    "$VPY" - "$1" <<'EOF'
import json, sys

path = sys.argv[1]
try:
    r = json.load(open(path))
except Exception as exc:
    print("  no report:", exc)
    sys.exit(0)
g = r.get("system", {}).get("gpu", {})
print(f"  gpu facts: state={g.get('state')} source={g.get('source')} driver={g.get('driver')} "
      f"cuda_driver={g.get('cuda_driver')} visible={g.get('visible_devices', {}).get('visible')}")
try:  # tvwizard's own words for what CUDA_VISIBLE_DEVICES does (MIG instances, device order)
    from tvwizard.gpu import visible_devices_text

    print(f"  visibility: {visible_devices_text(g.get('visible_devices') or {})}")
except Exception as exc:
    print("  visibility: ?", exc)
lx = g.get("linux") or {}
print(f"  kernel side: module={lx.get('kernel_module')} nodes={lx.get('nodes')}")
for a in g.get("attempts") or []:
    print(f"    attempt {a.get('source')}: ok={a.get('ok')} state={a.get('state')} {a.get('duration')}s "
          f"{(a.get('error') or '')[:160]}")
for x in g.get("gpus") or []:
    print(f"    [{x.get('index')}] {x.get('name')} cc={x.get('compute_capability')} "
          f"mem={x.get('memory_total_mib')}MiB mig={x.get('mig_mode')} visible={x.get('visible')} "
          f"mig_devices={len(x['mig_devices']) if 'mig_devices' in x else '-'} errors={x.get('errors') or {}}")
live = next((p for p in r.get("probes", []) if p["name"] == "live"), {})
steps = {s["name"]: s for s in live.get("steps", [])}
imp = steps.get("import_torch", {}).get("data", {})
tv = steps.get("import_torchvision", {}).get("data", {})
print(f"  torch {imp.get('version')} cuda={imp.get('cuda')}  torchvision {tv.get('version')} ok={tv.get('ok')}")
ext = steps.get("extensions", {}).get("data", {})
print(f"  torchvision _cuda_version={ext.get('cuda_version')}")
c = steps.get("cuda", {}).get("data", {})
print(f"  torch.cuda: available={c.get('available')} count={c.get('count')} cudnn={c.get('cudnn')}")
print(f"    arch_list={c.get('arch_list')} source={c.get('arch_list_source') or 'get_arch_list()'}")
for d in c.get("devices") or []:
    print(f"    cuda:{d.get('index')} {d.get('name')} cc={d.get('capability')}")
for w in c.get("warnings") or []:
    print(f"    warning: {w.get('message', '')[:300]}")
for name, s in steps.items():
    if name.startswith("nms_"):
        d = s.get("data", {})
        err = (d.get("error") or {}).get("message", "").splitlines()
        print(f"  {name:12s} {s.get('status'):7s} correct={d.get('correct')} seconds={d.get('seconds')} "
              f"again={d.get('seconds_again')} "
              f"step={s.get('duration')}" + (f" error={err[0][:200]}" if err else ""))
for ch in r.get("checks", []):
    if ch["id"] in ("gpu", "cuda") or ch["id"].startswith("nms_"):
        print(f"  check {ch['id']:12s} {ch['status']:8s} {ch.get('summary', '')}")
gpu_ids = {"gpu-driver-missing", "driver-too-old", "gpu-arch-unsupported", "cuda-unavailable",
           "cuda-home-invalid", "cuda-build-without-gpu", "build-variant-mismatch"}
print(f"  verdict={r.get('verdict')} exit={r.get('exit_code')} duration={r.get('duration')}s")
for f in r.get("findings", []):
    mark = "*" if f["id"] in gpu_ids else " "
    print(f"  {mark} {f['severity']:7s} {f['id']}{' <- ' + f['caused_by'] if f.get('caused_by') else ''}: "
          f"{f['title'][:220]}")
    if f["id"] in gpu_ids:
        for e in f.get("evidence", [])[:4]:
            print(f"        evidence {e['probe']}/{e['fact']}: {e['detail'][:200]}")
        for fx in f.get("fixes", [])[:3]:
            print(f"        fix {fx['id']}: {fx['title'][:160]}")
EOF
}

run_one() {  # name, then env assignments
    local name="$1"
    shift
    say "run: $name"
    local start end
    start=$(date +%s.%N)
    env "$@" timeout "$RUN_TIMEOUT" "$VPY" -m tvwizard --python "$TARGET_PY" check --json \
        >"$OUT_DIR/report-$name.json" 2>"$OUT_DIR/stderr-$name.txt"
    local rc=$?
    end=$(date +%s.%N)
    echo "  rc=$rc wall=$(echo "$end - $start" | bc 2>/dev/null || echo '?')s"
    [ "$rc" = 124 ] && echo "  TIMED OUT after $RUN_TIMEOUT s"
    tail -3 "$OUT_DIR/stderr-$name.txt" | sed 's/^/  stderr: /'
    summarize "$OUT_DIR/report-$name.json"
}

run_one plain
say "the checklist a person sees (plain run)"
timeout "$RUN_TIMEOUT" "$VPY" -m tvwizard --python "$TARGET_PY" check --ascii 2>&1 | head -60
if [ "${SKIP_VARIANTS:-0}" != 1 ]; then
    run_one hidden CUDA_VISIBLE_DEVICES=
    run_one cudahome CUDA_HOME=/nonexistent
fi
say "reports in $OUT_DIR"
