"""Standalone smoke test run by `envlock doctor --smoke` with the environment's own Python.

It imports nothing from envlock (the environment may not have it) and prints one JSON document on
stdout: a PTX kernel JIT-compiled and launched through the CUDA driver API (ctypes over libcuda) on
every GPU; if torch imports, an fp32 matmul and a bf16 autocast matmul per GPU checked against a CPU
reference with their TFLOP/s; and an NCCL all-reduce across every local GPU (one process per GPU,
torch.distributed with a file store in a temporary directory) with its bus bandwidth.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

# The minimum PTX ISA version for each target (PTX ISA release notes); the kernel is JIT-compiled
# for the GPU's own architecture, so the driver must know both.
_PTX_ISA_FOR_TARGET = {
    50: "4.0", 52: "4.1", 53: "4.2", 60: "5.0", 61: "5.0", 62: "5.0", 70: "6.0", 72: "6.1", 75: "6.3",
    80: "7.0", 86: "7.1", 87: "7.4", 89: "7.8", 90: "7.8", 100: "8.6", 101: "8.6", 103: "8.8",
    110: "9.0", 120: "8.7", 121: "8.8",
}  # fmt: skip

_PTX = """\
.version {version}
.target sm_{sm}
.address_size 64

.visible .entry envlock_smoke(.param .u64 p_x, .param .u32 p_n)
{{
    .reg .pred %p<2>;
    .reg .b32 %r<6>;
    .reg .f32 %f<3>;
    .reg .b64 %rd<5>;
    ld.param.u64 %rd1, [p_x];
    ld.param.u32 %r1, [p_n];
    mov.u32 %r2, %ctaid.x;
    mov.u32 %r3, %ntid.x;
    mov.u32 %r4, %tid.x;
    mad.lo.s32 %r5, %r2, %r3, %r4;
    setp.ge.s32 %p1, %r5, %r1;
    @%p1 bra DONE;
    cvta.to.global.u64 %rd2, %rd1;
    mul.wide.s32 %rd3, %r5, 4;
    add.s64 %rd4, %rd2, %rd3;
    ld.global.f32 %f1, [%rd4];
    fma.rn.f32 %f2, %f1, 0f40000000, 0f3F800000;
    st.global.f32 [%rd4], %f2;
DONE:
    ret;
}}
"""

_CC_MAJOR, _CC_MINOR = 75, 76  # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR


def ptx_for(major: int, minor: int) -> str:
    sm = major * 10 + minor
    version = _PTX_ISA_FOR_TARGET.get(sm, "9.0" if sm > 121 else "6.0")
    return _PTX.format(version=version, sm=sm)


class CudaError(Exception):
    pass


def _load_libcuda() -> ctypes.CDLL:
    names = ["nvcuda.dll"] if sys.platform == "win32" else ["libcuda.so.1", "libcuda.so"]
    last: Exception | None = None
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as exc:
            last = exc
    raise CudaError(f"cannot load libcuda: {last}")


def _check(lib: ctypes.CDLL, rc: int, what: str) -> None:
    if rc != 0:
        name = ctypes.c_char_p()
        lib.cuGetErrorName(rc, ctypes.byref(name))
        text = name.value.decode() if name.value else str(rc)
        raise CudaError(f"{what} failed: {text}")


def kernel_smoke() -> dict[str, object]:
    """Launch the PTX kernel on every GPU through the driver API; check x -> 2x + 1."""
    lib = _load_libcuda()
    _check(lib, lib.cuInit(0), "cuInit")
    version = ctypes.c_int(0)
    _check(lib, lib.cuDriverGetVersion(ctypes.byref(version)), "cuDriverGetVersion")
    count = ctypes.c_int(0)
    _check(lib, lib.cuDeviceGetCount(ctypes.byref(count)), "cuDeviceGetCount")
    devices = []
    n = 1 << 16
    for index in range(count.value):
        entry: dict[str, object] = {"index": index}
        try:
            dev = ctypes.c_int(0)
            _check(lib, lib.cuDeviceGet(ctypes.byref(dev), index), "cuDeviceGet")
            major, minor = ctypes.c_int(0), ctypes.c_int(0)
            _check(lib, lib.cuDeviceGetAttribute(ctypes.byref(major), _CC_MAJOR, dev), "cuDeviceGetAttribute")
            _check(lib, lib.cuDeviceGetAttribute(ctypes.byref(minor), _CC_MINOR, dev), "cuDeviceGetAttribute")
            entry["cc"] = f"{major.value}.{minor.value}"
            ctx = ctypes.c_void_p()
            _check(lib, lib.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
            try:
                _check(lib, lib.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
                module = ctypes.c_void_p()
                ptx = ptx_for(major.value, minor.value).encode() + b"\0"
                _check(lib, lib.cuModuleLoadData(ctypes.byref(module), ptx), "cuModuleLoadData (PTX JIT)")
                func = ctypes.c_void_p()
                _check(
                    lib,
                    lib.cuModuleGetFunction(ctypes.byref(func), module, b"envlock_smoke"),
                    "cuModuleGetFunction",
                )
                host = (ctypes.c_float * n)(*[float(i % 1000) for i in range(n)])
                dptr = ctypes.c_uint64(0)
                _check(lib, lib.cuMemAlloc_v2(ctypes.byref(dptr), ctypes.c_size_t(4 * n)), "cuMemAlloc")
                try:
                    _check(lib, lib.cuMemcpyHtoD_v2(dptr, host, ctypes.c_size_t(4 * n)), "cuMemcpyHtoD")
                    arg_n = ctypes.c_uint32(n)
                    params = (ctypes.c_void_p * 2)(
                        ctypes.cast(ctypes.byref(dptr), ctypes.c_void_p),
                        ctypes.cast(ctypes.byref(arg_n), ctypes.c_void_p),
                    )
                    _check(
                        lib,
                        lib.cuLaunchKernel(func, (n + 255) // 256, 1, 1, 256, 1, 1, 0, None, params, None),
                        "cuLaunchKernel",
                    )
                    _check(lib, lib.cuCtxSynchronize(), "cuCtxSynchronize")
                    out = (ctypes.c_float * n)()
                    _check(lib, lib.cuMemcpyDtoH_v2(out, dptr, ctypes.c_size_t(4 * n)), "cuMemcpyDtoH")
                finally:
                    lib.cuMemFree_v2(dptr)
                    lib.cuModuleUnload(module)
                bad = [i for i in range(n) if out[i] != 2.0 * float(i % 1000) + 1.0]
                entry["ok"] = not bad
                if bad:
                    entry["error"] = f"{len(bad)} of {n} results wrong, first at {bad[0]}: {out[bad[0]]}"
            finally:
                lib.cuDevicePrimaryCtxRelease_v2(dev)
        except CudaError as exc:
            entry["ok"] = False
            entry["error"] = str(exc)
        devices.append(entry)
    v = version.value
    return {"driver-cuda": f"{v // 1000}.{(v % 1000) // 10}", "devices": devices}


def _torch(name: str = "torch") -> Any:
    # Imported by name: torch is in the environment under test, not in envlock's own.
    return importlib.import_module(name)


def _rel_error(a: Any, b: Any) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30))


def torch_smoke(size: int, iters: int) -> dict[str, object]:
    """fp32 and bf16-autocast matmuls on every GPU, checked against a CPU reference, with TFLOP/s."""
    torch = _torch()

    result: dict[str, object] = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "arch-list": torch.cuda.get_arch_list(),
        "devices": [],
    }
    torch.manual_seed(0)
    a_small, b_small = torch.randn(512, 512), torch.randn(512, 512)
    reference = a_small.double() @ b_small.double()
    devices = []
    for index in range(torch.cuda.device_count()):
        dev = torch.device("cuda", index)
        entry: dict[str, object] = {"index": index, "name": torch.cuda.get_device_name(index)}
        try:
            fp32 = (a_small.to(dev) @ b_small.to(dev)).cpu()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                bf16 = (a_small.to(dev) @ b_small.to(dev)).float().cpu()
            fp32_error, bf16_error = _rel_error(fp32, reference), _rel_error(bf16, reference)
            entry["fp32-rel-error"], entry["bf16-rel-error"] = fp32_error, bf16_error
            # fp32 without TF32 agrees to ~1e-6; bf16 (8-bit mantissa) to ~1e-2 of the largest value.
            entry["ok"] = fp32_error < 1e-3 and bf16_error < 5e-2
            for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
                a = torch.randn(size, size, device=dev, dtype=dtype)
                b = torch.randn(size, size, device=dev, dtype=dtype)
                a @ b
                torch.cuda.synchronize(dev)
                start = time.perf_counter()
                for _ in range(iters):
                    a @ b
                torch.cuda.synchronize(dev)
                seconds = time.perf_counter() - start
                entry[f"{label}-tflops"] = round(2 * size**3 * iters / seconds / 1e12, 1)
                del a, b
        except Exception as exc:  # report any failure of the GPU work as data
            entry["ok"] = False
            entry["error"] = f"{type(exc).__name__}: {exc}"
        devices.append(entry)
    result["devices"] = devices
    return result


def _nccl_rank(rank: int, world: int, store_dir: str, numel: int, iters: int) -> None:
    torch = _torch()
    dist = _torch("torch.distributed")
    torch.cuda.set_device(rank)
    dist.init_process_group(
        "nccl", init_method=f"file://{store_dir}/store", rank=rank, world_size=world,
        device_id=torch.device("cuda", rank),
    )  # fmt: skip
    try:
        x = torch.full((numel,), float(rank + 1), device="cuda")
        dist.all_reduce(x)
        torch.cuda.synchronize()
        expected = world * (world + 1) / 2
        ok = bool((x == expected).all().item())
        dist.barrier()
        start = time.perf_counter()
        for _ in range(iters):
            dist.all_reduce(x)
        torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / iters
        if rank == 0:
            nbytes = numel * 4
            algbw = nbytes / seconds / 1e9
            busbw = algbw * 2 * (world - 1) / world
            with (Path(store_dir) / "result.json").open("w") as f:
                json.dump(
                    {"ok": ok, "world": world, "bytes": nbytes, "algbw-gbps": round(algbw, 1),
                     "busbw-gbps": round(busbw, 1), "nccl": ".".join(map(str, torch.cuda.nccl.version()))},
                    f,
                )  # fmt: skip
    finally:
        dist.destroy_process_group()


def nccl_smoke(numel: int, iters: int) -> dict[str, object]:
    """An NCCL all-reduce across every local GPU, one process per GPU; bus bandwidth as nccl-tests."""
    torch = _torch()
    mp = _torch("torch.multiprocessing")
    world = torch.cuda.device_count()
    with tempfile.TemporaryDirectory(prefix="envlock-nccl-") as store_dir:
        mp.spawn(_nccl_rank, args=(world, store_dir, numel, iters), nprocs=world, join=True)
        with (Path(store_dir) / "result.json").open() as f:
            result: dict[str, object] = json.load(f)
    return result


def main() -> int:
    size = int(os.environ.get("ENVLOCK_SMOKE_MATMUL", "8192"))
    report: dict[str, object] = {"python": sys.version.split()[0]}
    try:
        report["kernel"] = kernel_smoke()
    except Exception as exc:
        report["kernel"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        _torch()
    except Exception as exc:
        report["torch"] = {"skipped": f"torch is not importable: {exc}"}
        report["nccl"] = {"skipped": "needs torch"}
    else:
        for key, fn, args in (
            ("torch", torch_smoke, (size, 20)),
            ("nccl", nccl_smoke, (1 << 26, 20)),  # 256 MiB of fp32
        ):
            try:
                report[key] = fn(*args)
            except Exception as exc:
                report[key] = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc()[-2000:],
                }
    sys.stdout.write(json.dumps(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
