"""How long a cached index page is used without asking the index, and reading one release of a page."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from packaging.version import Version

from envlock.index import HttpIndexClient
from envlock.index.cache import DEFAULT_FRESHNESS, HttpCache, max_age_of
from envlock.index.client import project_url
from envlock.index.parse import parse_page
from fixtures.server import FixtureIndexServer


def _bodies(server: FixtureIndexServer, path: str) -> int:
    """Page bodies the server sent for `path` (a 304 sends none)."""
    return sum(1 for r in server.requests if r.path == path and r.method == "GET" and r.status == 200)


def _asked(server: FixtureIndexServer, path: str) -> int:
    return sum(1 for r in server.requests if r.path == path)


def test_a_page_without_validators_is_not_downloaded_again_while_fresh(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index = index_server.fault("no-validators")
    index_server.clear_requests()
    first = HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")
    second = HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")

    assert first == second
    assert _asked(index_server, "/fault/no-validators/simple/numpy/") == 1


def test_refresh_downloads_a_fresh_page_again(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    index = index_server.fault("no-validators")
    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")
    index_server.clear_requests()

    HttpIndexClient(cache_dir=tmp_path, retries=0, refresh=True).project(index, "numpy")

    assert _bodies(index_server, "/fault/no-validators/simple/numpy/") == 1


def test_a_page_without_validators_is_downloaded_again_after_the_window(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index = index_server.fault("no-validators")
    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")
    cache = HttpCache(tmp_path)
    url = project_url(index, "numpy")
    entry = cache.get(url)
    assert entry is not None and entry.etag is None and entry.last_modified is None
    cache.put(dataclasses.replace(entry, fetched_at=time.time() - DEFAULT_FRESHNESS - 1))
    index_server.clear_requests()

    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")

    assert _bodies(index_server, "/fault/no-validators/simple/numpy/") == 1


def test_a_release_missing_from_a_fresh_page_is_asked_for_again(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    """uv may have seen a release newer than envlock's cached page: envlock must find it too."""
    index = index_server.fault("no-validators")
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    whole = client.project(index, "numpy")
    newest = max(f.version for f in whole.files if f.version is not None)
    cache = HttpCache(tmp_path)
    entry = cache.get(project_url(index, "numpy"))
    assert entry is not None
    document = json.loads(entry.body)
    document["files"] = [f for f in document["files"] if Version(f["filename"].split("-")[1]) != newest]
    cache.put(dataclasses.replace(entry, body=json.dumps(document).encode(), fetched_at=time.time()))
    index_server.clear_requests()

    release = HttpIndexClient(cache_dir=tmp_path, retries=0).release(index, "numpy", newest)

    assert release.files == tuple(f for f in whole.files if f.version == newest) != ()
    assert _bodies(index_server, "/fault/no-validators/simple/numpy/") == 1


def test_a_page_with_validators_is_revalidated_every_time(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index_server.default, "numpy")
    index_server.clear_requests()

    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index_server.default, "numpy")

    assert _asked(index_server, "/simple/numpy/") == 1
    assert _bodies(index_server, "/simple/numpy/") == 0


def test_max_age_from_the_index_is_honoured(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    index = index_server.fault("max-age")
    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")
    index_server.clear_requests()

    HttpIndexClient(cache_dir=tmp_path, retries=0).project(index, "numpy")
    assert _asked(index_server, "/fault/max-age/simple/numpy/") == 0

    HttpIndexClient(cache_dir=tmp_path, retries=0, refresh=True).project(index, "numpy")
    assert _asked(index_server, "/fault/max-age/simple/numpy/") == 1
    assert _bodies(index_server, "/fault/max-age/simple/numpy/") == 0  # revalidated: a 304


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("public", None),
        ("max-age=600, public", 600.0),
        ('max-age="30"', 30.0),
        ("max-age=600, no-cache", 0.0),
        ("no-store", 0.0),
        ("max-age=soon", None),
    ],
)
def test_max_age_of_cache_control(header: str | None, expected: float | None) -> None:
    assert max_age_of(header) == expected


@pytest.mark.parametrize("route", ["simple/", "fault/html/simple/"])
def test_a_release_is_the_page_filtered_to_its_version(
    tmp_path: Path, index_server: FixtureIndexServer, route: str
) -> None:
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    index = f"{index_server.base}/{route}"
    whole = client.project(index, "numpy")
    versions = {f.version for f in whole.files if f.version is not None}
    assert len(versions) > 1
    for version in versions:
        release = client.release(index, "numpy", version)
        assert release.files == tuple(f for f in whole.files if f.version == version)
        assert release.files
    assert client.release(index, "numpy", Version("999")).files == ()


def test_a_release_filter_keeps_files_whose_names_spell_the_version_differently() -> None:
    body = (
        b'<a href="https://files.example/p/Foo-1.0.post1.tar.gz#sha256=aa">x</a>'
        b'<a href="https://files.example/p/foo-1.0-1.tar.gz#sha256=bb">x</a>'
        b'<a href="https://files.example/p/foo-1.0.POST1-py3-none-any.whl#sha256=cc">x</a>'
        b'<a href="https://files.example/p/foo-1.0-py3-none-any.whl#sha256=dd">x</a>'
        b'<a href="https://files.example/p/foo-1.0.post1.zip">x</a>'
    )
    url = "https://i.example/simple/foo/"
    whole = parse_page(body, content_type="text/html", url=url)
    page = parse_page(body, content_type="text/html", url=url, version=Version("1.0.post1"))

    assert page.files == tuple(f for f in whole.files if f.version == Version("1.0.post1"))
    # `foo-1.0-1.tar.gz` is version 1 to packaging's sdist rule (the last dash splits), as to pip.
    assert sorted(f.filename for f in page.files) == [
        "Foo-1.0.post1.tar.gz",
        "foo-1.0.POST1-py3-none-any.whl",
        "foo-1.0.post1.zip",
    ]


def _newest(client: HttpIndexClient, index: str) -> Version:
    return max(f.version for f in client.project(index, "numpy").files if f.version is not None)


def test_a_fresh_page_is_not_parsed_again_for_a_release(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index = index_server.fault("no-validators")
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    newest = _newest(client, index)
    first = client.release(index, "numpy", newest)
    cache = HttpCache(tmp_path)
    path = cache._path(project_url(index, "numpy"))
    header, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(header + b"\n" + b" " * len(body))  # same entry, a body no parser accepts

    again = HttpIndexClient(cache_dir=tmp_path, retries=0).release(index, "numpy", newest)

    assert again == first and again.files


def test_a_release_is_read_again_from_a_changed_page(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index = index_server.fault("no-validators")
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    newest = _newest(client, index)
    first = client.release(index, "numpy", newest)
    assert len(first.files) > 1
    cache = HttpCache(tmp_path)
    entry = cache.get(project_url(index, "numpy"))
    assert entry is not None
    document = json.loads(entry.body)
    dropped = first.files[0].filename
    document["files"] = [f for f in document["files"] if f["filename"] != dropped]
    cache.put(dataclasses.replace(entry, body=json.dumps(document).encode(), fetched_at=time.time()))

    again = HttpIndexClient(cache_dir=tmp_path, retries=0).release(index, "numpy", newest)

    assert [f.filename for f in again.files] == [f.filename for f in first.files[1:]]


def test_a_page_not_modified_is_not_parsed_again_for_a_release(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    index = index_server.default  # sends an ETag: revalidated on every use
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    newest = _newest(client, index)
    first = client.release(index, "numpy", newest)
    path = HttpCache(tmp_path)._path(project_url(index, "numpy"))
    header, _, body = path.read_bytes().partition(b"\n")
    path.write_bytes(header + b"\n" + b" " * len(body))
    index_server.clear_requests()

    again = HttpIndexClient(cache_dir=tmp_path, retries=0).release(index, "numpy", newest)

    assert again == first and again.files
    assert [r.status for r in index_server.requests if r.path == "/simple/numpy/"] == [304]
