"""Reading one release from a JSON project page decodes only that release's entries (what keeps
cold solves of big pages fast), and gives exactly the files a whole-page parse gives for it:
whatever the key order, spacing, version spellings or text inside other entries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from envlock.errors import IndexFormatError
from envlock.index import parse
from envlock.index.parse import parse_json_page

URL = "https://index.example/simple/demo/"

# File names of one project in the spellings real pages carry; several spell the same release.
NAMES = [
    "demo-1.0.tar.gz",
    "demo-1.0.0-py3-none-any.whl",
    "demo-01.0.zip",
    "Demo-1.0.0.0.tar.gz",
    "demo-v1.0.tar.gz",
    "demo-0!1.0-py3-none-any.whl",
    "demo-1!1.0-py3-none-any.whl",
    "demo-1.0.post1-py3-none-any.whl",
    "demo-1.0-1-py3-none-any.whl",
    "demo-1.0rc1.tar.gz",
    "demo-1.0.1-cp311-cp311-manylinux_2_28_x86_64.whl",
    "demo-10.0-py3-none-any.whl",
    "demo-11.0-py3-none-any.whl",
    "demo-1.01.tar.gz",
    "demo-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
    "demo-2.5.1-cp311-cp311-manylinux_2_28_x86_64.whl",
    "demo-2.5.10-py3-none-any.whl",
    "demo_extra-2.5.1-py3-none-any.whl",
    "demo-0-py3-none-any.whl",
    "demo-0.0.tar.gz",
    "demo-2023.10.1-py3-none-any.whl",
    "demo-not-a-version.tar.gz",
]
VERSIONS = ["1.0", "1.0.post1", "1.0rc1", "1.0.1", "10.0", "1.1", "2.5.1", "2.5.1+cu124", "0", "2023.10.1",
            "1!1.0"]  # fmt: skip


def _entry(name: str, number: int, order: str, reason: str | None) -> dict[str, Any]:
    digest = f"{number:064x}"
    entry: dict[str, Any] = {
        "core-metadata": {"sha256": digest} if number % 2 else False,
        "data-dist-info-metadata": {"sha256": digest} if number % 2 else False,
        "filename": name,
        "hashes": {"sha256": digest},
        "requires-python": ">=3.9" if number % 3 else None,
        "size": 1000 + number,
        "upload-time": f"2024-01-{1 + number % 28:02d}T00:00:00.000000Z",
        "url": f"../../files/{number}/{name}",
        "yanked": reason if reason is not None else False,
    }
    keys = sorted(entry, reverse=order == "reversed")
    return {k: entry[k] for k in keys}


def _page(entries: list[dict[str, Any]], spacing: str, meta_first: bool) -> bytes:
    meta = {"api-version": "1.1", "_last-serial": 4242}
    document = {"meta": meta, "name": "demo", "files": entries} if meta_first else {
        "files": entries, "meta": meta, "name": "demo", "versions": ["1.0"]}  # fmt: skip
    if spacing == "compact":
        return json.dumps(document, separators=(",", ":")).encode()
    if spacing == "indented":
        return json.dumps(document, indent=2).encode()
    return json.dumps(document).encode()


def _whole_page_release(body: bytes, version: Version) -> parse.ParsedPage:
    whole = parse_json_page(body, url=URL)
    return parse.ParsedPage(files=tuple(f for f in whole.files if f.version == version), serial=whole.serial)


# Yanked reasons that look like page text: they are JSON strings, so their quotes are escaped.
REASONS = st.sampled_from(
    [None, "broken", '{"filename": "demo-1.0.tar.gz", "url": "x"}', '}, {"filename": "demo-1.0.tar.gz"',
     "bad {", "é", "\\"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=14),
    reasons=st.lists(REASONS, min_size=14, max_size=14),
    order=st.sampled_from(["sorted", "reversed"]),
    spacing=st.sampled_from(["compact", "default", "indented"]),
    meta_first=st.booleans(),
    version=st.sampled_from(VERSIONS),
)
def test_one_release_is_the_same_as_from_the_whole_page(
    names: list[str], reasons: list[str | None], order: str, spacing: str, meta_first: bool, version: str
) -> None:
    entries = [_entry(n, i, order, reasons[i]) for i, n in enumerate(names)]
    body = _page(entries, spacing, meta_first)
    wanted = Version(version)

    assert parse_json_page(body, url=URL, version=wanted) == _whole_page_release(body, wanted)
    # every page here has the usual shape (any key order, spacing or indentation): none was decoded
    # whole, unless the release has an epoch (rare enough to take the slow way)
    fast = parse._release_only(body, parse._ReleaseFilter(wanted), url=URL, where=URL)
    assert (fast is not None) == (wanted.epoch == 0)


def test_the_usual_page_is_read_without_decoding_every_entry() -> None:
    # The shape of the real default index: warehouse's key order, `"key": "value"` spacing.
    entries = [_entry(n, i, "sorted", None) for i, n in enumerate(NAMES)]
    body = _page(entries, "default", meta_first=False)
    version = Version("1.0")

    found = parse._release_only(body, parse._ReleaseFilter(version), url=URL, where=URL)

    assert found == _whole_page_release(body, version)
    assert sorted(f.filename for f in found.files) == sorted(
        ["demo-1.0.tar.gz", "demo-1.0.0-py3-none-any.whl", "demo-01.0.zip", "Demo-1.0.0.0.tar.gz",
         "demo-v1.0.tar.gz", "demo-0!1.0-py3-none-any.whl", "demo-1.0-1-py3-none-any.whl"]
    )  # fmt: skip
    assert found.serial == 4242


@pytest.mark.parametrize(
    "body",
    [
        # an entry without a file name (its name comes from its URL), one with a non-string name,
        # an escaped name, a page printed with other spacing: all go the slow way, same answer
        b'{"files": [{"url": "https://h/f/demo-1.0.tar.gz", "hashes": {}}], "meta": {}}',
        b'{"files": [{"filename": null, "url": "https://h/f/demo-1.0.tar.gz"}], "meta": {}}',
        b'{"files": [{"filename": "demo-1.0-\\u00e9.tar.gz", "url": "https://h/f/x"}], "meta": {}}',
        b'{"files" : [{"filename" : "demo-1.0.tar.gz", "url" : "https://h/f/demo-1.0.tar.gz"}], "meta" : {}}',
    ],
)
def test_pages_of_other_shapes_give_the_same_release(body: bytes) -> None:
    version = Version("1.0")

    assert parse._release_only(body, parse._ReleaseFilter(version), url=URL, where=URL) is None
    assert parse_json_page(body, url=URL, version=version) == _whole_page_release(body, version)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"files": [{"filename": "demo-1.0.tar.gz", "url": "https://h/d"}], "meta":', "invalid JSON"),
        (b'{"files": [{"filename": "demo-1.0.tar.gz", "url": "https://h/d"}]}', "'meta'"),
        (b'{"files": [{"filename": "demo-1.0.tar.gz", "url": 7}], "meta": {}}', "has no 'url'"),
        (b'{"files": [{"filename": "demo-1.0.tar.gz", "url": "https://h/d"}], "meta": {"api-version": "2"}}',
         "version 2"),
    ],
)  # fmt: skip
def test_a_broken_page_is_refused_when_one_release_is_asked_for(body: bytes, words: str) -> None:
    with pytest.raises(IndexFormatError, match=words):
        parse_json_page(body, url=URL, version=Version("1.0"))
