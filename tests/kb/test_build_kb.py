"""tools/build_kb.py turns a research compat.toml into data files the knowledge base loads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from envlock.kb import ComputeCapability, load_kb
from envlock.kb.files import read_fragment

TOOL = Path(__file__).resolve().parents[2] / "tools" / "build_kb.py"

# The smallest compat.toml with every table the tool reads (values are real facts).
COMPAT = """
[meta]
generated = "2026-11-27"
[sources]
"nv-cuda-gpus" = "NVIDIA CUDA GPUs page"
"nv-mvc" = "minor version compatibility"
"nv-relnotes-13.2.2" = "release notes"
"pypi-binary-archs" = "arch string of the wheel"
"pypi-metadata" = "wheel metadata"
"nv-cudnn-matrix" = "cuDNN support matrix"
"nvcc-12.8-list" = "nvcc list"
"nv-r580-last" = "R580 last for Maxwell/Pascal/Volta"
"cuda13-sm110" = "sm_101 renamed sm_110"
"pypi-torch-cuda-init" = "torch/cuda/__init__.py"
"nv-cuda-guide-binary" = "programming guide"
[gpus]
"H100" = { cc = "9.0", family = "Hopper", src = "nv-cuda-gpus", status = "confirmed" }
"GB10 (DGX Spark)" = { cc = "12.1", family = "Blackwell", src = "nv-cuda-gpus", status = "confirmed" }
[cuda_family."12"]
mvc_min_driver_linux = "525.60.13"
mvc_min_driver_windows = "527.41"
src = ["nv-mvc"]
[cuda."12.4"]
min_driver_linux = "550.54.14"
min_driver_windows = "551.61"
mvc_family = "12"
src = ["nv-relnotes-13.2.2"]
[cuda."13.3"]
min_driver_linux = "unconfirmed"
mvc_family = "13"
[gpu_driver_floor.blackwell]
cc_major = [10, 12]
min_driver_linux = "570.26"
src = ["nv-cudnn-matrix"]
status = "corroborated"
[gpu_driver_floor.maxwell_pascal_volta_max_branch]
cc_major = [5, 6, 7]
cc_exclude = ["7.5"]
max_driver_branch = "R580"
src = ["nv-r580-last"]
status = "corroborated"
[torch."2.5.1"]
python_linux_aarch64 = ["3.9", "3.10", "3.11", "3.12"]
pypi_default_linux_x86_64 = "cu124"
pypi_default_linux_aarch64 = "cpu"
pypi_windows = "cpu"
[torch."2.5.1".variants.cu124]
cuda = "12.4"
archs = ["sm_50", "sm_90"]
archs_status = "confirmed"
archs_src = ["pypi-binary-archs"]
ptx = []
python = ["3.9", "3.13"]
cudnn = "9.1.0.70"
cudnn_src = ["pypi-metadata"]
nccl = "unconfirmed"
archs_aarch64 = ["sm_90"]
archs_aarch64_status = "unconfirmed (builder branch only)"
archs_aarch64_src = ["pypi-binary-archs"]
"""


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_kb", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_kb"] = module
    spec.loader.exec_module(module)
    return module


def test_build_kb_writes_loadable_data(tmp_path: Path) -> None:
    compat = tmp_path / "compat.toml"
    compat.write_text(COMPAT, encoding="utf-8")
    out = tmp_path / "data"
    assert _tool().main([str(compat), "-o", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cuda.toml", "gpus.toml", "sources.toml", "torch.toml"]
    for path in out.iterdir():
        read_fragment(path, user=False)  # the built-in format, strictly validated
    kb = load_kb(sorted(out.iterdir()))
    assert kb.resolve_gpu("DGX Spark") == ComputeCapability(major=12, minor=1)
    x86 = kb.torch_build("2.5.1", "cu124", "linux-x86_64")
    assert x86 is not None and x86.cudnn == "9.1.0.70" and x86.nccl is None
    arm = kb.torch_build("2.5.1", "cu124", "linux-aarch64")
    assert arm is not None and arm.sass == (ComputeCapability(major=9, minor=0),)
    assert kb.pypi_default_variant("2.5.1", "linux-x86_64") == "cu124"
    toolkit = kb.cuda_toolkit("13.3")
    assert toolkit is not None and toolkit.min_driver_linux is None
    # the arm row keeps its status word and moves the explanation into a note
    assert 'status = "unconfirmed"' in (out / "torch.toml").read_text()
    assert "builder branch only" in (out / "torch.toml").read_text()


def test_build_kb_output_is_deterministic(tmp_path: Path) -> None:
    compat = tmp_path / "compat.toml"
    compat.write_text(COMPAT, encoding="utf-8")
    tool = _tool()
    first = tool.build(tool.tomllib.loads(COMPAT))
    second = tool.build(tool.tomllib.loads(COMPAT))
    assert first == second


def test_a_redist_manifest_gives_an_unconfirmed_toolkit_its_bundled_driver(tmp_path: Path) -> None:
    import json

    compat = tmp_path / "compat.toml"
    compat.write_text(COMPAT, encoding="utf-8")
    redist = tmp_path / "redist"
    redist.mkdir()
    for label, driver in (("13.3.1", "600.10.01"), ("13.3.0", "599.20.02"), ("12.4.1", "550.54.15")):
        manifest = {"release_label": label, "nvidia_driver": {"version": driver}}
        (redist / f"cuda_redistrib_{label}.json").write_text(json.dumps(manifest))
    out = tmp_path / "data"
    assert _tool().main([str(compat), "-o", str(out), "--redist", str(redist)]) == 0
    kb = load_kb(sorted(out.iterdir()))
    toolkit = kb.cuda_toolkit("13.3")
    assert toolkit is not None and toolkit.min_driver_linux == "599.20.02"  # the earliest 13.3 release's
    assert 'status = "corroborated"' in (out / "cuda.toml").read_text()
    confirmed = kb.cuda_toolkit("12.4")
    assert confirmed is not None and confirmed.min_driver_linux == "550.54.14"  # a confirmed GA driver stays
