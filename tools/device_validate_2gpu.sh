#!/usr/bin/env bash
# Real-hardware validation of `envlock doctor` (detection and --smoke) on a node with several GPUs,
# so that the smoke test's NCCL all-reduce crosses GPUs (see docs/hardware-validation.md).
# Run from the repository root on a multi-GPU node with torch installed:
#   PY=/path/to/env/bin/python ENV_PREFIX=/path/to/env tools/device_validate_2gpu.sh OUT_DIR
# NVLink multicast (NVLS) stays off: this script exports NCCL_NVLS_ENABLE=0 and friends for every child.
set -u
OUTDIR=${1:-./device-out}
PY=${PY:-python3}
ENV_PREFIX=${ENV_PREFIX:-$($PY -c 'import sys; print(sys.prefix)')}
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
mkdir -p "$OUTDIR/locks"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
step() { printf '\n===== %s\n' "$*"; }

step "date, machine, driver, GPUs"
date -u +%Y-%m-%dT%H:%M:%SZ
uname -r
nproc
nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version --format=csv
nvidia-smi | grep -m1 "CUDA Version"
nvidia-smi topo -m
cat /proc/driver/nvidia/version
ldd --version | head -1
env | grep -E '^(NCCL|TORCH_SYMM|NVSHMEM)_' | sort
$PY -c 'import torch; print(torch.__version__, torch.version.cuda, "nccl", torch.cuda.nccl.version(), "devices", torch.cuda.device_count())'

step "node detection (NVML, then nvidia-smi)"
$PY - <<'PY'
import os
from envlock.node import detect_node
base = {k: v for k, v in os.environ.items() if not k.startswith("ENVLOCK_")}
for label, env in (("nvml", base), ("nvidia-smi", {**base, "ENVLOCK_NVML_LIBRARY": "libnvidia-ml-absent.so"})):
    node = detect_node(env)
    gpus = ", ".join(f"{g.index}:{g.name}:{g.cc.sm}:{g.memory_mib}MiB" for g in node.gpus) or "none"
    print(f"{label:>10}: source={node.source} driver={node.driver} cuda={node.cuda_driver_api} "
          f"gpus({len(node.gpus)})=[{gpus}]")
PY

step "locks"
$PY tools/device_locks.py "$OUTDIR/locks"
LOCK="$OUTDIR/locks/envlock.lock"

step "doctor: a target that fits, every GPU listed (expect exit 0)"
timeout 300 $PY -m envlock doctor -l "$LOCK" --target h100-cu130 --prefix "$ENV_PREFIX"; echo "rc=$?"

step "doctor --smoke --json (expect exit 0; JSON to smoke.json)"
timeout 580 $PY -m envlock doctor -l "$LOCK" --target h100-cu130 --prefix "$ENV_PREFIX" --smoke --json \
  > "$OUTDIR/smoke.json"; echo "rc=$?"
$PY - "$OUTDIR/smoke.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
smoke = doc.get("smoke") or {}
print("nccl:", json.dumps(smoke.get("nccl")))
for d in (smoke.get("torch") or {}).get("devices", []):
    print("matmul:", json.dumps(d))
for c in doc.get("checks", []):
    if str(c.get("name", "")).startswith("smoke"):
        print("check:", c.get("status"), c.get("name"), "-", c.get("message"))
PY

step "doctor --smoke, human output (expect exit 0)"
timeout 580 $PY -m envlock doctor -l "$LOCK" --target h100-cu130 --prefix "$ENV_PREFIX" --smoke; echo "rc=$?"

step "smoke worker alone with NCCL_DEBUG=INFO, small matmuls (output to worker.log)"
# NCCL writes its INFO lines to stdout unless NCCL_DEBUG_FILE is set; the worker's JSON is the last
# line that starts with '{' (run_smoke reads it the same way).
ENVLOCK_SMOKE_MATMUL=1024 NCCL_DEBUG=INFO timeout 300 $PY envlock/doctor/smoke_worker.py \
  > "$OUTDIR/worker.log" 2>&1; echo "rc=$?"
grep '^{' "$OUTDIR/worker.log" | tail -1 | $PY -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["nccl"]))'
grep -E 'NCCL version|nvls channels|Channel 00/0 |Connected all rings' "$OUTDIR/worker.log" | head -10
