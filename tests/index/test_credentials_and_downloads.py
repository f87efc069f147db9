"""Credentials reach the index and nothing else; downloads are verified and atomic."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from envlock.errors import IntegrityError, NetworkError
from envlock.index import ArtifactNotFound, HttpIndexClient, ProjectNotFound, redact_url
from fixtures.catalog import PRIVATE_PASSWORD, PRIVATE_USER
from fixtures.server import FixtureIndexServer

SECRETS = (PRIVATE_PASSWORD, base64.b64encode(f"{PRIVATE_USER}:{PRIVATE_PASSWORD}".encode()).decode())


def _assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text)


def _client(tmp_path: Path, **options: object) -> HttpIndexClient:
    return HttpIndexClient(cache_dir=tmp_path / "cache", retries=0, backoff=0.0, **options)  # type: ignore[arg-type]


def test_redact_url_drops_userinfo() -> None:
    assert (
        redact_url("https://user:tok%40en@host.example:8443/simple/") == "https://host.example:8443/simple/"
    )
    assert redact_url("https://__token__@host.example/simple/") == "https://host.example/simple/"
    assert redact_url("https://host.example/simple/") == "https://host.example/simple/"


def test_private_index_without_credentials_says_how_to_give_them(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    with pytest.raises(NetworkError) as caught:
        _client(tmp_path).project(index_server.private, "privpkg")

    assert "HTTP 401" in caught.value.message
    assert caught.value.hint is not None and "netrc" in caught.value.hint
    # the credentials are the reason, not a flaky network: exit 1 (inputs), not 3 (a retry may cure)
    assert caught.value.exit_code == 1
    assert caught.value.kind == "credentials"


def test_url_userinfo_is_sent_but_never_returned(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = _client(tmp_path)
    index_server.clear_requests()

    page = client.project(index_server.private_with_credentials, "privpkg")

    [request] = [r for r in index_server.requests if r.path == "/private/simple/privpkg/"]
    assert request.status == 200 and request.authorization == f"Basic {SECRETS[1]}"
    assert page.index == index_server.private
    [file] = page.files
    assert file.url == f"{index_server.base}/private/files/privpkg-1.0.0-py3-none-any.whl"
    _assert_no_secret(page, repr(page), file.url)

    # The download goes to the same host, so the client adds the credentials again.
    sha256, size = client.download(file.url, tmp_path / "privpkg.whl", expected_sha256=file.sha256)
    assert sha256 == file.sha256 and size == (tmp_path / "privpkg.whl").stat().st_size

    # Errors about URLs that carried credentials do not carry them either.
    with pytest.raises(ProjectNotFound) as caught:
        client.project(index_server.private_with_credentials, "missing-project")
    error = caught.value
    _assert_no_secret(error.message, error.hint, error.details, repr(error), str(error))
    assert index_server.private in error.message


def test_netrc_credentials_are_used(
    tmp_path: Path, index_server: FixtureIndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {PRIVATE_USER} password {PRIVATE_PASSWORD}\n")
    monkeypatch.setenv("NETRC", str(netrc))
    index_server.clear_requests()

    page = _client(tmp_path).project(index_server.private, "privpkg")

    assert [f.filename for f in page.files] == ["privpkg-1.0.0-py3-none-any.whl"]
    assert any(r.authorization == f"Basic {SECRETS[1]}" for r in index_server.requests)


def test_wrong_credentials_are_not_echoed(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    url = index_server.private_with_credentials.replace(PRIVATE_PASSWORD, "wrong-" + PRIVATE_PASSWORD)
    with pytest.raises(NetworkError) as caught:
        _client(tmp_path).project(url, "privpkg")

    assert "HTTP 401" in caught.value.message
    assert caught.value.exit_code == 1
    _assert_no_secret(caught.value.message, caught.value.details, caught.value.hint)
    assert "wrong-" not in caught.value.message


def test_download_verifies_and_reports_sha256_and_size(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    client = _client(tmp_path)
    [file] = [
        f
        for f in client.project(index_server.default, "numpy").files
        if f.filename.startswith("numpy-2.1.0-cp311")
    ][:1]
    seen: list[tuple[int, int | None]] = []

    dest = tmp_path / "dl" / file.filename
    sha256, size = client.download(
        file.url, dest, expected_sha256=file.sha256, progress=lambda n, t: seen.append((n, t))
    )

    assert dest.read_bytes() == index_server.wheel_path(file.filename).read_bytes()
    assert (sha256, size) == (file.sha256, file.size)
    assert seen[-1] == (size, size)


def test_download_of_a_file_with_the_wrong_index_hash_fails_and_leaves_nothing(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    client = _client(tmp_path)
    [file] = client.project(index_server.default, "badhash").files
    dest_dir = tmp_path / "dl"

    with pytest.raises(IntegrityError) as caught:
        client.download(file.url, dest_dir / file.filename, expected_sha256=file.sha256)

    assert caught.value.exit_code == 1
    assert file.url in caught.value.message
    assert caught.value.details["actual"] == index_server.wheel(file.filename).sha256
    assert list(dest_dir.iterdir()) == []


def test_a_truncated_download_is_retried_then_fails_and_leaves_nothing(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    client = HttpIndexClient(cache_dir=tmp_path / "cache", retries=1, backoff=0.0)
    filename = "filelock-3.16.1-py3-none-any.whl"
    dest_dir = tmp_path / "dl"

    with pytest.raises(NetworkError, match="failed after 2 tries"):
        client.download(index_server.fault("truncated", f"files/{filename}"), dest_dir / filename)

    assert list(dest_dir.iterdir()) == []


def test_a_vanished_file_is_artifact_not_found(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    with pytest.raises(ArtifactNotFound) as caught:
        _client(tmp_path).download(
            f"{index_server.base}/files/torch-0.0.1-py3-none-any.whl", tmp_path / "x.whl"
        )

    assert caught.value.exit_code == 1
    assert not (tmp_path / "x.whl").exists()


def test_offline_download_is_refused(tmp_path: Path, index_server: FixtureIndexServer) -> None:
    client = _client(tmp_path, offline=True)
    with pytest.raises(NetworkError, match="--offline"):
        client.download(index_server.file_url("filelock-3.16.1-py3-none-any.whl"), tmp_path / "f.whl")


def test_file_info_reads_size_and_a_declared_checksum(
    tmp_path: Path, index_server: FixtureIndexServer
) -> None:
    client = _client(tmp_path)
    filename = "nvidia_nccl_cu12-2.28.3-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
    built = index_server.wheel(filename)

    assert client.file_info(f"{index_server.base}/nvidia/packages/{filename}") == (built.size, built.sha256)
    assert client.file_info(index_server.file_url(filename)) == (built.size, None)
    with pytest.raises(ArtifactNotFound):
        client.file_info(index_server.file_url("nope-1.0-py3-none-any.whl"))
