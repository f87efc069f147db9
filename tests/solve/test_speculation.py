"""Resolutions started ahead of the solve (envlock.resolvers.speculation): they answer only a request
equal to the one they resolve, a repeated solve writes the same lock, and nothing with credentials is
written down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from packaging.version import Version

from envlock.resolvers import ResolutionRequest
from envlock.resolvers.speculation import SpeculativeBackend
from envlock.resolvers.uv import UvBackend
from envlock.userfiles import default_cache_root
from fixtures.server import FixtureIndexServer
from tests.solve.conftest import Run, target_block


def _request(index: str, requirement: str) -> ResolutionRequest:
    return ResolutionRequest(
        requirements=(requirement,),
        constraints=(),
        python="3.11",
        platform="linux-x86_64",
        glibc="2.28",
        default_index=index,
        extra_indexes=(),
        pinned=(),
        exclude_newer=None,
    )


def test_a_resolution_started_ahead_answers_only_an_equal_request(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    old = _request(index_server.default, "numpy<2")
    first = SpeculativeBackend(UvBackend(), tmp_path, "same-inputs")
    assert first.start() == 0  # nothing remembered yet
    answer = first.resolve(old)
    first.save()

    second = SpeculativeBackend(UvBackend(), tmp_path, "same-inputs")
    assert second.start() == 1  # the remembered request runs at once
    # The solve now asks for something else (a newer knowledge base, an index that changed): it is
    # resolved afresh, not answered by the run started ahead.
    new = replace(old, requirements=("numpy>=2",))
    numpy = second.resolve(new).package("numpy")
    assert numpy is not None and Version(numpy.version) >= Version("2")
    assert second.resolve(old) == answer


def test_requests_with_credentials_are_never_written_down(
    index_server: FixtureIndexServer, tmp_path: Path
) -> None:
    backend = SpeculativeBackend(UvBackend(), tmp_path, "with-password")
    backend.resolve(_request(index_server.private_with_credentials, "privpkg"))
    backend.save()
    assert not list(tmp_path.rglob("with-password"))
    assert SpeculativeBackend(UvBackend(), tmp_path, "with-password").start() == 0


def test_a_repeated_solve_starts_uv_ahead_and_writes_the_same_lock(
    envlock: Callable[..., Run], write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec(
        deps=("torch>=2.5,<2.8", "numpy<2"),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15"),
    )
    lock = tmp_path / "envlock.lock"
    first = envlock("solve", "-s", str(spec))
    assert first.code == 0, first.err
    written = lock.read_bytes()
    remembered = list((default_cache_root() / "solve-requests-v1").iterdir())
    assert len(remembered) == 1
    lock.unlink()
    second = envlock("solve", "-s", str(spec))
    assert second.code == 0, second.err
    assert lock.read_bytes() == written
