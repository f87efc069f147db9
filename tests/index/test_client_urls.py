"""URLs the client does not fetch are refused at once, not retried as network failures (issue 8,
finding 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import IndexFormatError, IntegrityError
from envlock.index.client import HttpIndexClient


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://mirror.example/a-1.0-py3-none-any.whl", "a-1.0-py3-none-any.whl", "//x/y"],
)
def test_unsupported_urls_fail_once_with_what_is_wrong(tmp_path: Path, url: str) -> None:
    # a backoff this long would hold the test for minutes if any retry happened
    client = HttpIndexClient(cache_dir=tmp_path, retries=3, backoff=600)
    with pytest.raises(IndexFormatError) as err:
        client.download(url, tmp_path / "out.whl")
    assert "does not fetch this URL" in err.value.message
    assert "tries" not in err.value.message
    assert not (tmp_path / "out.whl").exists()


def test_a_local_file_larger_than_the_lock_says_is_stopped(tmp_path: Path) -> None:
    big = tmp_path / "big.whl"
    big.write_bytes(b"x" * 10_000)
    client = HttpIndexClient(cache_dir=tmp_path, retries=0)
    with pytest.raises(IntegrityError) as err:
        client.download(big.as_uri(), tmp_path / "out" / "big.whl", expected_size=100)
    assert "the lock pins 100 bytes" in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []
