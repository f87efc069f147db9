"""The page cache (revalidation, offline use) and what the client does when an index misbehaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import NetworkError
from envlock.index import HttpIndexClient, ProjectNotFound
from fixtures.server import FixtureIndexServer


def _page_requests(server: FixtureIndexServer, path: str) -> list[tuple[int, str | None]]:
    return [(r.status, r.if_none_match) for r in server.requests if r.path == path]


def test_second_fetch_is_a_304_revalidation(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    index_server.clear_requests()

    first = client.project(index_server.default, "numpy")
    second = client.project(index_server.default, "numpy")

    requests = _page_requests(index_server, "/simple/numpy/")
    assert len(requests) == 2
    assert requests[0] == (200, None)
    assert requests[1][0] == 304 and requests[1][1] is not None
    assert first == second


def test_the_cache_is_shared_between_clients_and_used_offline(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    online = HttpIndexClient(cache_dir=tmp_path, retries=0).project(index_server.variant("cu126"), "torch")
    index_server.clear_requests()

    offline = HttpIndexClient(cache_dir=tmp_path, offline=True).project(
        index_server.variant("cu126"), "torch"
    )

    assert offline == online
    assert index_server.requests == []


def test_offline_cache_miss_says_what_to_do(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, offline=True)
    index_server.clear_requests()

    with pytest.raises(NetworkError) as caught:
        client.project(index_server.default, "torchvision")

    assert caught.value.exit_code == 3
    assert "not in the cache and --offline was given" in caught.value.message
    assert caught.value.hint is not None and "bundle" in caught.value.hint
    assert index_server.requests == []


def test_default_cache_location_follows_envlock_cache_dir(
    tmp_path: Path, index_server: FixtureIndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(tmp_path / "elsewhere"))
    HttpIndexClient(retries=0).project(index_server.default, "filelock")

    assert list((tmp_path / "elsewhere" / "http-v1").rglob("*"))


def test_retries_cure_a_flaky_index(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=3, backoff=0.0)
    index_server.clear_requests()

    page = client.project(index_server.fault("flaky"), "filelock")

    assert [f.filename for f in page.files] == ["filelock-3.16.1-py3-none-any.whl"]
    assert [status for status, _ in _page_requests(index_server, "/fault/flaky/simple/filelock/")] == [
        500,
        500,
        200,
    ]


def test_persistent_500_gives_up_naming_the_url(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=2, backoff=0.0)
    index_server.clear_requests()

    with pytest.raises(NetworkError) as caught:
        client.project(index_server.fault("500"), "torch")

    url = index_server.fault("500") + "torch/"
    assert caught.value.message == f"{url} failed after 3 tries: HTTP 500"
    assert caught.value.exit_code == 3
    assert len(_page_requests(index_server, "/fault/500/simple/torch/")) == 3


def test_too_few_retries_do_not_cure_the_flaky_index(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index_server.clear_requests()
    with pytest.raises(NetworkError, match="failed after 2 tries"):
        HttpIndexClient(cache_dir=tmp_path, retries=1, backoff=0.0).project(
            index_server.fault("flaky"), "numpy"
        )


def test_a_timeout_is_a_network_error(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=1, backoff=0.0, timeout=0.2)

    with pytest.raises(NetworkError) as caught:
        client.project(index_server.fault("slow"), "torch")

    assert "timed out after 0.2 s" in caught.value.message
    assert caught.value.details["tries"] == 2


def test_a_dead_host_is_a_network_error(tmp_path: Path) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=1, backoff=0.0, timeout=2.0)
    # Port 9 (discard) on loopback: nothing listens there on a test machine, so the connection is refused.
    with pytest.raises(NetworkError, match="connection failed"):
        client.project("http://127.0.0.1:9/simple/", "torch")


def test_404_endpoint_is_project_not_found(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    with pytest.raises(ProjectNotFound):
        HttpIndexClient(cache_dir=tmp_path, retries=3, backoff=0.0).project(
            index_server.fault("404"), "torch"
        )
