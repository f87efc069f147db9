"""uv tells envlock which versions it selects while it resolves (`UvBackend.watch_selections`), so
that the solver starts reading those releases' index pages before uv answers. Real uv against the
fixture indexes: these tests fail when uv stops logging its choices the way envlock reads them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envlock.errors import ResolutionError
from envlock.resolvers import ResolutionRequest
from envlock.resolvers.uv import UvBackend
from fixtures.server import FixtureIndexServer
from tests.solve.conftest import uv_request


def test_uv_tells_of_every_version_it_selects(index_server: FixtureIndexServer) -> None:
    backend = UvBackend()
    heard: list[tuple[ResolutionRequest, str, str]] = []
    backend.watch_selections(lambda request, name, version: heard.append((request, name, version)))
    request = uv_request(index_server.default, "cupy-cuda12x", "typing-extensions")
    resolution = backend.resolve(request)
    assert {p.name for p in resolution.packages} >= {"cupy-cuda12x", "numpy", "typing-extensions"}
    assert {r for r, _n, _v in heard} == {request}
    # every package of the answer was heard of, at its resolved version, before uv answered
    assert {(p.name, p.version) for p in resolution.packages} <= {(n, v) for _r, n, v in heard}


def test_a_watched_resolution_answers_and_fails_as_an_unwatched_one(index_server: FixtureIndexServer) -> None:
    watched, plain = UvBackend(), UvBackend()
    watched.watch_selections(lambda request, name, version: None)
    request = uv_request(index_server.default, "cupy-cuda12x", "numpy<2")
    assert watched.resolve(request) == plain.resolve(request)
    conflict = replace(request, requirements=("cupy-cuda12x", "numpy<1.20"))
    with pytest.raises(ResolutionError) as seen:
        watched.resolve(conflict)
    with pytest.raises(ResolutionError) as expected:
        plain.resolve(conflict)
    assert seen.value.message == expected.value.message  # no resolver log lines in the explanation
    assert "DEBUG" not in seen.value.message
    assert seen.value.details == expected.value.details


def test_a_watcher_that_fails_does_not_fail_the_resolution(index_server: FixtureIndexServer) -> None:
    backend = UvBackend()

    def broken(request: ResolutionRequest, name: str, version: str) -> None:
        raise RuntimeError("a hint only")

    backend.watch_selections(broken)
    numpy = backend.resolve(uv_request(index_server.default, "numpy<2")).package("numpy")
    assert numpy is not None and numpy.version.startswith("1.")
