"""GPU names as `nvidia-smi --query-gpu=name` prints them parse to the compute capability NVIDIA lists.

The table holds names of GPUs on NVIDIA's CUDA GPUs pages (current and legacy, Maxwell on) in the
spelling nvidia-smi uses: "NVIDIA" prefixes, memory sizes and types, form factors, editions, "Ada
Generation", "Laptop GPU", "Max-Q", SUPER refreshes, MIG profiles and Jetson short names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError, UsageError
from envlock.kb import ComputeCapability, load_kb
from envlock.node.detect import detect_node

SMI_NAMES = (
    ("Tesla M60", "5.2"),
    ("NVIDIA GeForce GTX 750 Ti", "5.0"),
    ("NVIDIA GeForce GTX 980 Ti", "5.2"),
    ("NVIDIA GeForce GTX TITAN X", "5.2"),
    ("Quadro M4000", "5.2"),
    ("Tesla P100-PCIE-16GB", "6.0"),
    ("NVIDIA TITAN X (Pascal)", "6.1"),
    ("Quadro P4000", "6.1"),
    ("NVIDIA T1000 8GB", "7.5"),
    ("NVIDIA T400 4GB", "7.5"),
    ("NVIDIA GeForce RTX 3060 Ti", "8.6"),
    ("NVIDIA RTX A1000 Laptop GPU", "8.6"),
    ("NVIDIA RTX 3500 Ada Generation Laptop GPU", "8.9"),
    ("Tesla P40", "6.1"),
    ("NVIDIA GeForce GTX 1080 Ti", "6.1"),
    ("Tesla V100-SXM2-16GB", "7.0"),
    ("Tesla V100-PCIE-32GB", "7.0"),
    ("NVIDIA TITAN V", "7.0"),
    ("Quadro GV100", "7.0"),
    ("Tesla T4", "7.5"),
    ("NVIDIA TITAN RTX", "7.5"),
    ("Quadro RTX 8000", "7.5"),
    ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
    ("NVIDIA GeForce RTX 2080 SUPER", "7.5"),
    ("NVIDIA GeForce GTX 1660 SUPER", "7.5"),
    ("NVIDIA A100-SXM4-80GB", "8.0"),
    ("NVIDIA A100-PCIE-40GB", "8.0"),
    ("NVIDIA A100 80GB PCIe", "8.0"),
    ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "8.0"),
    ("NVIDIA A30", "8.0"),
    ("NVIDIA A10", "8.6"),
    ("NVIDIA A10G", "8.6"),
    ("NVIDIA A40", "8.6"),
    ("NVIDIA A16", "8.6"),
    ("NVIDIA A2", "8.6"),
    ("NVIDIA RTX A6000", "8.6"),
    ("NVIDIA RTX A4000", "8.6"),
    ("NVIDIA GeForce RTX 3090", "8.6"),
    ("NVIDIA GeForce RTX 3060 Laptop GPU", "8.6"),
    ("NVIDIA GeForce RTX 3080 Ti Laptop GPU", "8.6"),
    ("Orin (nvgpu)", "8.7"),
    ("NVIDIA Jetson AGX Orin", "8.7"),
    ("NVIDIA L4", "8.9"),
    ("NVIDIA L40S", "8.9"),
    ("NVIDIA L40", "8.9"),
    ("NVIDIA L20", "8.9"),
    ("NVIDIA L2", "8.9"),
    ("NVIDIA RTX 6000 Ada Generation", "8.9"),
    ("NVIDIA RTX 4000 SFF Ada Generation", "8.9"),
    ("NVIDIA RTX 2000 Ada Generation Laptop GPU", "8.9"),
    ("NVIDIA GeForce RTX 4090", "8.9"),
    ("NVIDIA GeForce RTX 4090 Laptop GPU", "8.9"),
    ("NVIDIA GeForce RTX 4080 SUPER", "8.9"),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", "8.9"),
    ("NVIDIA H100 80GB HBM3", "9.0"),
    ("NVIDIA H100 PCIe", "9.0"),
    ("NVIDIA H100 NVL", "9.0"),
    ("NVIDIA H100 80GB HBM3 MIG 1g.10gb", "9.0"),
    ("NVIDIA H100 MIG 3g.40gb", "9.0"),
    ("NVIDIA H200", "9.0"),
    ("NVIDIA H200 NVL", "9.0"),
    ("NVIDIA H20", "9.0"),
    ("NVIDIA H800", "9.0"),
    ("NVIDIA GH200 480GB", "9.0"),
    ("NVIDIA GH200 144G HBM3e", "9.0"),
    ("NVIDIA B200", "10.0"),
    ("NVIDIA GB200", "10.0"),
    ("NVIDIA B300", "10.3"),
    ("NVIDIA Thor", "11.0"),
    ("NVIDIA Jetson AGX Thor", "11.0"),
    ("NVIDIA GeForce RTX 5090", "12.0"),
    ("NVIDIA GeForce RTX 5080 Laptop GPU", "12.0"),
    ("NVIDIA GeForce RTX 5070 Ti", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "12.0"),
    ("NVIDIA RTX PRO 4000 Blackwell", "12.0"),
    ("NVIDIA GB10", "12.1"),
)


@pytest.mark.parametrize(("name", "cc"), SMI_NAMES)
def test_nvidia_smi_names_parse_to_their_compute_capability(name: str, cc: str) -> None:
    assert load_kb().resolve_gpu(name) == ComputeCapability.parse(cc)


@pytest.mark.parametrize(
    ("name", "vendor"),
    [
        ("AMD Instinct MI300X", "AMD"),
        ("AMD Radeon RX 7900 XTX", "AMD"),
        ("MI250X", "AMD"),
        ("Intel(R) Data Center GPU Max 1550", "Intel"),
        ("Intel Arc A770", "Intel"),
    ],
)
def test_amd_and_intel_names_say_not_supported(name: str, vendor: str, tmp_path: Path) -> None:
    from envlock.spec.parse import load_spec

    spec = tmp_path / "envlock.toml"
    spec.write_text(
        '[env]\nname = "x"\npython = "3.11"\ndependencies = ["torch"]\n\n'
        f'[[target]]\nname = "t"\nplatform = "linux-x86_64"\ngpus = ["{name}"]\ndriver = "550.54.15"\n'
    )
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert f"{vendor} GPUs are not supported" in err.value.message
    assert "did you mean" not in (err.value.hint or "")


def test_envlock_gpus_with_an_amd_name_says_not_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVLOCK_GPUS", "AMD Instinct MI300X")
    monkeypatch.setenv("ENVLOCK_DRIVER", "550.54.15")
    with pytest.raises(UsageError, match="AMD GPUs are not supported"):
        detect_node()


def test_envlock_gpus_accepts_nvidia_smi_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVLOCK_GPUS", "NVIDIA RTX PRO 6000 Blackwell Server Edition,NVIDIA H100 MIG 1g.10gb")
    monkeypatch.setenv("ENVLOCK_DRIVER", "580.65.06")
    node = detect_node()
    assert [g.cc.sm for g in node.gpus] == ["sm_120", "sm_90"]
