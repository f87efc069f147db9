"""The built-in knowledge base answers the lookups the solver, doctor and spec parser make."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.kb import ComputeCapability, load_kb


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("H100", "9.0"),
        ("nvidia h100", "9.0"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("h100", "9.0"),
        ("Tesla V100", "7.0"),
        ("V100", "7.0"),
        ("Tesla V100-SXM2-16GB", "7.0"),
        ("A100-SXM4-80GB", "8.0"),
        ("NVIDIA A100 80GB PCIe", "8.0"),
        ("T4", "7.5"),
        ("L40S", "8.9"),
        ("GeForce RTX 4090", "8.9"),
        ("rtx 4090", "8.9"),
        ("RTX-5090", "12.0"),
        ("B200", "10.0"),
        ("GB300", "10.3"),
        ("GB10", "12.1"),
        ("DGX Spark", "12.1"),
        ("Jetson AGX Orin", "8.7"),
        ("Jetson AGX Thor", "11.0"),
        ("A6000", "8.6"),
        ("sm_90", "9.0"),
        ("sm_90a", "9.0"),
        ("9.0", "9.0"),
        ("90", "9.0"),
        ("sm_120", "12.0"),
        ("8.6", "8.6"),
    ],
)
def test_resolve_gpu_accepts_names_and_architectures(written: str, expected: str) -> None:
    assert load_kb().resolve_gpu(written) == cc(expected)


@pytest.mark.parametrize("written", ["H1000", "sm_99", "9.9", "banana", "", "sm_"])
def test_resolve_gpu_raises_keyerror_with_the_text(written: str) -> None:
    with pytest.raises(KeyError) as info:
        load_kb().resolve_gpu(written)
    assert info.value.args == (written,)


def test_gpu_rows_carry_family_source_and_status() -> None:
    kb = load_kb()
    h100 = kb.gpu("nvidia h100")
    assert h100 is not None
    assert (h100.name, h100.family, h100.status) == ("H100", "Hopper", "confirmed")
    assert h100.source in kb.sources
    assert kb.gpu("no such gpu") is None


def test_suggestions_name_the_closest_gpus() -> None:
    kb = load_kb()
    assert "H100" in kb.suggest_gpus("H10")
    assert "GeForce RTX 4090" in kb.suggest_gpus("RTX 409")
    assert "A100" in kb.suggest_gpus("A1000")
    assert len(kb.suggest_gpus("H10", n=2)) <= 2


@pytest.mark.parametrize("text", ["5.3", "6.2", "7.2", "8.7", "11.0"])
def test_tegra_parts_are_flagged(text: str) -> None:
    assert load_kb().is_tegra(cc(text))


@pytest.mark.parametrize("text", ["7.0", "8.0", "8.6", "8.9", "9.0", "10.0", "12.1"])
def test_desktop_parts_are_not_tegra(text: str) -> None:
    assert not load_kb().is_tegra(cc(text))


def test_gpu_info_tegra_flag_follows_its_capability() -> None:
    kb = load_kb()
    orin = kb.gpu("Jetson AGX Orin")
    a100 = kb.gpu("A100")
    assert orin is not None and orin.tegra
    assert a100 is not None and not a100.tegra


@pytest.mark.parametrize(
    ("variant", "cuda"),
    [
        ("cu124", "12.4"),
        ("cu130", "13.0"),
        ("cu92", "9.2"),
        ("cu118", "11.8"),
        ("cu102", "10.2"),
        ("cpu", None),
    ],
)
def test_variant_cuda(variant: str, cuda: str | None) -> None:
    assert load_kb().variant_cuda(variant) == cuda


@pytest.mark.parametrize("junk", ["cu", "cu1", "cu12345", "rocm6.2", "CU124", "cuda124", "xpu", ""])
def test_variant_cuda_rejects_junk(junk: str) -> None:
    with pytest.raises(ValueError):
        load_kb().variant_cuda(junk)


def test_known_variants_are_ordered_by_cuda_not_by_string() -> None:
    variants = load_kb().known_variants()
    assert variants[0] == "cpu"
    assert {"cu118", "cu124", "cu126", "cu128", "cu130", "cu132"} <= set(variants)
    cudas = [tuple(int(p) for p in (load_kb().variant_cuda(v) or "0.0").split(".")) for v in variants[1:]]
    assert cudas == sorted(cudas)
    assert variants.index("cu118") < variants.index("cu124") < variants.index("cu130")


def test_known_variants_sort_a_two_digit_cuda_before_cu130(tmp_path: Path) -> None:
    # as strings (and as PEP 440 local versions) "cu92" sorts after "cu130"
    private = tmp_path / "old.toml"
    private.write_text(
        '[[torch]]\nrelease = "1.4.0"\nvariant = "cu92"\nplatform = "linux-x86_64"\nsass = ["sm_70"]\n'
    )
    variants = load_kb([private]).known_variants()
    assert variants.index("cu92") < variants.index("cu118") < variants.index("cu130")


def test_cuda_toolkits_and_families() -> None:
    kb = load_kb()
    t124 = kb.cuda_toolkit("12.4")
    assert t124 is not None
    assert (t124.min_driver_linux, t124.min_driver_windows, t124.family) == ("550.54.14", "551.61", 12)
    t130 = kb.cuda_toolkit("13.0")
    assert t130 is not None and t130.min_driver_linux == "580.65.06" and t130.min_driver_windows is None
    t133 = kb.cuda_toolkit("13.3")
    assert t133 is not None and t133.min_driver_linux is None
    assert kb.cuda_toolkit("9.2") is None
    floors = {m: kb.family(m) for m in (11, 12, 13)}
    assert {m: f.mvc_min_driver_linux for m, f in floors.items() if f} == {
        11: "450.80.02",
        12: "525.60.13",
        13: "580",
    }
    assert kb.family(10) is None


def test_torch_builds_carry_the_known_architectures() -> None:
    kb = load_kb()
    b = kb.torch_build("2.5.1", "cu124", "linux-x86_64")
    assert b is not None
    assert cc("sm_90") in b.sass and cc("sm_100") not in b.sass
    assert (b.cuda, b.cudnn, b.nccl, b.status) == ("12.4", "9.1.0.70", "2.21.5", "confirmed")
    assert "3.13" in b.python
    assert b.source and all(s in kb.sources for s in b.source.split(","))
    b = kb.torch_build("2.7.1", "cu128", "linux-x86_64")
    assert b is not None and cc("sm_120") in b.sass and cc("sm_120") in b.ptx
    b = kb.torch_build("2.11.0", "cu128", "linux-x86_64")
    assert b is not None and cc("sm_70") not in b.sass  # dropped in 2.11 (pytorch#172352)


def test_aarch64_rows_come_from_the_aarch64_arch_lists() -> None:
    kb = load_kb()
    arm = kb.torch_build("2.11.0", "cu130", "linux-aarch64")
    x86 = kb.torch_build("2.11.0", "cu130", "linux-x86_64")
    assert arm is not None and x86 is not None
    assert cc("sm_110") in arm.sass and cc("sm_110") not in x86.sass
    assert cc("sm_86") in x86.sass and cc("sm_86") not in arm.sass


def test_a_release_the_kb_lacks_is_inferred_from_the_nearest_older_one() -> None:
    kb = load_kb()
    b = kb.torch_build("2.7.2", "cu126", "linux-x86_64")
    assert b is not None
    assert (b.release, b.status, b.inferred_from) == ("2.7.2", "inferred", "2.7.1")
    newest = kb.torch_build("2.16.0", "cu132", "linux-x86_64")
    assert newest is not None and newest.inferred_from == "2.15.0" and newest.status == "inferred"


def test_an_unknown_variant_gives_none() -> None:
    kb = load_kb()
    assert kb.torch_build("2.5.1", "cu999", "linux-x86_64") is None
    # no cu132 row predates 2.12, so nothing to infer from
    assert kb.torch_build("2.6.0", "cu132", "linux-x86_64") is None


def test_cpu_always_has_a_row_without_gpu_code() -> None:
    b = load_kb().torch_build("9.9.9", "cpu", "macos-arm64")
    assert b is not None
    assert (b.cuda, b.sass, b.ptx, b.cudnn) == (None, (), (), None)


def test_local_version_suffix_is_ignored_in_lookups() -> None:
    b = load_kb().torch_build("2.5.1+cu124", "cu124", "linux-x86_64")
    assert b is not None and b.status == "confirmed"


@pytest.mark.parametrize(
    ("release", "platform", "variant"),
    [
        ("2.5.1", "linux-x86_64", "cu124"),
        ("2.5.1", "linux-aarch64", "cpu"),
        ("2.5.1", "windows-amd64", "cpu"),
        ("2.5.1", "macos-arm64", "cpu"),
        ("2.7.1", "linux-x86_64", "cu126"),
        ("2.11.0", "linux-aarch64", "cu130"),
        ("2.15.0", "linux-aarch64", "cu132"),
        ("3.0.0", "windows-amd64", "cpu"),
        ("3.0.0", "linux-x86_64", None),
    ],
)
def test_pypi_default_variant(release: str, platform: str, variant: str | None) -> None:
    assert load_kb().pypi_default_variant(release, platform) == variant


def test_default_load_is_cached_and_digest_is_stable() -> None:
    a, b = load_kb(), load_kb()
    assert a is b
    assert a.digest.startswith("sha256:") and len(a.digest) == len("sha256:") + 64


def test_every_builtin_row_cites_known_sources() -> None:
    kb = load_kb()
    cited = [g.source for g in kb.gpus.values()]
    cited += [t.source for t in kb.toolkits.values()] + [f.source for f in kb.families.values()]
    cited += [lim.source for lim in kb.driver_limits] + [b.source for b in kb.builds.values()]
    unknown = {s for text in cited for s in text.split(",") if s not in kb.sources}
    assert not unknown
