"""The smoke worker and how its report becomes doctor checks."""

from __future__ import annotations

import sys

from envlock.doctor.smoke import interpret, run_smoke

# The shape smoke_worker.py prints on a GPU node (values as seen on an H100 node).
GPU_REPORT = {
    "python": "3.12.3",
    "kernel": {"driver-cuda": "13.0", "devices": [{"index": 0, "cc": "9.0", "ok": True}]},
    "torch": {
        "version": "2.11.0+cu130",
        "cuda": "13.0",
        "arch-list": ["sm_90"],
        "devices": [
            {"index": 0, "name": "NVIDIA H100", "ok": True, "fp32-tflops": 50.1, "bf16-tflops": 700.2,
             "fp32-rel-error": 1e-7, "bf16-rel-error": 4e-3},
        ],
    },
    "nccl": {"ok": True, "world": 1, "bytes": 1 << 28, "algbw-gbps": 1000.0, "busbw-gbps": 0.0,
             "nccl": "2.28.9"},
}  # fmt: skip


def test_a_healthy_report_passes() -> None:
    checks = interpret(GPU_REPORT)
    assert [c.status for c in checks] == ["ok", "ok", "ok"]
    assert "bf16 autocast 700.2 TFLOP/s" in checks[1].message
    assert "all-reduce of 256 MiB on one GPU" in checks[2].message


def test_one_gpu_nccl_says_bandwidth_was_skipped_not_zero() -> None:
    message = interpret(GPU_REPORT)[2].message
    assert "bandwidth test skipped: one GPU" in message
    assert "0.0 GB/s" not in message
    two = dict(GPU_REPORT)
    two["nccl"] = {"ok": True, "world": 2, "bytes": 1 << 28, "algbw-gbps": 100.0, "busbw-gbps": 100.0,
                   "nccl": "2.28.9"}  # fmt: skip
    assert "bus bandwidth 100.0 GB/s" in interpret(two)[2].message


def test_wrong_results_and_errors_fail() -> None:
    bad = dict(GPU_REPORT)
    error = "cuModuleLoadData (PTX JIT) failed: CUDA_ERROR_UNSUPPORTED_PTX_VERSION"
    bad["kernel"] = {
        "driver-cuda": "13.0",
        "devices": [{"index": 0, "cc": "9.0", "ok": False, "error": error}],
    }
    bad["nccl"] = {"error": "DistBackendError: NCCL error"}
    statuses = {c.name: c.status for c in interpret(bad)}
    assert statuses == {"smoke kernel 0": "fail", "smoke matmul 0": "ok", "smoke nccl": "fail"}


def test_real_worker_on_a_node_without_libcuda() -> None:
    # This runs the real worker with this Python: where libcuda is absent (CI) the kernel check must
    # fail with the reason; on a GPU machine it must pass.
    result = run_smoke(sys.executable, timeout_s=300)
    assert result.raw is not None
    kernel = result.raw["kernel"]
    assert isinstance(kernel, dict)
    if "error" in kernel:
        assert "cannot load libcuda" in str(kernel["error"])
        assert not result.ok
    else:
        assert result.checks[0].status == "ok"
