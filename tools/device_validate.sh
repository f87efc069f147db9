#!/usr/bin/env bash
# Real-hardware validation of node detection, inspect and doctor (see docs/hardware-validation.md).
# Run from the repository root on a GPU node with torch installed:
#   PY=/path/to/env/bin/python ENV_PREFIX=/path/to/env tools/device_validate.sh OUT_DIR
set -u
OUTDIR=${1:-./device-out}
PY=${PY:-python3}
ENV_PREFIX=${ENV_PREFIX:-$($PY -c 'import sys; print(sys.prefix)')}
mkdir -p "$OUTDIR/locks"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SITE=$($PY -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
CUOBJDUMP=$(command -v cuobjdump || echo /usr/local/cuda/bin/cuobjdump)
step() { printf '\n===== %s\n' "$*"; }

step "date, machine, driver"
date -u +%Y-%m-%dT%H:%M:%SZ
nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version --format=csv
nvidia-smi | grep -m1 "CUDA Version"
cat /proc/driver/nvidia/version
ldd --version | head -1

step "node detection through each layer"
$PY - <<'PY'
import os
from envlock.node import detect_node
base = {k: v for k, v in os.environ.items() if not k.startswith("ENVLOCK_")}
for label, env, proc in (
    ("nvml", base, None),
    ("nvidia-smi", {**base, "ENVLOCK_NVML_LIBRARY": "libnvidia-ml-absent.so"}, None),
    ("proc", {**base, "ENVLOCK_NVML_LIBRARY": "libnvidia-ml-absent.so", "PATH": "/nonexistent"}, None),
):
    node = detect_node(env)
    gpus = ", ".join(f"{g.index}:{g.name}:{g.cc.sm}:{g.memory_mib}MiB" for g in node.gpus) or "none"
    print(f"{label:>10}: source={node.source} driver={node.driver} cuda={node.cuda_driver_api} "
          f"glibc={node.glibc} platform={node.platform} gpus=[{gpus}]")
PY

step "torch's own view"
$PY -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_arch_list())'

step "envlock inspect torch/lib"
time $PY -m envlock inspect "$SITE/torch/lib"; echo "rc=$?"

step "envlock inspect the whole environment (JSON to inspect-env.json)"
time $PY -m envlock inspect --json "$ENV_PREFIX" > "$OUTDIR/inspect-env.json"; echo "rc=$?"
$PY - "$OUTDIR/inspect-env.json" <<'PY'
import collections, json, sys
docs = json.load(open(sys.argv[1]))
cuda = [d for d in docs if d["has-cuda"]]
print(f"{len(docs)} ELF files, {len(cuda)} with CUDA code")
print("compression:", dict(collections.Counter(d["compressed"] for d in cuda)))
no90 = [d["path"].split("site-packages/")[-1] for d in cuda if not any(s.startswith("sm_9") for s in d["sass"])]
print("libraries without any sm_9x cubin:", no90 or "none")
PY

step "cuobjdump cross-check of libtorch_cuda.so and one NVIDIA library"
for lib in "$SITE/torch/lib/libtorch_cuda.so" $(ls "$SITE"/nvidia/cu13/lib/libcublasLt.so.* 2>/dev/null | head -1); do
  echo "-- $lib"
  $PY - "$lib" "$CUOBJDUMP" <<'PY'
import collections, re, subprocess, sys
from pathlib import Path
from envlock.inspect import inspect_path
lib, tool = sys.argv[1], sys.argv[2]
[r] = inspect_path(Path(lib))
text = subprocess.run([tool, "--list-elf", "--list-ptx", lib], capture_output=True, text=True).stdout
sass = re.findall(r"^ELF file\s+\d+: .*\.(sm_\d+[a-z]?)\.cubin$", text, re.M)
ptx = re.findall(r"^PTX file\s+\d+: .*\.(sm_\d+[a-z]?)\.ptx$", text, re.M)
print("envlock  :", r.sass_names, r.ptx_names, r.sass_entries, r.ptx_entries, r.compressed, r.containers)
print("cuobjdump:", sorted(set(sass), key=lambda s: int(re.sub(r"\D", "", s))), sorted(set(ptx)), len(sass), len(ptx))
same = set(sass) == set(r.sass_names) and set(ptx) == set(r.ptx_names) and len(sass) == r.sass_entries and len(ptx) == r.ptx_entries
print("AGREE" if same else "DISAGREE")
PY
done

step "locks"
$PY tools/device_locks.py "$OUTDIR/locks"

step "doctor: a target that fits (expect exit 0)"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock" --target h100-cu130 --prefix "$ENV_PREFIX"; echo "rc=$?"

step "doctor: automatic choice (expect h100-cu130, exit 0)"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock"; echo "rc=$?"

step "doctor: a torch build without sm_90 (expect exit 1)"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock" --target old-cu117; echo "rc=$?"

step "doctor: unknown target (expect exit 2)"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock" --target a100; echo "rc=$?"

step "doctor --smoke (expect exit 0)"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock" --target h100-cu130 --prefix "$ENV_PREFIX" --smoke --json > "$OUTDIR/smoke.json"; echo "rc=$?"
$PY -m envlock doctor -l "$OUTDIR/locks/envlock.lock" --target h100-cu130 --smoke; echo "rc=$?"
