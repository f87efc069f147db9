"""A lock that recorded the torch wheel's own architectures (archs-source = "wheel") is judged on a node
by them, not by the knowledge-base row."""

from __future__ import annotations

from dataclasses import replace

from lockfactory import make_target

from envlock.kb import ComputeCapability, load_kb
from envlock.node.fit import judge_fit
from envlock.node.model import DetectedGpu, NodeInfo

TARGET = make_target(cudnn=None, nccl=None, env_hash="sha256:" + "0" * 64, packages=(), rejected=())


def _node(cc: str) -> NodeInfo:
    gpu = DetectedGpu(index=0, name=cc, cc=ComputeCapability.parse(cc), memory_mib=None)
    return NodeInfo(
        platform="linux-x86_64",
        glibc="2.35",
        gpus=(gpu,),
        driver="560.35.03",
        cuda_driver_api=None,
        source="env",
    )


def test_the_wheel_record_wins_over_the_knowledge_base_on_the_node() -> None:
    kb = load_kb()
    assert judge_fit(TARGET, _node("sm_86"), kb).fits  # the KB row of 2.5.1+cu124 has sm_86
    from_wheel = replace(TARGET, archs_source="wheel", torch_sass=("sm_90",))
    fit = judge_fit(from_wheel, _node("sm_86"), kb)
    assert not fit.fits
    assert any("no kernel image for sm_86" in m for m in fit.missing)
    assert judge_fit(from_wheel, _node("sm_90"), kb).fits
