"""Good specs parse into the values architecture.md §3 describes; the spec hash follows meaning, not bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envlock.errors import SpecError
from envlock.kb import ComputeCapability
from envlock.spec import find_spec, load_spec, spec_hash

FULL = """\
# the spec of architecture.md §3, plus envlock's own keys
[env]
name = "vit-train"
python = "3.11"
dependencies = ["torch>=2.5,<2.8", "torchvision", "numpy<2"]

[cuda]
version = ">=12.1"
cudnn = ">=9"
nccl = ">=2.21"
driver-compat = "native"
allow-ptx = true

[[target]]
name = "h100"
platform = "linux-x86_64"
glibc = "2.31"
gpus = ["H100", "sm_80", "nvidia h100"]
driver = "550.54.15"

[[target]]
name = "login"
platform = "linux-aarch64"

[[target]]
name = "laptop"
platform = "macos-arm64"

[indexes]
default = "https://mirror.example/simple/"
pytorch = "https://download.pytorch.org/whl/"
extra = ["https://pypi.nvidia.com"]

[resolution]
exclude-newer = 2026-11-01T02:00:00+02:00
knowledge-base = ["kb/private.toml"]
"""

PRIVATE_KB = """
[gpus]
"Acme X1" = { cc = "9.0", family = "Hopper" }
"""


def cc(text: str) -> ComputeCapability:
    return ComputeCapability.parse(text)


def write(directory: Path, text: str, name: str = "envlock.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def minimal(**overrides: str) -> str:
    values = {
        "name": "demo",
        "python": "3.12",
        "deps": '["torch"]',
        "gpus": '["H100"]',
        "driver": '"570.86.15"',
    }
    values.update(overrides)
    return (
        f'[env]\nname = "{values["name"]}"\npython = "{values["python"]}"\n'
        f"dependencies = {values['deps']}\n\n"
        f'[[target]]\nname = "gpu"\nplatform = "linux-x86_64"\ngpus = {values["gpus"]}\n'
        f"driver = {values['driver']}\n"
    )


def test_full_spec_parses_into_expected_values(tmp_path: Path) -> None:
    write(tmp_path, PRIVATE_KB, "kb/private.toml")
    spec = load_spec(write(tmp_path, FULL))
    assert (spec.name, spec.python, spec.free_threaded) == ("vit-train", "3.11", False)
    assert spec.dependencies == ("torch>=2.5,<2.8", "torchvision", "numpy<2")
    assert (spec.cuda.version, spec.cuda.cudnn, spec.cuda.nccl) == (">=12.1", ">=9", ">=2.21")
    assert (spec.cuda.driver_compat, spec.cuda.allow_ptx) == ("native", True)
    h100, login, laptop = spec.targets
    assert (h100.name, h100.platform, h100.glibc, h100.driver) == (
        "h100",
        "linux-x86_64",
        "2.31",
        "550.54.15",
    )
    assert [g.written for g in h100.gpus] == ["H100", "sm_80", "nvidia h100"]
    assert h100.archs == (cc("8.0"), cc("9.0"))
    assert (login.gpus, login.driver, login.glibc, login.has_gpus) == ((), None, "2.28", False)
    assert laptop.platform == "macos-arm64"
    assert spec.indexes.default == "https://mirror.example/simple"
    assert spec.indexes.pytorch == "https://download.pytorch.org/whl"
    assert spec.indexes.extra == ("https://pypi.nvidia.com",)
    assert spec.exclude_newer == "2026-11-01T00:00:00Z"
    assert spec.knowledge_base == ((tmp_path / "kb" / "private.toml").resolve(),)
    assert spec.target("login") is login and spec.target("nope") is None


def test_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, minimal(python="3.13t")))
    assert spec.free_threaded and spec.python_version == "3.13"
    assert (spec.cuda.version, spec.cuda.driver_compat, spec.cuda.allow_ptx) == (None, "prefer-native", False)
    assert spec.indexes.pytorch == "https://download.pytorch.org/whl"
    assert (spec.indexes.default, spec.indexes.extra, spec.exclude_newer) == (None, (), None)


def test_pytorch_false_switches_variant_indexes_off(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, minimal() + "[indexes]\npytorch = false\n"))
    assert spec.indexes.pytorch is None


def test_two_part_driver_and_date_exclude_newer(tmp_path: Path) -> None:
    # a two-part version is a full one (older Linux and Windows drivers: "390.157", "551.61")
    spec = load_spec(
        write(tmp_path, minimal(driver='"551.61"') + '[resolution]\nexclude-newer = "2026-03-01"\n')
    )
    assert spec.targets[0].driver == "551.61"
    assert spec.exclude_newer == "2026-03-01T00:00:00Z"


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ('"2026-11-01T00:00:00Z"', "2026-11-01T00:00:00Z"),
        ('"2026-11-01T05:30:00+05:30"', "2026-11-01T00:00:00Z"),
        ('"2026-11-01T00:00:00.123Z"', "2026-11-01T00:00:00Z"),
        ("2026-10-31T19:00:00-05:00", "2026-11-01T00:00:00Z"),
        ("2026-11-01", "2026-11-01T00:00:00Z"),
    ],
)
def test_exclude_newer_is_normalized_to_utc(tmp_path: Path, written: str, normalized: str) -> None:
    spec = load_spec(write(tmp_path, minimal() + f"[resolution]\nexclude-newer = {written}\n"))
    assert spec.exclude_newer == normalized


def test_user_kb_gpu_resolves_in_the_spec(tmp_path: Path) -> None:
    write(tmp_path, PRIVATE_KB, "private.toml")
    text = minimal(gpus='["Acme X1"]') + '[resolution]\nknowledge-base = ["private.toml"]\n'
    assert load_spec(write(tmp_path, text)).targets[0].archs == (cc("9.0"),)
    # without the knowledge-base file the same GPU is unknown
    with pytest.raises(SpecError, match="not a known GPU"):
        load_spec(write(tmp_path, minimal(gpus='["Acme X1"]')))


def test_pyproject_tool_envlock(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "demo"\nversion = "1"\n\n'
        '[tool.envlock.env]\nname = "demo"\npython = "3.11"\ndependencies = ["torch"]\n\n'
        '[[tool.envlock.target]]\nname = "a100"\nplatform = "linux-x86_64"\n'
        'gpus = ["A100"]\ndriver = "535.54.03"\n'
    )
    path = write(tmp_path, text, "pyproject.toml")
    assert find_spec(tmp_path) == path
    spec = load_spec(path)
    assert spec.name == "demo" and spec.targets[0].archs == (cc("8.0"),)


def test_find_spec_prefers_envlock_toml(tmp_path: Path) -> None:
    write(tmp_path, '[tool.envlock.env]\nname = "x"\n', "pyproject.toml")
    spec_file = write(tmp_path, minimal())
    assert find_spec(tmp_path) == spec_file
    assert find_spec(spec_file) == spec_file


def test_find_spec_without_spec_says_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    with pytest.raises(SpecError) as info:
        find_spec(tmp_path)
    assert "envlock.toml" in str(info.value)
    assert info.value.hint is not None and "-s" in info.value.hint


def test_spec_hash_ignores_formatting_comments_and_spelling(tmp_path: Path) -> None:
    base = spec_hash(load_spec(write(tmp_path / "a", minimal())))
    reformatted = (
        "# a comment\n[env]\n  python   = '3.12'   # py\nname='demo'\n"
        "dependencies=[ 'torch' ]\n\n\n[[target]]\ndriver='570.86.15'\ngpus=['sm_90']\n"
        "platform='linux-x86_64'\nname='gpu'\n"
    )
    assert spec_hash(load_spec(write(tmp_path / "b", reformatted))) == base
    assert spec_hash(load_spec(write(tmp_path / "c", minimal(deps='["torch>=2.5"]')))) != base
    assert spec_hash(load_spec(write(tmp_path / "d", minimal(driver='"570.86.16"')))) != base
    assert spec_hash(load_spec(write(tmp_path / "e", minimal(gpus='["A100"]')))) != base
    assert base.startswith("sha256:") and len(base) == len("sha256:") + 64


def test_spec_hash_does_not_depend_on_where_the_spec_lives(tmp_path: Path) -> None:
    text = minimal() + '[resolution]\nknowledge-base = ["private.toml"]\n'
    for d in ("one", "two/deeper"):
        write(tmp_path / d, PRIVATE_KB, "private.toml")
    hashes = {spec_hash(load_spec(write(tmp_path / d, text))) for d in ("one", "two/deeper")}
    assert len(hashes) == 1


_DEP_NAMES = st.sampled_from(["torch", "numpy", "torchvision", "einops", "triton"])
_DEP_SPECS = st.sampled_from(["", ">=1", "<2", "==1.2.3", ">=2.5,<2.8"])


@settings(max_examples=30, deadline=None)
@given(deps=st.lists(st.tuples(_DEP_NAMES, _DEP_SPECS), min_size=1, max_size=4, unique_by=lambda d: d[0]))
def test_spec_hash_ignores_dependency_order_and_spacing(
    tmp_path_factory: pytest.TempPathFactory, deps: list[tuple[str, str]]
) -> None:
    directory = tmp_path_factory.mktemp("h")
    tight = "[" + ", ".join(f'"{n}{s}"' for n, s in deps) + "]"
    loose = "[" + ", ".join(f'"  {n} {s}  "' for n, s in reversed(deps)) + "]"
    a = spec_hash(load_spec(write(directory / "a", minimal(deps=tight))))
    b = spec_hash(load_spec(write(directory / "b", minimal(deps=loose))))
    assert a == b
