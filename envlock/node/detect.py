"""Detect this node's platform, glibc, NVIDIA driver and GPUs, layer by layer.

Order (architecture.md §8): the overrides `ENVLOCK_GPUS` / `ENVLOCK_DRIVER` (containers, CI, tests), then NVML
through ctypes, then `nvidia-smi`, then `/proc/driver/nvidia/version` (driver only). Each layer that
fails falls through to the next and leaves a note saying why, so `doctor` can explain its answer.

Overrides read from the environment (all optional):

* `ENVLOCK_GPUS`: comma-separated GPU names ("H100") or compute capabilities ("sm_90", "9.0"), one
  entry per GPU ("H100,H100" is two); empty or "none" means a node without GPUs. Names are resolved
  through the knowledge base.
* `ENVLOCK_DRIVER`: the driver version as NVIDIA writes it, `MAJOR.MINOR[.PATCH]` ("580.65.06",
  "560.35"); empty or "none" means no driver.
* `ENVLOCK_CUDA_DRIVER_API`: the CUDA version the driver supports, e.g. "13.0".
* `ENVLOCK_GLIBC`: the glibc version to assume, `MAJOR.MINOR` ("2.17"); empty means no glibc.

A value in another form is a usage error (exit 2), raised before anything is judged.
* `ENVLOCK_NVML_LIBRARY`: the NVML library to load instead of `libnvidia-ml.so.1`.

An override replaces only what it names; the rest is still detected.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from envlock import processes
from envlock.errors import UsageError
from envlock.kb.model import ComputeCapability
from envlock.node.model import DetectedGpu, NodeInfo
from envlock.platforms import host_platform
from envlock.spec.driver import driver_problem

ENV_GPUS = "ENVLOCK_GPUS"
ENV_DRIVER = "ENVLOCK_DRIVER"
ENV_CUDA_DRIVER_API = "ENVLOCK_CUDA_DRIVER_API"
ENV_GLIBC = "ENVLOCK_GLIBC"
ENV_NVML_LIBRARY = "ENVLOCK_NVML_LIBRARY"

DEFAULT_NVML_LIBRARY = "libnvidia-ml.so.1"
PROC_DRIVER_VERSION = Path("/proc/driver/nvidia/version")
_NONE_WORDS = ("", "none")
_NVIDIA_SMI_TIMEOUT_S = 30.0
_DRIVER_OVERRIDE_RE = re.compile(r"^\d{2,4}\.\d{1,3}(?:\.\d{1,3})?$")
_GLIBC_OVERRIDE_RE = re.compile(r"^\d+\.\d+$")
_DRIVER_RE = re.compile(r"\b(\d{3,4}\.\d{1,3}(?:\.\d{1,3})?)\b")
_SMI_CUDA_RE = re.compile(r"CUDA Version:\s*(\d+\.\d+)")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Layer:
    """What one detection layer found; `gpus` is None when it cannot say."""

    gpus: tuple[DetectedGpu, ...] | None
    driver: str | None
    cuda_driver_api: str | None
    source: str


def _glibc(env: Mapping[str, str]) -> str | None:
    override = env.get(ENV_GLIBC)
    if override is not None:
        value = override.strip()
        if value and not _GLIBC_OVERRIDE_RE.match(value):
            raise UsageError(
                f"{ENV_GLIBC}={override!r} is not a glibc version",
                hint=f'write MAJOR.MINOR, e.g. {ENV_GLIBC}=2.17 (empty: no glibc)',
            )
        return value or None
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None
    if not text:
        return None
    name, _, version = text.partition(" ")
    return version if name == "glibc" and version else None


def _resolve_gpu_word(word: str) -> ComputeCapability:
    try:
        return ComputeCapability.parse(word)
    except ValueError:
        pass
    from envlock.kb.loader import load_kb

    kb = load_kb()
    try:
        return kb.resolve_gpu(word)
    except KeyError:
        foreign = kb.foreign_gpu(word)
        if foreign is not None:
            raise UsageError(
                f"{ENV_GPUS}: {word!r}: {foreign}",
                hint="ENVLOCK_GPUS lists NVIDIA GPUs only; ENVLOCK_GPUS=none means no GPUs",
            ) from None
        raise UsageError(
            f"{ENV_GPUS}: unknown GPU {word!r}",
            hint='write a GPU name the knowledge base knows ("H100", "A100") or a compute capability '
            '("sm_90", "9.0"); ENVLOCK_GPUS=none means no GPUs',
        ) from None


def _driver_from_env(text: str) -> str | None:
    value = text.strip()
    if value.lower() in _NONE_WORDS:
        return None
    problem = driver_problem(value)
    if problem is not None and value.isdigit():  # a branch alone: the spec's message and hint
        raise UsageError(
            f"{ENV_DRIVER}={text!r} is not a full driver version, only a driver branch",
            hint=problem[1] + f"; or {ENV_DRIVER}=none",
        )
    if not _DRIVER_OVERRIDE_RE.match(value):
        raise UsageError(
            f"{ENV_DRIVER}={text!r} is not an NVIDIA driver version",
            hint=f"write it as NVIDIA does, MAJOR.MINOR[.PATCH], e.g. {ENV_DRIVER}=580.65.06 "
            f"({ENV_DRIVER}=none: no driver)",
        )
    return value


def _gpus_from_env(text: str) -> tuple[DetectedGpu, ...]:
    if text.strip().lower() in _NONE_WORDS:
        return ()
    words = [w.strip() for w in text.split(",") if w.strip()]
    return tuple(
        DetectedGpu(index=i, name=w, cc=_resolve_gpu_word(w), memory_mib=None) for i, w in enumerate(words)
    )


# --- NVML -------------------------------------------------------------------------------------------


class _NvmlMemory(ctypes.Structure):
    _fields_ = (
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    )


class _NvmlFailed(Exception):
    pass


def _nvml_call(lib: ctypes.CDLL, name: str, *args: object) -> None:
    fn = getattr(lib, name)
    rc = fn(*args)
    if rc != 0:
        raise _NvmlFailed(f"{name} returned {rc}")


def _cuda_int_to_text(value: int) -> str:
    return f"{value // 1000}.{(value % 1000) // 10}"


def _from_nvml(library: str) -> _Layer:
    try:
        lib = ctypes.CDLL(library)
    except OSError as exc:
        raise _NvmlFailed(f"cannot load {library}: {exc}") from None
    try:
        _nvml_call(lib, "nvmlInit_v2")
    except (AttributeError, _NvmlFailed) as exc:
        raise _NvmlFailed(f"nvmlInit_v2 failed ({exc})") from None
    try:
        buf = ctypes.create_string_buffer(96)
        _nvml_call(lib, "nvmlSystemGetDriverVersion", buf, ctypes.c_uint(len(buf)))
        driver = buf.value.decode("ascii", "replace").strip()
        cuda: str | None = None
        cuda_int = ctypes.c_int(0)
        try:
            _nvml_call(lib, "nvmlSystemGetCudaDriverVersion_v2", ctypes.byref(cuda_int))
            cuda = _cuda_int_to_text(cuda_int.value)
        except (AttributeError, _NvmlFailed):
            cuda = None
        count = ctypes.c_uint(0)
        _nvml_call(lib, "nvmlDeviceGetCount_v2", ctypes.byref(count))
        gpus = []
        for index in range(count.value):
            handle = ctypes.c_void_p()
            _nvml_call(lib, "nvmlDeviceGetHandleByIndex_v2", ctypes.c_uint(index), ctypes.byref(handle))
            name = ctypes.create_string_buffer(96)
            _nvml_call(lib, "nvmlDeviceGetName", handle, name, ctypes.c_uint(len(name)))
            major, minor = ctypes.c_int(0), ctypes.c_int(0)
            _nvml_call(
                lib, "nvmlDeviceGetCudaComputeCapability", handle, ctypes.byref(major), ctypes.byref(minor)
            )
            memory: int | None
            mem = _NvmlMemory()
            try:
                _nvml_call(lib, "nvmlDeviceGetMemoryInfo", handle, ctypes.byref(mem))
                memory = int(mem.total // (1024 * 1024))
            except _NvmlFailed:
                memory = None
            gpus.append(
                DetectedGpu(
                    index=index,
                    name=name.value.decode("utf-8", "replace").strip(),
                    cc=ComputeCapability(major=major.value, minor=minor.value),
                    memory_mib=memory,
                )
            )
        return _Layer(gpus=tuple(gpus), driver=driver or None, cuda_driver_api=cuda, source="nvml")
    except AttributeError as exc:
        raise _NvmlFailed(f"{library} lacks a function: {exc}") from None
    finally:
        with contextlib.suppress(AttributeError):
            lib.nvmlShutdown()


# --- nvidia-smi -------------------------------------------------------------------------------------


def _run_smi(smi: str, args: list[str], env: Mapping[str, str]) -> str:
    try:
        done = processes.run(
            [smi, *args],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT_S,
            env=dict(env),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _NvmlFailed(f"nvidia-smi could not run: {exc}") from None
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()
        raise _NvmlFailed(f"nvidia-smi exited {done.returncode}: {tail[-1] if tail else 'no output'}")
    return done.stdout


def _parse_memory(text: str) -> int | None:
    word = text.strip().split(" ")[0]
    return int(word) if word.isdigit() else None


def _from_nvidia_smi(smi: str, env: Mapping[str, str]) -> tuple[_Layer, list[str]]:
    notes: list[str] = []
    gpus: list[DetectedGpu] = []
    out = _run_smi(
        smi,
        ["--query-gpu=index,name,compute_cap,memory.total,driver_version", "--format=csv,noheader"],
        env,
    )
    driver: str | None = None
    for line in out.splitlines():
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 5:
            raise _NvmlFailed(f"nvidia-smi printed an unexpected line: {line.strip()!r}")
        index, name, cap, memory, drv = fields
        driver = driver or drv or None
        try:
            cc = ComputeCapability.parse(cap)
        except ValueError:
            try:
                cc = _resolve_gpu_word(name)
            except UsageError:
                notes.append(f"nvidia-smi: GPU {index} {name!r} has no compute capability envlock knows")
                continue
        gpus.append(
            DetectedGpu(
                index=int(index) if index.isdigit() else len(gpus),
                name=name,
                cc=cc,
                memory_mib=_parse_memory(memory),
            )
        )
    cuda: str | None = None
    try:
        m = _SMI_CUDA_RE.search(_run_smi(smi, [], env))
        cuda = m.group(1) if m else None
    except _NvmlFailed:
        cuda = None
    return _Layer(gpus=tuple(gpus), driver=driver, cuda_driver_api=cuda, source="nvidia-smi"), notes


# --- /proc ------------------------------------------------------------------------------------------


def _from_proc(path: Path) -> _Layer:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise _NvmlFailed(f"{path}: {exc.strerror or exc}") from None
    for line in text.splitlines():
        if line.startswith("NVRM version:"):
            m = _DRIVER_RE.search(line.partition(":")[2])
            if m:
                return _Layer(gpus=None, driver=m.group(1), cuda_driver_api=None, source="proc")
    raise _NvmlFailed(f"{path} names no driver version")


def _hardware(
    env: Mapping[str, str], *, nvml_library: str | None, proc_version: Path
) -> tuple[_Layer, list[str]]:
    notes: list[str] = []
    library = nvml_library or env.get(ENV_NVML_LIBRARY) or DEFAULT_NVML_LIBRARY
    try:
        return _from_nvml(library), notes
    except _NvmlFailed as exc:
        notes.append(f"NVML: {exc}")
    smi = shutil.which("nvidia-smi", path=env.get("PATH", os.defpath))
    if smi is None:
        notes.append("nvidia-smi: not found on PATH")
    else:
        try:
            layer, smi_notes = _from_nvidia_smi(smi, env)
            return layer, notes + smi_notes
        except _NvmlFailed as exc:
            notes.append(f"nvidia-smi: {exc}")
    try:
        layer = _from_proc(proc_version)
        notes.append("GPUs unknown: only the driver version could be read (from /proc)")
        return layer, notes
    except _NvmlFailed as exc:
        notes.append(f"proc: {exc}")
    notes.append("no NVIDIA driver found on this node")
    return _Layer(gpus=(), driver=None, cuda_driver_api=None, source="none"), notes


def detect_node(
    env: Mapping[str, str] | None = None,
    *,
    nvml_library: str | None = None,
    proc_version: Path = PROC_DRIVER_VERSION,
) -> NodeInfo:
    """Detect this node: platform, glibc, NVIDIA driver and GPUs.

    `env` defaults to `os.environ`; it supplies the overrides (module docstring) and the PATH on
    which `nvidia-smi` is looked for. `nvml_library` and `proc_version` replace the NVML library and
    the `/proc` file (tests). Never raises for a missing driver (that is `source="none"`); raises
    `UsageError` when ENVLOCK_GPUS names a GPU the knowledge base does not know, or when
    ENVLOCK_DRIVER / ENVLOCK_GLIBC are not versions (a driver must be a full version, the spec's rule,
    `envlock.spec.driver`).
    """
    env = os.environ if env is None else env
    gpus_override = env.get(ENV_GPUS)
    driver_override = env.get(ENV_DRIVER)
    cuda_override = env.get(ENV_CUDA_DRIVER_API)
    notes: list[str] = []

    # every override is read (and refused when malformed) before any hardware is asked
    glibc = _glibc(env)
    overridden_driver = _driver_from_env(driver_override) if driver_override is not None else None
    overridden_gpus = _gpus_from_env(gpus_override) if gpus_override is not None else None
    need_hardware = overridden_gpus is None or driver_override is None
    if need_hardware:
        layer, notes = _hardware(env, nvml_library=nvml_library, proc_version=proc_version)
    else:
        layer = _Layer(gpus=(), driver=None, cuda_driver_api=None, source="env")

    if overridden_gpus is not None:
        layer = replace(layer, gpus=overridden_gpus, source="env")
        notes.append(f"GPUs from {ENV_GPUS}={gpus_override!r}")
    if driver_override is not None:
        layer = replace(layer, driver=overridden_driver, cuda_driver_api=None)
        notes.append(f"driver from {ENV_DRIVER}={driver_override!r}")
    if cuda_override is not None:
        layer = replace(layer, cuda_driver_api=cuda_override.strip() or None)
        notes.append(f"CUDA driver API from {ENV_CUDA_DRIVER_API}={cuda_override!r}")
    if layer.gpus is None:
        gpus: tuple[DetectedGpu, ...] = ()
    else:
        gpus = layer.gpus
    if layer.source == "env" and gpus and layer.driver is None:
        notes.append("GPUs are declared but no driver is: set ENVLOCK_DRIVER too")
    return NodeInfo(
        platform=host_platform(),
        glibc=glibc,
        gpus=gpus,
        driver=layer.driver,
        cuda_driver_api=layer.cuda_driver_api,
        source=layer.source,
        notes=tuple(notes),
    )
