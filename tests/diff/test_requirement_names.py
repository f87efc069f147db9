"""The diff pairs changed requirement strings by project name; its quick reader must agree with packaging."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from envlock.diff.compute import _requirement_name

_PIECES = st.sampled_from(
    [
        "torch",
        "numpy",
        "Foo.Bar_baz",
        "a",
        "a-",
        "-a",
        "x1",
        ">=",
        "<=",
        "<",
        ">",
        "==",
        "!=",
        "~=",
        "===",
        "2",
        "2.5",
        "1.0.0",
        "2.5.*",
        "1a1",
        "01",
        ".",
        ",",
        " ",
        "  ",
        "[",
        "]",
        "cuda",
        ";",
        "python_version",
        "'3.11'",
        "@",
        "https://x.example/a.whl",
        "(",
        ")",
        "\t",
        "+",
        "v1",
    ]
)


def _packaging_name(text: str) -> str | None:
    try:
        return canonicalize_name(Requirement(text).name)
    except ValueError:  # InvalidRequirement or InvalidSpecifier
        return None


_NAMES = st.sampled_from(["torch", "Foo.Bar_baz", "a", "a-b", "x1", "a_", "A.b"])
_OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "~=", "===", "=", "=>"])
_VERSIONS = st.sampled_from(["2", "2.5", "1.0.0", "2.5.*", "1a1", "01", "2.", ".5", "1+cu124", ""])
_SPACES = st.sampled_from(["", "", " ", "  ", "\t", "\n", "\u00a0", "\r"])
_CLAUSES = st.tuples(_SPACES, _OPS, _SPACES, _VERSIONS, _SPACES).map("".join)
_SHAPED = st.tuples(_NAMES, st.lists(_CLAUSES, max_size=3).map(",".join)).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(st.lists(_PIECES, min_size=1, max_size=8).map("".join), _SHAPED))
def test_requirement_name_agrees_with_packaging(text: str) -> None:
    assert _requirement_name(text) == _packaging_name(text)


def test_requirement_names_of_usual_specs() -> None:
    assert _requirement_name("torch>=2.5,<2.6") == "torch"
    assert _requirement_name("Foo.Bar_baz >= 1.0 , < 2") == "foo-bar-baz"
    assert _requirement_name("nvidia-cudnn-cu12[extra]==9.1.0.70") == "nvidia-cudnn-cu12"
    assert _requirement_name("not a requirement") is None
    assert _requirement_name("torch===,torch") is None  # packaging raises InvalidSpecifier here
