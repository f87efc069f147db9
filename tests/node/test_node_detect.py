"""Node detection: overrides, NVML, nvidia-smi, /proc and the node without a driver.

This machine has no NVIDIA driver, so the driver layers are exercised with stand-ins: a fake NVML
library compiled here with gcc, a fake `nvidia-smi` shell script first on PATH, a fake /proc file.
The real ones cannot run here; the device run in docs/hardware-validation.md covers them.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from envlock.errors import UsageError
from envlock.kb.model import ComputeCapability
from envlock.node import NodeInfo, detect_node

NO_NVML = "libnvidia-ml-does-not-exist.so.1"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment in which no real driver layer can answer (empty PATH dir first, no NVML)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "ENVLOCK_NVML_LIBRARY": NO_NVML}
    env.update(extra)
    return env


def _fake_smi(tmp_path: Path, query_output: str, banner: str = "") -> None:
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        f"  --query-gpu=*) cat <<'OUT'\n{query_output}OUT\n;;\n"
        f"  *) cat <<'OUT'\n{banner}\nOUT\n;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_overrides_give_gpus_and_driver(tmp_path: Path) -> None:
    node = detect_node(_env(tmp_path, ENVLOCK_GPUS="sm_90, 8.0", ENVLOCK_DRIVER="580.65.06"))
    assert node.source == "env"
    assert [g.cc for g in node.gpus] == [
        ComputeCapability(major=9, minor=0),
        ComputeCapability(major=8, minor=0),
    ]
    assert node.driver == "580.65.06"
    assert node.archs == (ComputeCapability(major=8, minor=0), ComputeCapability(major=9, minor=0))


def test_override_none_means_no_gpus(tmp_path: Path) -> None:
    node = detect_node(_env(tmp_path, ENVLOCK_GPUS="none", ENVLOCK_DRIVER="550.54.15"))
    assert node.gpus == ()
    assert node.driver == "550.54.15"
    node = detect_node(_env(tmp_path, ENVLOCK_GPUS="", ENVLOCK_DRIVER="none"))
    assert node.gpus == () and node.driver is None


def test_override_gpu_names_resolve_through_the_kb(tmp_path: Path) -> None:
    node = detect_node(_env(tmp_path, ENVLOCK_GPUS="H100", ENVLOCK_DRIVER="580.65.06"))
    assert node.gpus[0].cc == ComputeCapability(major=9, minor=0)
    with pytest.raises(UsageError, match="unknown GPU 'GeForce 9999'"):
        detect_node(_env(tmp_path, ENVLOCK_GPUS="GeForce 9999", ENVLOCK_DRIVER="580.65.06"))


def test_glibc_override_and_host_value(tmp_path: Path) -> None:
    assert detect_node(_env(tmp_path, ENVLOCK_GLIBC="2.17", ENVLOCK_GPUS="none")).glibc == "2.17"
    host = detect_node(_env(tmp_path, ENVLOCK_GPUS="none")).glibc
    expected = os.confstr("CS_GNU_LIBC_VERSION")
    assert host == (expected.split(" ")[1] if expected and expected.startswith("glibc") else None)


def test_fake_nvidia_smi_when_nvml_is_missing(tmp_path: Path) -> None:
    # A fake nvidia-smi: the real one needs a driver this machine does not have.
    _fake_smi(
        tmp_path,
        "0, NVIDIA H200, 9.0, 143771 MiB, 580.159.04\n1, NVIDIA A100-SXM4-80GB, 8.0, 81920 MiB, 580.159.04\n",
        banner="| NVIDIA-SMI 580.159.04    Driver Version: 580.159.04    CUDA Version: 13.0     |",
    )
    node = detect_node(_env(tmp_path))
    assert node.source == "nvidia-smi"
    assert node.driver == "580.159.04"
    assert node.cuda_driver_api == "13.0"
    assert [(g.index, g.name, g.cc.sm, g.memory_mib) for g in node.gpus] == [
        (0, "NVIDIA H200", "sm_90", 143771),
        (1, "NVIDIA A100-SXM4-80GB", "sm_80", 81920),
    ]
    assert any(note.startswith("NVML: cannot load") for note in node.notes)


def test_broken_nvidia_smi_falls_through_to_proc(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "nvidia-smi"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate' >&2\nexit 9\n"
    )
    script.chmod(0o755)
    proc = tmp_path / "version"
    proc.write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
        "(dvs-builder@U22)  Thu Oct  2 2025\nGCC version:  gcc version 12.3.0\n"
    )
    node = detect_node(_env(tmp_path), proc_version=proc)
    assert node.source == "proc"
    assert node.driver == "580.159.04"
    assert node.gpus == ()
    assert any("nvidia-smi exited 9" in n for n in node.notes)
    assert any("GPUs unknown" in n for n in node.notes)


def test_no_driver_at_all(tmp_path: Path) -> None:
    node = detect_node(_env(tmp_path), proc_version=tmp_path / "absent")
    assert node == NodeInfo(
        platform=node.platform,
        glibc=node.glibc,
        gpus=(),
        driver=None,
        cuda_driver_api=None,
        source="none",
        notes=node.notes,
    )
    assert node.notes[-1] == "no NVIDIA driver found on this node"


FAKE_NVML_C = r"""
/* A stand-in for libnvidia-ml.so.1 with the same C signatures: two GPUs, driver 575.51.03. */
#include <string.h>
typedef struct { unsigned long long total, free, used; } mem_t;
static const char *names[] = {"NVIDIA GeForce RTX 5090", "NVIDIA L4"};
static int caps[][2] = {{12, 0}, {8, 9}};
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char *b, unsigned n) { strncpy(b, "575.51.03", n); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int *v) { *v = 12090; return 0; }
int nvmlDeviceGetCount_v2(unsigned *c) { *c = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **h) { *h = (void *)(long)(i + 1); return 0; }
int nvmlDeviceGetName(void *h, char *b, unsigned n) { strncpy(b, names[(long)h - 1], n); return 0; }
int nvmlDeviceGetCudaComputeCapability(void *h, int *ma, int *mi) {
  *ma = caps[(long)h - 1][0]; *mi = caps[(long)h - 1][1]; return 0; }
int nvmlDeviceGetMemoryInfo(void *h, mem_t *m) { m->total = (long)h * 1024ULL * 1024 * 1024; return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed to build the fake NVML library")
def test_nvml_layer_with_a_compiled_stand_in(tmp_path: Path) -> None:
    # A fake NVML compiled here: the real library needs the NVIDIA kernel driver.
    src = tmp_path / "nvml.c"
    src.write_text(FAKE_NVML_C)
    lib = tmp_path / "libfakenvml.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    node = detect_node(_env(tmp_path, ENVLOCK_NVML_LIBRARY=str(lib)))
    assert node.source == "nvml"
    assert node.driver == "575.51.03"
    assert node.cuda_driver_api == "12.9"
    assert [(g.name, g.cc.sm, g.memory_mib) for g in node.gpus] == [
        ("NVIDIA GeForce RTX 5090", "sm_120", 1024),
        ("NVIDIA L4", "sm_89", 2048),
    ]
    # ENVLOCK_DRIVER replaces only the driver; the GPUs still come from NVML.
    node = detect_node(_env(tmp_path, ENVLOCK_NVML_LIBRARY=str(lib), ENVLOCK_DRIVER="560.28.03"))
    assert node.source == "nvml" and node.driver == "560.28.03" and len(node.gpus) == 2


def test_driver_override_follows_the_specs_full_version_rule(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        detect_node(_env(tmp_path, ENVLOCK_GPUS="H100", ENVLOCK_DRIVER="550"))
    assert "ENVLOCK_DRIVER" in str(info.value) and "driver branch" in str(info.value)
    assert info.value.hint is not None and '"550.54.15"' in info.value.hint
    assert detect_node(_env(tmp_path, ENVLOCK_GPUS="H100", ENVLOCK_DRIVER="551.61")).driver == "551.61"
