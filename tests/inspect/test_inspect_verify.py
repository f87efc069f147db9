"""verify_environment and disagreement_with_kb over real nvcc-built libraries in a fake environment."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from envlock.inspect import (
    ArchVerification,
    BinaryReport,
    check_reports,
    disagreement_with_kb,
    inspect_path,
    verify_environment,
)
from envlock.kb.knowledge import KnowledgeBase
from envlock.kb.loader import load_kb
from envlock.kb.model import ComputeCapability, TorchBuild

Built = Any


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_kb()


@pytest.fixture
def env_root(fatbins: dict[str, Built], plain_so: Path, tmp_path: Path) -> Path:
    lib = tmp_path / "venv" / "lib" / "python3.12" / "site-packages" / "torch" / "lib"
    lib.mkdir(parents=True)
    shutil.copy(fatbins["mixed"].path, lib / "libtorch_cuda.so")  # sm_75 sm_90, PTX sm_90
    shutil.copy(fatbins["plain"].path, lib / "libc10_cuda.so")  # sm_89 sm_100
    shutil.copy(plain_so, lib / "libtorch_cpu.so")
    return tmp_path / "venv"


def test_a_library_without_code_for_the_gpu_is_a_gap(env_root: Path, kb: KnowledgeBase) -> None:
    result = verify_environment(env_root, [cc("sm_90")], allow_ptx=False, native=True, kb=kb)
    # libc10_cuda carries sm_89 and sm_100 only: nothing for 9.0.
    assert [(Path(g.path).name, g.gpu.sm) for g in result.gaps] == [("libc10_cuda.so", "sm_90")]
    assert not result.ok
    assert sorted(Path(r.path).name for r in result.libraries) == ["libc10_cuda.so", "libtorch_cuda.so"]


def test_minor_forward_compatibility_and_gaps(env_root: Path, kb: KnowledgeBase) -> None:
    # sm_89 (libc10_cuda) runs on 8.9; sm_75 (libtorch_cuda) does not run on 8.9 (other major).
    result = verify_environment(env_root, [cc("8.9")], allow_ptx=False, native=True, kb=kb)
    assert [Path(g.path).name for g in result.gaps] == ["libtorch_cuda.so"]
    assert "has no kernel for sm_89 (it carries sm_75 sm_90, PTX sm_90)" in result.gaps[0].message


def test_ptx_counts_only_when_allowed_and_native(env_root: Path, kb: KnowledgeBase) -> None:
    reports = inspect_path(env_root)
    gpu = [cc("12.0")]  # libtorch_cuda: PTX sm_90 could JIT for 12.0; libc10_cuda: no PTX
    strict = check_reports(reports, gpu, allow_ptx=False, native=True, kb=kb)
    assert sorted(Path(g.path).name for g in strict.gaps) == ["libc10_cuda.so", "libtorch_cuda.so"]
    allowed = check_reports(reports, gpu, allow_ptx=True, native=True, kb=kb)
    assert [Path(g.path).name for g in allowed.gaps] == ["libc10_cuda.so"]
    mvc = check_reports(reports, gpu, allow_ptx=True, native=False, kb=kb)
    assert len(mvc.gaps) == 2


def test_arch_specific_cubin_runs_only_on_its_own_capability(
    fatbins: dict[str, Built], kb: KnowledgeBase
) -> None:
    reports = inspect_path(fatbins["special"].path)  # sm_90a cubin, PTX sm_75
    assert check_reports(reports, [cc("9.0")], allow_ptx=False, native=True, kb=kb).ok
    # A plain sm_90 cubin would run on a (hypothetical) 9.x newer than 9.0; sm_90a does not.
    assert not check_reports(reports, [cc("9.1")], allow_ptx=False, native=True, kb=kb).ok


def _row(sass: tuple[str, ...]) -> TorchBuild:
    return TorchBuild(
        release="2.9.1",
        variant="cu130",
        platform="linux-x86_64",
        cuda="13.0",
        sass=tuple(cc(s) for s in sass),
        ptx=(),
        cudnn=None,
        nccl=None,
        source="test",
        status="confirmed",
    )


def test_disagreement_with_the_knowledge_base(env_root: Path, kb: KnowledgeBase) -> None:
    result = verify_environment(env_root, [cc("9.0")], allow_ptx=False, native=True, kb=kb)
    assert disagreement_with_kb(result, _row(("sm_75", "sm_90"))) == []
    messages = disagreement_with_kb(result, _row(("sm_75", "sm_80", "sm_90")))
    assert messages == [
        "the knowledge base says torch 2.9.1 cu130 carries sm_80 but libtorch_cuda.so has sm_75 sm_90: "
        "the knowledge base is wrong, not the node"
    ]
    messages = disagreement_with_kb(result, [cc("sm_90")])
    assert messages == [
        "the knowledge base says torch carries sm_90 but libtorch_cuda.so also has sm_75: "
        "the knowledge base is wrong, not the node"
    ]
    assert disagreement_with_kb(result, [cc("sm_90")], library="libnothing.so") == []


def test_a_thin_extra_arch_is_not_a_disagreement() -> None:
    # The shape of torch 2.11.0+cu130's libtorch_cuda.so seen on the device: 444 cubins for each
    # arch of its build list, 1 for sm_89, arch-specific ones for sm_103a.
    counts = (("sm_80", 444), ("sm_89", 1), ("sm_90", 444), ("sm_90a", 4), ("sm_103a", 59))
    report = BinaryReport(
        path="site-packages/torch/lib/libtorch_cuda.so",
        sass=tuple(sorted({cc(n) for n, _ in counts})),
        ptx=(),
        compressed="zstd",
        containers=444,
        has_cuda=True,
        sass_names=tuple(n for n, _ in counts),
        sass_counts=counts,
    )
    verification = ArchVerification(root="env", gpus=(cc("9.0"),), libraries=(report,), gaps=())
    assert disagreement_with_kb(verification, [cc("sm_80"), cc("sm_90")]) == []
    [message] = disagreement_with_kb(verification, [cc("sm_90")])
    assert "also has sm_80:" in message  # a full set the KB forgot is reported


def test_gaps_in_nvidia_redistributables_are_kept_apart(
    fatbins: dict[str, Built], tmp_path: Path, kb: KnowledgeBase
) -> None:
    lib = tmp_path / "venv" / "lib" / "python3.12" / "site-packages" / "nvidia" / "cu13" / "lib"
    lib.mkdir(parents=True)
    shutil.copy(fatbins["plain"].path, lib / "libcufft.so.12")  # sm_89 sm_100: nothing for 9.0
    result = verify_environment(tmp_path / "venv", [cc("9.0")], allow_ptx=False, native=True, kb=kb)
    assert [Path(g.path).name for g in result.vendor_gaps] == ["libcufft.so.12"]
    assert result.ok
