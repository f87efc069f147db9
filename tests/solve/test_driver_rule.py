"""The driver rule on torch 2.15-like and 2.4-like fixture universes: the driver need comes from the CUDA
runtime a set pins, components that float above the variant's minor are held to it and recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fixtures.server import FixtureIndexServer
from tests.solve.conftest import Run, target_block, universe_spec

Envlock = Callable[..., Run]
Universe = Callable[..., FixtureIndexServer]


def _locked(run: Run, name: str) -> dict:  # type: ignore[type-arg]  # test helper
    assert run.code == 0, run.err
    return next(t for t in run.json()["targets"] if t["name"] == name)


def _version(target: dict, name: str) -> str:  # type: ignore[type-arg]
    return next(p["version"] for p in target["packages"] if p["name"] == name)


def test_torch_2_15_runs_natively_with_nvjitlink_held(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    # cuda-toolkit 13.2.2 lets nvJitLink float to 13.5 (a CUDA minor without a confirmed driver); held to
    # 13.2.* the set stays one toolkit, and the driver need is the 13.2 runtime's own.
    spec = universe_spec(
        tmp_path,
        universe("torch215"),
        deps=("torch==2.15.0",),
        targets=target_block("h100", gpus=("H100",), driver="595.45.04"),
        cuda='driver-compat = "native"',
    )
    run = envlock("solve", "-s", str(spec), "--json")
    t = _locked(run, "h100")
    assert (t["variant"], t["cuda"], t["compat"]) == ("cu132", "13.2", "native")
    assert t["requires-driver"] == "595.45.04"
    assert t["requires-driver-from"] == "nvidia-cuda-runtime 13.2.86"
    assert _version(t, "nvidia-nvjitlink") == "13.2.86"
    assert t["held"] == [
        {
            "name": "nvidia-nvjitlink",
            "version": "13.2.*",
            "reason": "floats to 13.5.37, above the variant's CUDA 13.2; held to keep one toolkit",
        }
    ]
    assert "None" not in run.out + run.err
    lock_text = (tmp_path / "envlock.lock").read_text()
    assert 'requires-driver-from = "nvidia-cuda-runtime 13.2.86"' in lock_text
    assert 'held = [\n    { name = "nvidia-nvjitlink", version = "13.2.*"' in lock_text
    assert "None" not in lock_text
    shown = envlock("show", "-l", str(tmp_path / "envlock.lock"))
    assert "(native, set by nvidia-cuda-runtime 13.2.86)" in shown.out
    assert "held             nvidia-nvjitlink==13.2.*: floats to 13.5.37" in shown.out
    assert "sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 (read from the wheel)" in shown.out


def test_torch_2_15_cu134_is_judged_by_the_family_floor_never_none(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    # CUDA 13.4 has no confirmed native driver: under "native" it is refused with a message that says so
    # (no "None"); under "minor-version" it locks at the 13.x family floor with a named warning.
    server = universe("torch215")
    native = universe_spec(
        tmp_path,
        server,
        deps=("torch==2.15.0",),
        targets=target_block("h100", gpus=("H100",), driver="610.10"),
        cuda='driver-compat = "native"',
    )
    run = envlock("solve", "-s", str(native), "--json")
    t = _locked(run, "h100")
    assert t["variant"] == "cu132"
    reason = next(r["reason"] for r in t["rejected"] if r["variant"] == "cu134")
    assert "no confirmed native driver for CUDA 13.4" in reason
    assert "None" not in run.out + run.err
    mvc = universe_spec(
        tmp_path,
        server,
        deps=("torch==2.15.0",),
        targets=target_block("h100", gpus=("H100",), driver="590.44.01"),
        cuda='driver-compat = "minor-version"',
    )
    run = envlock("solve", "-s", str(mvc))
    assert run.code == 0, run.err
    assert "cu134" in run.err and "CUDA 13.4" in run.err and "family floor 580" in run.err
    assert "None" not in run.out + run.err
    lock_text = (tmp_path / "envlock.lock").read_text()
    assert 'variant = "cu134"' in lock_text and 'requires-driver = "580"' in lock_text
    # the cu134 wheel carries compute_120, its (assumed) knowledge-base row does not: the wheel wins
    assert 'archs-source = "wheel"' in lock_text and 'torch-ptx = ["compute_120"]' in lock_text
    assert "the wheel wins" in run.err


def test_torch_2_4_on_driver_535_keeps_cu121_native(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    # 2.4.1+cu121 leaves nvJitLink unpinned (it floats to 12.9, needing driver 575); held to 12.1.* the set
    # needs the 12.1 runtime's driver, which 535 runs natively: no fallback to cu118.
    spec = universe_spec(
        tmp_path,
        universe("torch24"),
        deps=("torch==2.4.1",),
        targets=target_block("h100", gpus=("H100",), driver="535.104.05"),
    )
    run = envlock("solve", "-s", str(spec), "--json")
    t = _locked(run, "h100")
    assert (t["variant"], t["compat"], t["requires-driver"]) == ("cu121", "native", "530.30.02")
    assert _version(t, "nvidia-nvjitlink-cu12") == "12.1.105"
    assert [h["name"] for h in t["held"]] == ["nvidia-nvjitlink-cu12"]
    assert t["held"][0]["version"] == "12.1.*"
    assert "minor-version" in next(r["reason"] for r in t["rejected"] if r["variant"] == "cu124")
    assert "None" not in run.out + run.err
    strict = universe_spec(
        tmp_path,
        universe("torch24"),
        deps=("torch==2.4.1",),
        targets=target_block("h100", gpus=("H100",), driver="535.104.05"),
        cuda='driver-compat = "native"',
    )
    t = _locked(envlock("solve", "-s", str(strict), "--json"), "h100")
    assert (t["variant"], t["compat"]) == ("cu121", "native")


def test_diff_shows_what_was_held_and_where_archs_came_from(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    from dataclasses import replace

    from envlock.lock.digest import seal
    from envlock.lock.read import load_lock
    from envlock.lock.write import write_lock

    spec = universe_spec(
        tmp_path,
        universe("torch24"),
        deps=("torch==2.4.1",),
        targets=target_block("h100", gpus=("H100",), driver="535.104.05"),
    )
    assert envlock("solve", "-s", str(spec)).code == 0
    new = tmp_path / "envlock.lock"
    lock = load_lock(new)
    t = lock.targets[0]
    before = replace(t, held=(), archs_source="knowledge-base", torch_sass=(), torch_ptx=())
    old = tmp_path / "old.lock"
    write_lock(seal(replace(lock, targets=(before,))), old)
    run = envlock("diff", str(old), str(new))
    assert "held: none -> nvidia-nvjitlink-cu12==12.1.*" in run.out, run.out
    assert "archs-source: knowledge-base -> wheel" in run.out, run.out
