"""`[cuda] trust-inferred-archs`: a boolean, off by default, part of the spec hash only when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.spec.parse import load_spec, spec_hash

BASE = (
    '[env]\nname = "x"\npython = "3.11"\ndependencies = ["torch"]\n\n{cuda}\n'
    '[[target]]\nname = "t"\nplatform = "linux-x86_64"\ngpus = ["V100"]\ndriver = "575.51.03"\n'
)


def _spec(tmp_path: Path, cuda: str) -> Path:
    path = tmp_path / "envlock.toml"
    path.write_text(BASE.format(cuda=cuda))
    return path


def test_off_by_default_and_hashed_only_when_set(tmp_path: Path) -> None:
    absent = load_spec(_spec(tmp_path, ""))
    assert absent.cuda.trust_inferred_archs is False
    hash_absent = spec_hash(absent)
    assert spec_hash(load_spec(_spec(tmp_path, "[cuda]\ntrust-inferred-archs = false\n"))) == hash_absent
    trusted = load_spec(_spec(tmp_path, "[cuda]\ntrust-inferred-archs = true\n"))
    assert trusted.cuda.trust_inferred_archs is True
    assert spec_hash(trusted) != hash_absent


def test_a_non_boolean_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"cuda\.trust-inferred-archs: \"yes\" is not a boolean"):
        load_spec(_spec(tmp_path, '[cuda]\ntrust-inferred-archs = "yes"\n'))
