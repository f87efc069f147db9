"""The lock checks' shortcuts (what makes `diff` and `check` of large locks fast) accept exactly what
the full checks accept: a bad URL, version or file in a lock is still refused, with its key named."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from envlock.errors import LockValueError
from envlock.lock.model import Artifact, LockedPackage
from envlock.lock.validate import _Check, _full_url_problem, _package, _version_ok, url_problem

URL_PARTS = st.sampled_from(
    ["https", "http", "ftp", "file", "://", ":", "/", "//", "@", "[", "]", "::1", "host", "a.b", "-", ".",
     "8080", "99999", "?", "#", "%20", " ", "\\", "\t", "x.whl", "+", "~"]
)  # fmt: skip


@settings(max_examples=600)
@given(st.lists(URL_PARTS, max_size=12).map("".join))
def test_a_url_passes_exactly_when_the_full_check_passes(url: str) -> None:
    assert (url_problem(url) is None) == (_full_url_problem(url) is None)


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https:///path",
        "https://u@/x",
        "https://[::1/x",
        "ftp://host/x",
        "https://host/a b",
        "x.whl",
    ],
)
def test_malformed_urls_are_still_refused(url: str) -> None:
    assert url_problem(url) is not None


VERSION_PARTS = st.sampled_from(["1", "0", "26", ".", "+", "cu124", "a", "rc1", "!", "-", "post1", "_", "CU"])


@settings(max_examples=600)
@given(st.lists(VERSION_PARTS, min_size=1, max_size=8).map("".join))
def test_a_version_passes_exactly_when_packaging_accepts_it(text: str) -> None:
    try:
        Version(text)
        valid = True
    except InvalidVersion:
        valid = False
    assert _version_ok(text) == valid


def _artifact(**change: object) -> Artifact:
    fields: dict[str, object] = {
        "filename": "alpha-1.0-py3-none-any.whl",
        "url": "https://files.example/alpha-1.0-py3-none-any.whl",
        "size": 10,
        "sha256": "a" * 64,
    }
    fields.update(change)
    return Artifact(**fields)  # type: ignore[arg-type]  # the test varies one field at a time


@pytest.mark.parametrize(
    ("package", "key"),
    [
        (
            LockedPackage(name="-alpha", version="1.0", index="https://i.example/simple", artifacts=()),
            ".name",
        ),
        (
            LockedPackage(name="alpha", version="1..0", index="https://i.example/simple", artifacts=()),
            ".version",
        ),
        (LockedPackage(name="alpha", version="1.0", index="ftp://i.example/", artifacts=()), ".index"),
        (
            LockedPackage(
                name="alpha", version="1.0", index="", artifacts=(_artifact(url="https:///x.whl"),)
            ),
            ".artifacts[0].url",
        ),
        (
            LockedPackage(name="alpha", version="1.0", index="", artifacts=(_artifact(filename="../x.whl"),)),
            ".artifacts[0].file",
        ),
        (
            LockedPackage(name="alpha", version="1.0", index="", artifacts=(_artifact(sha256="A" * 64),)),
            ".artifacts[0].sha256",
        ),
        (
            LockedPackage(name="alpha", version="1.0", index="", artifacts=(_artifact(size=-1),)),
            ".artifacts[0].size",
        ),
        (
            LockedPackage(name="alpha", version="1.0", index="", artifacts=(_artifact(), _artifact())),
            ".artifacts[1].file",
        ),
    ],
)
def test_a_bad_package_value_is_refused_and_named(package: LockedPackage, key: str) -> None:
    with pytest.raises(LockValueError) as caught:
        _package(_Check("envlock.lock"), "targets[0].packages[3]", package)
    assert caught.value.details["key"] == "targets[0].packages[3]" + key
