"""The one redactor and the terminal escaper that every printed lock, spec and index string goes through."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from envlock.display import escape_controls, redact_text, redact_url, shown

_USERINFO = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters="/?#@"),
    min_size=1,
)
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}(:[0-9]{1,5})?", fullmatch=True)
_PATH = st.from_regex(r"(/[A-Za-z0-9._~%@+-]*){0,3}(\?[a-z=&@]*)?", fullmatch=True)
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@given(
    user=_USERINFO,
    password=_USERINFO,
    host=_HOST,
    path=_PATH,
    scheme=st.sampled_from(["https", "http", "git+https"]),
)
def test_a_url_in_text_loses_its_userinfo_as_redact_url_drops_it(
    user: str, password: str, host: str, path: str, scheme: str
) -> None:
    url = f"{scheme}://{user}:SECRET{password}@{host}{path}"
    text = f"error: {url} answered 401\nhint: see {url}"
    redacted = redact_text(text)
    assert "SECRET" not in redacted
    assert redacted == f"error: {redact_url(url)} answered 401\nhint: see {redact_url(url)}"
    assert redact_url(url) == f"{scheme}://{host}{path}"


def test_text_without_credentials_is_unchanged() -> None:
    text = "torch @ https://download.pytorch.org/whl/cu124/torch.whl, mail a@b.example, /x@y"
    assert redact_text(text) == text


@given(st.text())
def test_escaped_text_holds_no_control_character(text: str) -> None:
    assert not CONTROL.search(escape_controls(text))
    assert not CONTROL.search(shown(text))
    kept = escape_controls(text, keep_newlines=True)
    assert not CONTROL.search(kept.replace("\n", ""))
    assert kept.count("\n") == text.count("\n")


def test_escape_sequences_are_shown_not_obeyed() -> None:
    assert escape_controls("a\x1b[2J\x1b]8;;https://e\x07b\r\n\u202ec\x9b") == (
        "a\\x1b[2J\\x1b]8;;https://e\\x07b\\r\\n\\u202ec\\x9b"
    )
