"""Compatibility rules: driver order, which cubins run where, missing archs, driver verdicts and limits."""

from __future__ import annotations

import pytest

from envlock.kb import ComputeCapability, TorchBuild, load_kb
from envlock.kb.rules import compare_driver, driver_verdict, missing_archs, sass_runs_on


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("550.54.15", "550.54.14", 1),
        ("550.54.14", "550.54.15", -1),
        ("570.124.06", "570.26", 1),
        ("580", "580.0.0", 0),
        ("580", "580.65.06", -1),
        ("1000.1", "999.99.99", 1),
    ],
)
def test_compare_driver_is_numeric(a: str, b: str, expected: int) -> None:
    assert compare_driver(a, b) == expected


@pytest.mark.parametrize("bad", ["55x", "", "550.", "v550", "550..1", "550.54.15.1.2"])
def test_compare_driver_rejects_non_versions(bad: str) -> None:
    with pytest.raises(ValueError):
        compare_driver(bad, "550")


@pytest.mark.parametrize(
    ("cubin", "gpu", "runs"),
    [
        ("8.0", "8.0", True),
        ("8.0", "8.6", True),
        ("8.6", "8.9", True),  # Ada runs the sm_86 cubins
        ("8.6", "8.0", False),  # never downwards
        ("9.0", "10.0", False),  # never across majors
        ("8.0", "9.0", False),
        ("10.0", "10.3", True),
        ("12.0", "12.1", True),
        ("10.0", "12.0", False),
    ],
)
def test_sass_on_desktop(cubin: str, gpu: str, runs: bool) -> None:
    assert sass_runs_on(cc(cubin), cc(gpu), cuda="12.4", tegra=False) is runs


@pytest.mark.parametrize(
    ("cubin", "gpu", "cuda", "runs"),
    [
        ("8.7", "8.7", "12.6", True),  # exact match always
        ("8.0", "8.7", "12.6", False),  # desktop cubin on Orin before 13.2
        ("8.6", "8.7", "13.0", False),
        ("8.0", "8.7", "13.2", True),  # CUDA 13.2 lets SBSA binaries run on Jetson
        ("8.6", "8.7", "13.2", True),
        ("7.0", "7.2", "13.2", True),
        ("7.0", "7.2", None, False),
        ("5.0", "5.3", "12.4", False),
        ("6.0", "6.2", "12.4", False),
        ("8.7", "8.9", "12.6", False),  # a Tegra cubin does not run on a desktop GPU
    ],
)
def test_sass_on_tegra(cubin: str, gpu: str, cuda: str | None, runs: bool) -> None:
    kb = load_kb()
    assert sass_runs_on(cc(cubin), cc(gpu), cuda=cuda, tegra=kb.is_tegra(cc(gpu))) is runs


@pytest.mark.parametrize(
    ("cubin", "gpu", "runs"),
    [
        ("11.0", "11.0", True),
        ("10.1", "11.0", True),  # sm_101 was renamed sm_110
        ("10.0", "11.0", False),
        ("12.0", "11.0", False),
        ("10.1", "10.3", False),  # a Thor cubin is not a desktop Blackwell cubin
    ],
)
def test_sass_on_thor(cubin: str, gpu: str, runs: bool) -> None:
    kb = load_kb()
    assert sass_runs_on(cc(cubin), cc(gpu), cuda="13.0", tegra=kb.is_tegra(cc(gpu))) is runs


def _build(sass: list[str], ptx: list[str], cuda: str = "12.8") -> TorchBuild:
    return TorchBuild(
        release="9.9.9",
        variant="cu" + cuda.replace(".", ""),
        platform="linux-x86_64",
        cuda=cuda,
        sass=tuple(cc(s) for s in sass),
        ptx=tuple(cc(p) for p in ptx),
        cudnn=None,
        nccl=None,
        source="test",
        status="user",
    )


def test_missing_archs_on_a_real_build() -> None:
    kb = load_kb()
    b = kb.torch_build("2.5.1", "cu124", "linux-x86_64")
    assert b is not None
    gpus = [cc("9.0"), cc("8.9"), cc("10.0"), cc("12.0"), cc("9.0")]
    assert missing_archs(b, gpus, kb, allow_ptx=False, native=True) == (cc("10.0"), cc("12.0"))
    new = kb.torch_build("2.7.1", "cu128", "linux-x86_64")
    assert new is not None
    assert missing_archs(new, gpus, kb, allow_ptx=False, native=True) == ()
    # cu128 of 2.7 has no sm_60 any more
    assert missing_archs(new, [cc("6.1")], kb, allow_ptx=False, native=True) == (cc("6.1"),)


def test_ptx_counts_only_when_opted_in_and_native() -> None:
    kb = load_kb()
    b = _build(["8.0", "9.0"], ["9.0"])
    blackwell = [cc("10.0")]
    assert missing_archs(b, blackwell, kb, allow_ptx=False, native=True) == (cc("10.0"),)
    assert missing_archs(b, blackwell, kb, allow_ptx=True, native=True) == ()
    # under minor-version compatibility the PTX JIT fails: PTX does not count
    assert missing_archs(b, blackwell, kb, allow_ptx=True, native=False) == (cc("10.0"),)
    # PTX never covers an older GPU
    assert missing_archs(b, [cc("7.5")], kb, allow_ptx=True, native=True) == (cc("7.5"),)


def test_cpu_build_misses_every_gpu() -> None:
    kb = load_kb()
    cpu = kb.torch_build("2.5.1", "cpu", "linux-x86_64")
    assert cpu is not None
    assert missing_archs(cpu, [cc("9.0")], kb, allow_ptx=True, native=True) == (cc("9.0"),)


@pytest.mark.parametrize(
    ("driver", "cuda", "platform", "ok", "compat"),
    [
        ("550.54.15", "12.4", "linux-x86_64", True, "native"),
        ("550.54.14", "12.4", "linux-x86_64", True, "native"),
        ("535.54.03", "12.4", "linux-x86_64", True, "minor-version"),
        ("525.60.13", "12.8", "linux-x86_64", True, "minor-version"),
        ("470.182.03", "12.1", "linux-x86_64", False, None),
        ("520.61.05", "11.8", "linux-x86_64", True, "native"),
        ("470.82.01", "11.7", "linux-x86_64", True, "minor-version"),
        ("450.36.06", "11.8", "linux-x86_64", False, None),
        ("580.65.06", "13.0", "linux-aarch64", True, "native"),
        ("580.0", "13.2", "linux-x86_64", True, "minor-version"),
        ("575.51.03", "13.0", "linux-x86_64", False, None),
        ("999.1", "13.3", "linux-x86_64", True, "minor-version"),  # 13.3's own driver is unknown
        ("551.61", "12.4", "windows-amd64", True, "native"),
        ("550.54.15", "12.4", "windows-amd64", True, "minor-version"),  # Windows numbers differ
        ("527.41", "12.0", "windows-amd64", True, "native"),
        ("526.98", "12.0", "windows-amd64", False, None),
        ("590.1", "13.0", "windows-amd64", True, "minor-version"),  # no Windows GA driver for 13.x
    ],
)
def test_driver_verdict(driver: str, cuda: str, platform: str, ok: bool, compat: str | None) -> None:
    verdict = driver_verdict(driver, cuda, platform, load_kb())
    assert (verdict.ok, verdict.compat) == (ok, compat)


def test_driver_verdict_says_why_not() -> None:
    verdict = driver_verdict("470.182.03", "12.1", "linux-x86_64", load_kb())
    assert verdict.reason is not None
    assert verdict.reason.startswith("driver 470.182.03 is older than the CUDA 12.x floor 525.60.13")
    assert (verdict.requires_native, verdict.requires_mvc) == ("530.30.02", "525.60.13")
    unknown = driver_verdict("999", "9.2", "linux-x86_64", load_kb())
    assert not unknown.ok and unknown.reason and "9.x" in unknown.reason


@pytest.mark.parametrize(
    ("gpu", "driver", "platform", "problem"),
    [
        ("10.0", "550.54.15", "linux-x86_64", "570.26"),
        ("12.0", "565.57.01", "linux-x86_64", "570.26"),
        ("10.0", "570.26", "linux-x86_64", None),
        ("12.0", "570.124.06", "linux-x86_64", None),
        ("9.0", "525.60.13", "linux-x86_64", None),
        ("7.0", "590.44.01", "linux-x86_64", "R580"),
        ("6.1", "595.45.04", "linux-x86_64", "R580"),
        ("5.2", "581.0", "linux-x86_64", "R580"),
        ("7.2", "590.0", "linux-aarch64", "R580"),
        ("7.0", "580.95.05", "linux-x86_64", None),
        ("7.5", "590.44.01", "linux-x86_64", None),  # Turing is not part of the R580 cut
        ("3.7", "535.54.03", "linux-x86_64", "R470"),
        ("3.7", "470.182.03", "linux-x86_64", None),
        ("7.0", "581.29", "windows-amd64", None),  # Windows R580 drivers are numbered 58x
        ("10.0", "560.94", "windows-amd64", "570.65"),
    ],
)
def test_gpu_driver_problem(gpu: str, driver: str, platform: str, problem: str | None) -> None:
    answer = load_kb().gpu_driver_problem(cc(gpu), driver, platform)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer and driver in answer
