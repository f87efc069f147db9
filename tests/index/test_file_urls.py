"""File links are resolved as `urljoin` resolves them, also where envlock skips calling it."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from envlock.display import redact_url
from envlock.index.parse import clean_file_url


def _by_urljoin(href: str, base: str) -> tuple[str, str | None]:
    parts = urlsplit(urljoin(base, href))
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    return redact_url(bare), (parts.fragment or None)


_SEGMENT = st.text(alphabet=st.sampled_from(list("aZ09.-_~%+!$&'()*,;=:@/?#\\ \t")), max_size=12)
_HOST = st.sampled_from(["files.example", "h:8080", "u:p@h", "H.EXAMPLE", "[::1]", ""])
_BASES = st.sampled_from(
    [
        "https://i.example/simple/numpy/",
        "http://127.0.0.1:8765/whl/cu128/torch/",
        "https://user:tok@i.example/simple/x/",
        "HTTPS://I.example/simple/x/",
        "https://i.example",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(
    scheme=st.sampled_from(["https://", "http://", "", "/", "//", "../", "HTTP://", "ftp://"]),
    host=_HOST,
    path=st.lists(_SEGMENT, max_size=4),
    base=_BASES,
)
def test_clean_file_url_matches_urljoin(scheme: str, host: str, path: list[str], base: str) -> None:
    href = scheme + (host + "/" if scheme.endswith("//") else "") + "/".join(path)
    try:
        expected = _by_urljoin(href, base)
    except ValueError:
        return  # urlsplit refuses it (an invalid IPv6 host); no page can link it either
    assert clean_file_url(href, base) == expected


def test_the_common_shapes() -> None:
    assert clean_file_url(
        "https://files.example/packages/ab/x-1.0-py3-none-any.whl#sha256=AB", "https://i.example/simple/x/"
    ) == ("https://files.example/packages/ab/x-1.0-py3-none-any.whl", "sha256=AB")
    assert clean_file_url(
        "/whl/cu128/torch-2.9.0%2Bcu128-cp311-cp311-linux_x86_64.whl#sha256=ff",
        "https://download.pytorch.org/whl/cu128/torch/",
    ) == (
        "https://download.pytorch.org/whl/cu128/torch-2.9.0%2Bcu128-cp311-cp311-linux_x86_64.whl",
        "sha256=ff",
    )
