"""User knowledge-base files add private builds, override rows, and fail loudly when malformed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.kb import ComputeCapability, load_kb

PRIVATE = """
[[torch]]
release = "2.5.1"
variant = "cu124"
platform = "linux-aarch64"
cuda = "12.4"
sass = ["sm_80", "sm_90"]
ptx = ["compute_90"]
cudnn = "9.1.0.70"
nccl = "2.21.5"
source = "our build farm, job 1234"
"""


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


def write(tmp_path: Path, text: str, name: str = "private.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_private_build_overrides_the_builtin_row(tmp_path: Path) -> None:
    builtin = load_kb().torch_build("2.5.1", "cu124", "linux-aarch64")
    assert builtin is not None and builtin.sass == (cc("sm_90"),)
    kb = load_kb([write(tmp_path, PRIVATE)])
    b = kb.torch_build("2.5.1", "cu124", "linux-aarch64")
    assert b is not None
    assert b.sass == (cc("sm_80"), cc("sm_90")) and b.ptx == (cc("sm_90"),)
    assert (b.status, b.source, b.cudnn, b.nccl) == ("user", "our build farm, job 1234", "9.1.0.70", "2.21.5")
    # the rest of the built-in data is still there
    assert kb.torch_build("2.5.1", "cu124", "linux-x86_64") == load_kb().torch_build(
        "2.5.1", "cu124", "linux-x86_64"
    )


def test_a_private_variant_and_gpu_are_added(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[gpus]
"Acme X1" = { cc = "9.0", family = "Hopper" }

[[torch]]
release = "2.6.0"
variant = "cu125"
platform = "linux-x86_64"
sass = ["9.0"]
""",
    )
    kb = load_kb([path])
    assert kb.resolve_gpu("acme-x1") == cc("9.0")
    info = kb.gpu("Acme X1")
    assert info is not None and info.status == "user"
    assert "cu125" in kb.known_variants()
    b = kb.torch_build("2.6.0", "cu125", "linux-x86_64")
    assert b is not None and b.cuda == "12.5" and b.status == "user"
    inferred = kb.torch_build("2.6.1", "cu125", "linux-x86_64")
    assert inferred is not None and inferred.inferred_from == "2.6.0" and inferred.status == "inferred"
    assert load_kb().torch_build("2.6.0", "cu125", "linux-x86_64") is None


def test_env_var_files_are_read_and_explicit_files_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = write(tmp_path, PRIVATE, "env.toml")
    second = write(tmp_path, PRIVATE.replace('["sm_80", "sm_90"]', '["sm_90"]'), "spec.toml")
    monkeypatch.setenv("ENVLOCK_KB", os.pathsep.join([str(first)]))
    b = load_kb().torch_build("2.5.1", "cu124", "linux-aarch64")
    assert b is not None and cc("sm_80") in b.sass
    b = load_kb([second]).torch_build("2.5.1", "cu124", "linux-aarch64")
    assert b is not None and cc("sm_80") not in b.sass


def test_digest_changes_when_a_user_file_is_added(tmp_path: Path) -> None:
    base = load_kb().digest
    with_file = load_kb([write(tmp_path, PRIVATE)]).digest
    assert with_file != base
    assert load_kb([write(tmp_path, PRIVATE)]).digest == with_file  # same bytes, same digest
    changed = load_kb([write(tmp_path, PRIVATE.replace("1234", "1235"))]).digest
    assert changed not in (base, with_file)


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            '[[torch]]\nrelease = "2.5.1"\nvariant = "cu124"\nplatform = "linux-x86_64"\nsass = ["sm_9x"]\n',
            "torch[0].sass[0]",
            "not a compute capability",
        ),
        (
            '[[torch]]\nrelease = "2.5.1"\nvariant = "cu124"\nplatform = "linux-x86-64"\nsass = []\n',
            "torch[0].platform",
            "not a platform",
        ),
        (
            '[[torch]]\nrelease = "2.5.1"\nvariant = "cu124"\nplatform = "linux-x86_64"\ncuda = "12.6"\n',
            "torch[0].cuda",
            "does not match variant cu124",
        ),
        ('[[torch]]\nrelease = "2.5.1"\nplatform = "linux-x86_64"\n', "torch[0].variant", "missing"),
        (
            '[[torch]]\nrelease = "2.5.1"\nvariant = "cu124"\nplatform = "linux-x86_64"\nsas = []\n',
            "torch[0].sas",
            "unknown key",
        ),
        ('[gpus]\n"X" = { cc = "nine" }\n', "gpus.X.cc", "not a compute capability"),
        ('[cuda]\n"12.4" = { min_driver_linux = "55x" }\n', 'cuda."12.4".min_driver_linux', "not a driver"),
        ("[cudas]\n", "cudas", "unknown key"),
    ],
)
def test_malformed_user_file_names_the_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_kb([path])
    message = str(info.value)
    assert str(path) in message and f": {key}:" in message and fragment in message


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[torch]]\nrelease = "2.5.1"\nvariant = "cu124"\nplatform = "linux-x86_64"\nsas = []\n'
    )
    with pytest.raises(SpecError) as info:
        load_kb([path])
    assert info.value.hint is not None and "sass" in info.value.hint


def test_invalid_toml_in_a_user_file_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[torch]]\nrelease = "2.5.1"\nvariant = \n')
    with pytest.raises(SpecError) as info:
        load_kb([path])
    assert f"{path}:3:" in str(info.value)


def test_missing_user_file_is_a_spec_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_kb([tmp_path / "nope.toml"])
    monkeypatch.setenv("ENVLOCK_KB", str(tmp_path / "gone.toml"))
    with pytest.raises(SpecError, match="ENVLOCK_KB"):
        load_kb()
