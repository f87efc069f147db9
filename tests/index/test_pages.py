"""Reading project pages: PEP 691 JSON and PEP 503 HTML give the same files, with the real indexes' quirks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from packaging.version import Version

from envlock.errors import IndexFormatError
from envlock.index import HttpIndexClient, ProjectNotFound
from envlock.index.model import IndexFile
from fixtures.server import FixtureIndexServer, export_tree, pytorch_lists_hash


@pytest.fixture
def client(tmp_path: Path) -> HttpIndexClient:
    return HttpIndexClient(cache_dir=tmp_path / "cache", retries=0, backoff=0.0, timeout=10.0)


def _comparable(file: IndexFile) -> tuple[object, ...]:
    """What both serializations carry (HTML has no size or upload time)."""
    return (file.filename, file.url, file.hashes, file.requires_python, file.yanked, file.yanked_reason,
            file.core_metadata)  # fmt: skip


def test_json_and_html_serializations_give_the_same_files(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    from_json = client.project(index_server.default, "torch")
    from_html = client.project(index_server.fault("html"), "torch")

    assert [_comparable(f) for f in from_json.files] == [_comparable(f) for f in from_html.files]
    assert len(from_json.files) > 10
    assert from_json.serial == from_html.serial is not None
    assert all(f.size is not None and f.upload_time is not None for f in from_json.files)
    assert all(f.size is None and f.upload_time is None for f in from_html.files)
    first = from_json.files[0]
    built = index_server.wheel(first.filename)
    assert (first.sha256, first.size, first.upload_time) == (
        built.sha256,
        built.size,
        built.wheel.upload_time,
    )


def test_the_json_page_is_what_was_asked_for(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    index_server.clear_requests()
    page = client.project(index_server.default, "Typing_Extensions")

    assert page.name == "typing-extensions"
    assert page.index == index_server.default
    [request] = [r for r in index_server.requests if r.path.startswith("/simple/")]
    assert request.path == "/simple/typing-extensions/"
    assert request.accept is not None and request.accept.startswith("application/vnd.pypi.simple.v1+json")
    assert [f.filename for f in page.files] == ["typing_extensions-4.12.2-py3-none-any.whl"]


def test_variant_index_html_keeps_local_versions_and_decodes_percent_escapes(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    page = client.project(index_server.variant("cu124"), "torch")
    wanted = "torch-2.5.1+cu124-cp311-cp311-manylinux1_x86_64.whl"
    [file] = [f for f in page.files if f.filename == wanted]

    assert file.url == f"{index_server.base}/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-manylinux1_x86_64.whl"
    assert file.version == Version("2.5.1+cu124")
    assert str(file.version) == "2.5.1+cu124"
    assert file.is_wheel
    assert {str(tag) for tag in file.tags} == {"cp311-cp311-manylinux1_x86_64"}
    assert file.requires_python == ">=3.8.0"  # written `&gt;=3.8.0` in the page


def test_files_without_a_hash_fragment_have_no_sha256(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    page = client.project(index_server.variant("cu124"), "torch")
    with_hash = [f for f in page.files if pytorch_lists_hash(f.filename)]
    without_hash = [f for f in page.files if not pytorch_lists_hash(f.filename)]

    assert with_hash and without_hash  # the fixture mixes both, like download.pytorch.org
    assert all(f.sha256 is None and f.hashes == () for f in without_hash)
    assert all(f.sha256 == index_server.wheel(f.filename).sha256 for f in with_hash)
    assert all("#" not in f.url for f in page.files)


def test_relative_hrefs_resolve_against_the_page(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    page = client.project(index_server.nvidia, "nvidia-nccl-cu12")

    assert {str(f.version) for f in page.files} == {"2.27.5", "2.28.3"}
    for file in page.files:
        assert file.url == f"{index_server.base}/nvidia/packages/{file.filename}"
        assert file.sha256 == index_server.wheel(file.filename).sha256


@pytest.mark.parametrize("route", ["default", "html"])
def test_yanked_files_carry_their_reason(
    client: HttpIndexClient, index_server: FixtureIndexServer, route: str
) -> None:
    url = index_server.default if route == "default" else index_server.fault("html")
    page = client.project(url, "yankedpkg")
    by_version = {str(f.version): f for f in page.files}

    assert by_version["0.9.0"].yanked is False and by_version["0.9.0"].yanked_reason is None
    assert by_version["1.0.0"].yanked is True
    assert by_version["1.0.0"].yanked_reason == "broken build: links the wrong CUDA libraries"


def test_core_metadata_is_flagged(client: HttpIndexClient, index_server: FixtureIndexServer) -> None:
    assert all(f.core_metadata for f in client.project(index_server.default, "filelock").files)
    assert not any(f.core_metadata for f in client.project(index_server.variant("cpu"), "filelock").files)


def test_unknown_project_is_not_found(client: HttpIndexClient, index_server: FixtureIndexServer) -> None:
    with pytest.raises(ProjectNotFound) as caught:
        client.project(index_server.default, "no-such-project")

    assert caught.value.exit_code == 1
    assert caught.value.kind == "not-found"
    assert "no-such-project" in caught.value.message
    assert index_server.default in caught.value.message


def test_variant_without_the_project_is_not_found(
    client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    with pytest.raises(ProjectNotFound):
        client.project(index_server.variant("cpu"), "nvidia-cudnn-cu12")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("garbage", "invalid JSON"),
        ("garbage-html", "not a valid simple-API HTML page"),
        ("wrongtype", "content type 'image/png'"),
    ],
)
def test_garbage_answers_are_index_format_errors(
    client: HttpIndexClient, index_server: FixtureIndexServer, kind: str, words: str
) -> None:
    with pytest.raises(IndexFormatError) as caught:
        client.project(index_server.fault(kind), "torch")

    assert words in caught.value.message
    assert index_server.fault(kind) + "torch/" in caught.value.message
    assert caught.value.exit_code == 3


def test_a_newer_api_major_version_is_refused(tmp_path: Path, client: HttpIndexClient) -> None:
    project = tmp_path / "tree" / "demo"
    project.mkdir(parents=True)
    (project / "index.html").write_text(
        '<html><head><meta name="pypi:repository-version" content="2.0"></head>'
        '<body><a href="demo-1.0-py3-none-any.whl">demo-1.0-py3-none-any.whl</a></body></html>'
    )
    with pytest.raises(IndexFormatError, match=r"version 2\.0"):
        client.project((tmp_path / "tree").as_uri(), "demo")


def test_file_url_index_reads_a_local_pep503_tree(
    tmp_path: Path, client: HttpIndexClient, index_server: FixtureIndexServer
) -> None:
    simple = export_tree(tmp_path / "mirror", index_server.files, index_server.catalog, "whl/cu130")
    page = client.project(simple.as_uri(), "nvidia-nccl-cu13")

    [wheel] = [f for f in page.files if "x86_64" in f.filename]
    assert wheel.url == (tmp_path / "mirror" / "files" / wheel.filename).as_uri()
    assert wheel.sha256 == index_server.wheel(wheel.filename).sha256
    sha256, size = client.download(wheel.url, tmp_path / "out" / wheel.filename, expected_sha256=wheel.sha256)
    assert (sha256, size) == (wheel.sha256, index_server.wheel(wheel.filename).size)
    with pytest.raises(ProjectNotFound):
        client.project(simple.as_uri(), "torch-nightly")


def test_one_client_serves_many_threads(client: HttpIndexClient, index_server: FixtureIndexServer) -> None:
    projects = ["torch", "torchvision", "numpy", "triton", "filelock", "nvidia-cudnn-cu12", "cupy-cuda12x"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(lambda name: client.project(index_server.default, name), projects * 3))

    assert [p.name for p in pages] == projects * 3
    assert all(p.files for p in pages)
