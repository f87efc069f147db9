"""Architectures learned from the torch wheel itself (ranged reads, cached by sha256), against the
`newrelease` universe: torch 2.10.5+cu128 is not in the knowledge base and its wheel drops sm_70."""

from __future__ import annotations

import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from envlock.inspect.wheel_archs import LocalFile
from envlock.solve.archs import ArchAnswer, TorchFile, WheelArchReader
from fixtures.catalog import arch_library
from fixtures.server import FixtureIndexServer
from tests.solve.conftest import Run, target_block, universe_spec

Envlock = Callable[..., Run]
Universe = Callable[..., FixtureIndexServer]
V100 = target_block("v100", gpus=("Tesla V100",), driver="575.51.03")


def _torch_ranges(server: FixtureIndexServer) -> list[str]:
    return [r.path for r in server.requests if r.range and "/torch-" in r.path]


def test_v100_is_refused_because_the_wheel_has_no_sm_70(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    server = universe("newrelease")
    spec = universe_spec(tmp_path, server, deps=("torch==2.10.5",), targets=V100)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "cu128: torch 2.10.5+cu128 carries no SASS for sm_70 (read from the wheel" in run.err
    assert "it has sm_75 sm_80 sm_86 sm_90 sm_100 sm_120" in run.err


def test_a_release_the_wheel_rules_out_is_skipped_for_the_next(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    # The borrowed row (from 2.10.0) claims sm_70; the 2.10.5 wheel says otherwise, so 2.10.0 is locked.
    spec = universe_spec(tmp_path, universe("newrelease"), deps=("torch>=2.10",), targets=V100)
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    t = run.json()["targets"][0]
    assert t["torch"] == "2.10.0+cu128"
    assert t["archs-source"] == "wheel"
    assert "sm_70" in t["torch-sass"]


def test_with_ranges_refused_the_inferred_row_is_not_trusted_for_v100(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    server = universe("newrelease", honour_range=False)
    spec = universe_spec(tmp_path, server, deps=("torch==2.10.5",), targets=V100)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "torch 2.10.5+cu128 is not in the knowledge base and its wheel could not be read" in run.err
    assert "its index does not answer HTTP range requests" in run.err
    assert "not trusted for sm_70, at or below the oldest architecture it lists (sm_70)" in run.err
    assert "trust-inferred-archs = true" in run.err
    # The opt-in accepts the borrowed row; the lock says where the archs came from.
    spec = universe_spec(
        tmp_path, server, deps=("torch==2.10.5",), targets=V100, cuda="trust-inferred-archs = true"
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    t = run.json()["targets"][0]
    assert (t["torch"], t["knowledge-base-row"], t["archs-source"]) == (
        "2.10.5+cu128",
        "inferred",
        "knowledge-base",
    )
    assert "trust-inferred-archs = true" in (tmp_path / "envlock.lock").read_text()


def test_with_ranges_refused_newer_gpus_still_get_the_inferred_row(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    server = universe("newrelease", honour_range=False)
    spec = universe_spec(
        tmp_path,
        server,
        deps=("torch==2.10.5",),
        targets=target_block("a100", gpus=("A100",), driver="575.51.03"),
    )
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    t = run.json()["targets"][0]
    assert (t["knowledge-base-row"], t["archs-source"]) == ("inferred", "knowledge-base")
    assert "its wheel could not be read (its index does not answer HTTP range requests)" in run.err


def test_a_wheel_is_read_once_then_answered_from_the_sha256_cache(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    server, spec = _h100_torch_2_10_5(universe, tmp_path)
    server.clear_requests()
    first = envlock("solve", "-s", str(spec), "--json")
    assert first.code == 0, first.err
    assert first.json()["targets"][0]["archs-source"] == "wheel"
    assert _torch_ranges(server), "the first solve reads the wheel by ranged requests"
    server.clear_requests()
    (tmp_path / "envlock.lock").unlink()
    second = envlock("solve", "-s", str(spec), "--json")
    assert second.code == 0, second.err
    assert second.json()["targets"][0]["torch-sass"] == first.json()["targets"][0]["torch-sass"]
    assert _torch_ranges(server) == []


def test_the_wheel_read_while_uv_resolves_is_the_one_the_solve_judges(
    envlock: Envlock, universe: Universe, tmp_path: Path
) -> None:
    # The solve starts reading the torch wheel it expects uv to pick before uv answers; the verdict
    # then takes that read: the wheel's zip directory is asked for once (one tail read).
    server, spec = _h100_torch_2_10_5(universe, tmp_path)
    server.clear_requests()
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    assert run.json()["targets"][0]["archs-source"] == "wheel"
    tails = [
        r.path for r in server.requests if r.range and r.range.startswith("bytes=-") and "/torch-" in r.path
    ]
    assert len(tails) == 1, tails
    assert "torch-2.10.5" in tails[0]


def test_a_wheel_asked_for_while_its_read_runs_is_read_once(tmp_path: Path) -> None:
    members = {"torch/lib/libtorch_python.so": arch_library("sm_80 sm_90 compute_90") + b"\x00"}
    wheel = tmp_path / "torch-2.99.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    opened: list[str] = []
    release = threading.Event()

    def opener(url: str) -> LocalFile:
        opened.append(url)
        release.wait(10)  # the background read holds on until the solver asks for the same file
        return LocalFile(wheel)

    reader = WheelArchReader(opener, cache_root=tmp_path / "cache")
    file = TorchFile(filename=wheel.name, url=wheel.as_uri(), sha256="ab" * 32, size=wheel.stat().st_size)
    reader.start(file)
    answers: list[ArchAnswer] = []
    asker = threading.Thread(target=lambda: answers.append(reader.learn(file)))
    asker.start()
    time.sleep(0.2)  # the asker is now waiting for the background read
    release.set()
    asker.join(10)
    assert opened == [wheel.as_uri()]
    assert answers[0].archs is not None
    assert answers[0].archs.sass_names == ("sm_80", "sm_90")
    # and then from the cache, without opening the file again
    assert reader.learn(file).archs == answers[0].archs
    assert opened == [wheel.as_uri()]


def _h100_torch_2_10_5(universe: Universe, tmp_path: Path) -> tuple[FixtureIndexServer, Path]:
    """The `newrelease` universe and a spec of torch 2.10.5 (not in the knowledge base) for an H100."""
    server = universe("newrelease")
    spec = universe_spec(
        tmp_path,
        server,
        deps=("torch==2.10.5",),
        targets=target_block("h100", gpus=("H100",), driver="575.51.03"),
    )
    return server, spec
