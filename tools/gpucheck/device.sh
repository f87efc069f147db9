#!/usr/bin/env bash
# End-to-end check of envlock's conda-prefix path on a GPU node, offline (tools/gpucheck/README.md).
# Run the copy that tools/gpucheck/prepare.py puts beside wheels/ (envlock and its dependencies for
# Python 3.12) and bundle/ (`envlock fetch` of the check's lock):
#   bash .devcarry/gpucheck/carry/device.sh OUTDIR
# PYBASE (default python3.12) makes the venv envlock runs from; NOGPU=1 skips the kernel run (for a
# rehearsal on a machine without a GPU, with ENVLOCK_GPUS=H200 ENVLOCK_DRIVER=580.159.04).
set -u -o pipefail
G=$(cd "$(dirname "$0")" && pwd)
OUTDIR=${1:-$G/out}
mkdir -p "$OUTDIR"
PYBASE=${PYBASE:-python3.12}
W=$(mktemp -d -t gpucheck.XXXXXX)
export ENVLOCK_STORE=$W/store XDG_CACHE_HOME=$W/cache XDG_DATA_HOME=$W/data PYTHONUNBUFFERED=1
unset VIRTUAL_ENV PYTHONPATH
LOCK=$G/bundle/envlock.lock
step() { printf '\n===== %s\n' "$*"; }
BAD=()
# expect WANT LABEL: after a command, record whether its exit status was WANT
expect() { local got=$?; echo "rc=$got"; [ "$got" = "$1" ] || BAD+=("$2: exit $got, expected $1"); }
# grepfor PATTERN FILE LABEL: record whether FILE holds PATTERN
grepfor() { grep -q -- "$1" "$2" || BAD+=("$3: no '$1' in the output"); }

step "machine"
date -u +%Y-%m-%dT%H:%M:%SZ
uname -m; ldd --version | head -1
nvidia-smi --query-gpu=index,name,compute_cap,driver_version --format=csv 2>&1 || echo "(no nvidia-smi)"
command -v "$PYBASE" && "$PYBASE" -VV && "$PYBASE" -c "import sys; print(sys.prefix, sys.base_prefix)"
command -v uv python3 cuobjdump nvcc

step "venv ($PYBASE -m venv) + pip install --no-index envlock"
cd "$W" || exit 1
if "$PYBASE" -m venv "$W/venv" 2>"$W/venv.err"; then
  PIP=("$W/venv/bin/python" -m pip install)
else
  cat "$W/venv.err"; rm -rf "$W/venv"; "$PYBASE" -m venv --without-pip "$W/venv"
  if "$PYBASE" -m pip --version >/dev/null 2>&1; then
    echo "(no ensurepip: a venv without pip, filled by the base interpreter's pip)"
    PIP=("$PYBASE" -m pip --python "$W/venv/bin/python" install)
  else
    echo "(no ensurepip, no pip: a venv without pip, filled by uv)"
    PIP=(uv pip install --python "$W/venv/bin/python")
  fi
fi
"${PIP[@]}" -q --no-index --find-links "$G/wheels" 'envlock[conda]'; expect 0 "pip install envlock"
E=$W/venv/bin/envlock
[ -x "$E" ] || { echo "FATAL: envlock was not installed"; exit 1; }
"$W/venv/bin/python" -c 'import envlock, rattler, uv; print("envlock", envlock.__version__, envlock.__file__); print("uv", uv.find_uv_bin())'
T=$W/out.txt  # the last command's output, for grepfor

step "envlock install --offline --bundle (target auto)"
"$E" install --offline --bundle "$G/bundle" -l "$LOCK" --json >"$W/install.json"; expect 0 "install"
cat "$W/install.json"
ENV=$("$W/venv/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["path"])' "$W/install.json")
echo "ENV=$ENV"
case "$ENV" in "$ENVLOCK_STORE"/*) ;; *) echo "FATAL: no environment in the store"; exit 1 ;; esac
ls "$ENV" "$ENV/lib"
cp "$W/install.json" "$OUTDIR/install.json"

step "envlock install again (a store hit)"
"$E" install --offline --bundle "$G/bundle" -l "$LOCK" 2>&1 | tee "$T"; expect 0 "install again"
grepfor "found target h200" "$T" "install again"

step "envlock run: interpreter, CONDA_PREFIX and the activation script's variable"
"$E" run -l "$LOCK" -- python -c 'import os, sys; print(sys.executable, sys.version.split()[0]); p = os.environ.get("CONDA_PREFIX"); g = os.environ.get("GPUKERNELS_HOME"); print("CONDA_PREFIX", p); print("GPUKERNELS_HOME", g, "== CONDA_PREFIX:", g == p)' 2>&1 | tee "$T"
expect 0 "run python"
grepfor "== CONDA_PREFIX: True" "$T" "activation script"

if [ -z "${NOGPU:-}" ]; then
  step "envlock run: gpudemo (ctypes -> lib/libgpukernels.so -> sum kernel on the GPU)"
  "$E" run -l "$LOCK" -- python -c 'import gpudemo; raise SystemExit(gpudemo.main())' 2>&1 | tee "$T"
  expect 0 "run gpudemo"
  grepfor "gpu sum 500000500000 (expected 500000500000, ok)" "$T" "run gpudemo"
fi

step "envlock shell"
"$E" shell -l "$LOCK"; expect 0 "shell"

step "envlock doctor"
"$E" doctor -l "$LOCK"; expect 0 "doctor"
step "envlock doctor --prefix ENV --verify"
"$E" doctor -l "$LOCK" --prefix "$ENV" --verify; expect 0 "doctor --prefix --verify"
"$E" doctor -l "$LOCK" --prefix "$ENV" --verify --json >"$OUTDIR/doctor.json"; expect 0 "doctor --json"

step "envlock inspect ENV"
"$E" inspect "$ENV" 2>&1 | tee "$T"; expect 0 "inspect"
grepfor "lib/libgpukernels.so  sm_90" "$T" "inspect"
CUOBJDUMP=${CUOBJDUMP:-$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null)}
if [ -n "$CUOBJDUMP" ]; then
  step "cuobjdump --list-elf --list-ptx lib/libgpukernels.so (cross-check)"
  "$CUOBJDUMP" --list-elf --list-ptx "$ENV/lib/libgpukernels.so"; expect 0 "cuobjdump"
fi

step "envlock verify (the environment as built)"
"$E" verify -l "$LOCK"; expect 0 "verify"
"$E" verify -l "$LOCK" --json >"$OUTDIR/verify-ok.json"; expect 0 "verify --json"

step "tamper: one byte appended to lib/libgpukernels.so (conda part), gpudemo/__init__.py edited (PyPI part)"
SITE=$ENV/lib/python3.11/site-packages
for f in "$ENV/lib" "$ENV/lib/libgpukernels.so" "$SITE/gpudemo" "$SITE/gpudemo/__init__.py"; do
  [ -w "$f" ] || chmod u+w "$f"  # root writes without a mode change
done
printf '\0' >>"$ENV/lib/libgpukernels.so"
echo '# tampered' >>"$SITE/gpudemo/__init__.py"
"$E" verify -l "$LOCK" 2>&1 | tee "$T"; expect 1 "verify after tampering"
grepfor "lib/libgpukernels.so: differs from the locked conda package libgpukernels 1.0.0" "$T" "verify after tampering"
grepfor "gpudemo/__init__.py: differs from the locked wheel of gpudemo 1.0.0" "$T" "verify after tampering"
"$E" verify -l "$LOCK" --json >"$OUTDIR/verify-tampered.json"; expect 1 "verify --json after tampering"

step "result"
if [ ${#BAD[@]} -eq 0 ]; then
  echo "gpucheck: every check as expected"
else
  printf 'gpucheck: NOT AS EXPECTED: %s\n' "${BAD[@]}"
  exit 1
fi
