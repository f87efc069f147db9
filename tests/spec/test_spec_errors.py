"""Bad specs fail with `<file>:<line>: <key.path>: <what>, expected <what>` and a useful hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.spec import load_spec

GOOD_HEAD = """\
[env]
name = "vit-train"
python = "3.11"
dependencies = ["torch>=2.5,<2.8", "numpy<2"]
"""

TARGET = """\
[[target]]
name = "h100"
platform = "linux-x86_64"
gpus = ["H100"]
driver = "550.54.15"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fail(directory: Path, text: str, name: str = "envlock.toml") -> SpecError:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return info.value


def assert_located(error: SpecError, line: int, key: str, file: str = "envlock.toml") -> None:
    assert str(error).startswith(f"{file}:{line}: {key}: "), str(error)
    assert error.details["line"] == line and error.details["key"] == key


def test_malformed_toml_reports_line_and_column(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + "[cuda]\nversion = >=12.1\n")
    assert str(error).startswith("envlock.toml:6: not valid TOML"), str(error)
    assert "column" in str(error)


def test_unknown_key_suggests_the_valid_one(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace("dependencies", "dependancies") + TARGET)
    assert_located(error, 4, "env.dependancies")
    assert "unknown key" in str(error) and "name, python, dependencies" in str(error)
    assert error.hint == "did you mean 'dependencies'?"


def test_unknown_key_in_a_target(in_tmp: Path) -> None:
    error = fail(
        in_tmp,
        GOOD_HEAD + TARGET + TARGET.replace('name = "h100"', 'name = "b"').replace("driver", "drivers"),
    )
    assert_located(error, 14, "target[1].drivers")
    assert "in [[target]]" in str(error)
    assert error.hint == "did you mean 'driver'?"


def test_unknown_top_level_table(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + "[index]\nextra = []\n")
    assert_located(error, 10, "index")
    assert error.hint == "did you mean 'indexes'?"


def test_unknown_gpu_suggests_close_names(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace('["H100"]', '["A100", "H10"]'))
    assert_located(error, 8, "target[0].gpus[1]")
    assert '"H10" is not a known GPU' in str(error)
    assert error.hint is not None and "H100" in error.hint


def test_driver_that_is_not_a_version(in_tmp: Path) -> None:
    text = GOOD_HEAD + TARGET + "\n" + TARGET.replace('"h100"', '"v100"').replace("550.54.15", "55x")
    error = fail(in_tmp, text)
    assert str(error) == (
        'envlock.toml:15: target[1].driver: "55x" is not a driver version, expected digits like "550.54.15"'
    )


def test_driver_written_as_a_float_is_refused(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace('"550.54.15"', "550.54"))
    assert_located(error, 9, "target[0].driver")
    assert error.hint is not None and "quote" in error.hint


def test_gpus_without_driver(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace('driver = "550.54.15"\n', ""))
    assert_located(error, 8, "target[0].driver")
    assert "missing while gpus is set" in str(error)


def test_duplicate_target_names(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + "\n" + TARGET)
    assert_located(error, 12, "target[1].name")
    assert "already the name of target[0]" in str(error)


@pytest.mark.parametrize("python", ['"3"', '"3.11.2"', '"py3"', '"2.7"', "3.11"])
def test_bad_python_versions(in_tmp: Path, python: str) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace('"3.11"', python) + TARGET)
    assert_located(error, 3, "env.python")
    assert "expected" in str(error) and "3.11" in str(error)


def test_a_three_digit_minor_is_refused_without_suggesting_itself(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace('"3.11"', '"3.123"') + TARGET)
    assert_located(error, 3, "env.python")
    assert error.hint is None  # "did you mean "3.123"?" would send the user in a circle


def test_bad_platform_suggests_the_right_one(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace("linux-x86_64", "linux_x86_64"))
    assert_located(error, 7, "target[0].platform")
    assert '"linux-x86_64"' in str(error) and error.hint == "did you mean 'linux-x86_64'?"


def test_bad_cuda_specifier(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + '[cuda]\ncudnn = ">=9"\nversion = "12.4"\n' + TARGET)
    assert_located(error, 7, "cuda.version")
    assert "not a version specifier" in str(error)
    assert error.hint == 'write "==12.4" or ">=12.4"'


def test_bad_driver_compat(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + '[cuda]\ndriver-compat = "natve"\n' + TARGET)
    assert_located(error, 6, "cuda.driver-compat")
    assert error.hint == "did you mean 'native'?"


def test_bad_dependency(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace('"numpy<2"', '"numpy<<2"') + TARGET)
    assert_located(error, 4, "env.dependencies[1]")
    assert "PEP 508" in str(error)


def test_bad_name(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace('"vit-train"', '"Vit_Train"') + TARGET)
    assert_located(error, 2, "env.name")
    assert error.hint == 'try "vit-train"'


def test_missing_env_name(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD.replace('name = "vit-train"\n', "") + TARGET)
    assert_located(error, 1, "env.name")


def test_no_target_is_an_error_with_an_example(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD)
    assert "no [[target]] is declared" in str(error)
    assert error.hint is not None and "[[target]]" in error.hint and "platform" in error.hint


def test_target_as_single_table(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace("[[target]]", "[target]"))
    assert_located(error, 5, "target")
    assert error.hint == "write [[target]] instead of [target]"


def test_macos_target_with_gpus(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace("linux-x86_64", "macos-arm64"))
    assert_located(error, 8, "target[0].gpus")
    assert "macOS has no NVIDIA GPUs" in str(error)


def test_bad_index_url(in_tmp: Path) -> None:
    error = fail(
        in_tmp, GOOD_HEAD + TARGET + '[indexes]\nextra = ["https://ok.example/simple", "ftp://x.example"]\n'
    )
    assert_located(error, 11, "indexes.extra[1]")


def test_credentials_are_not_echoed(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + '[indexes]\ndefault = "ftp://user:s3cret@x.example"\n')
    assert "s3cret" not in str(error)


def test_pytorch_true_is_refused(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + "[indexes]\npytorch = true\n")
    assert_located(error, 11, "indexes.pytorch")


def test_exclude_newer_without_zone(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + "[resolution]\nexclude-newer = 2026-11-01T00:00:00\n")
    assert_located(error, 11, "resolution.exclude-newer")
    assert "time zone" in str(error)


def test_exclude_newer_garbage(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + '[resolution]\nexclude-newer = "last tuesday"\n')
    assert_located(error, 11, "resolution.exclude-newer")


def test_missing_knowledge_base_file(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET + '[resolution]\nknowledge-base = ["private.toml"]\n')
    assert_located(error, 11, "resolution.knowledge-base[0]")


def test_errors_in_pyproject_name_the_full_key(in_tmp: Path) -> None:
    text = (
        '[project]\nname = "demo"\n\n[tool.envlock.env]\nname = "demo"\npython = "3.11"\n\n'
        '[[tool.envlock.target]]\nname = "a"\nplatform = "linux-x86_64"\ngpus = ["H100"]\ndriver = "5.5.x"\n'
    )
    error = fail(in_tmp, text, "pyproject.toml")
    assert_located(error, 12, "tool.envlock.target[0].driver", file="pyproject.toml")


def test_pyproject_without_tool_envlock(in_tmp: Path) -> None:
    error = fail(in_tmp, '[project]\nname = "demo"\n', "pyproject.toml")
    assert "tool.envlock" in str(error) and str(error).startswith("pyproject.toml:1:")


def test_lines_follow_multiline_arrays(in_tmp: Path) -> None:
    text = (
        "[env]\n"
        'name = "x"\n'
        'python = "3.11"\n'
        "dependencies = [\n"
        '  "torch",  # a comment with = and [brackets\n'
        '  "fake = 1",\n'
        "]\n"
        '# pytohn = "3.11"\n'
        'pytohn = "3.12"\n' + TARGET
    )
    error = fail(in_tmp, text)
    assert_located(error, 9, "env.pytohn")


@pytest.mark.parametrize("written", ['"550"', "550"])
def test_a_driver_branch_alone_is_refused_with_what_to_write(in_tmp: Path, written: str) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace('"550.54.15"', written))
    assert_located(error, 9, "target[0].driver")
    assert "driver branch, not a full version" in str(error)
    assert error.hint is not None and '"550.54.15"' in error.hint and "nvidia-smi" in error.hint


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("linux-amd64", "'linux-x86_64'?"),
        ("amd64", "'linux-x86_64'? (or 'windows-amd64')"),
        ("x86_64", "'linux-x86_64'? (or 'windows-amd64')"),
        ("linux-arm64", "'linux-aarch64'?"),
        ("aarch64", "'linux-aarch64'? (or 'macos-arm64')"),
        ("win", "'windows-amd64'?"),
        ("win_amd64", "'windows-amd64'?"),
        ("darwin", "'macos-arm64'?"),
    ],
)
def test_platform_aliases_get_the_platform_they_mean(in_tmp: Path, written: str, meant: str) -> None:
    error = fail(in_tmp, GOOD_HEAD + TARGET.replace("linux-x86_64", written))
    assert_located(error, 7, "target[0].platform")
    assert error.hint == f"did you mean {meant}"


def test_a_targets_typo_is_reported_at_its_line(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + "\n# the nodes\n" + TARGET.replace("[[target]]", "[[targets]]"))
    assert_located(error, 7, "targets")
    assert error.hint == "did you mean 'target'?"


def test_allow_mixed_takes_package_names(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + '[cuda]\nallow-mixed = ["cupy-cuda11x>=13"]\n' + TARGET)
    assert_located(error, 6, "cuda.allow-mixed[0]")
    assert "is not a package name" in str(error)


def test_extras_outside_pyproject_are_refused(in_tmp: Path) -> None:
    error = fail(in_tmp, GOOD_HEAD + 'extras = ["train"]\n' + TARGET)
    assert_located(error, 5, "env.extras")
    assert "only read from pyproject.toml" in str(error)


def test_pyproject_hints_use_the_files_own_table_names(in_tmp: Path) -> None:
    text = (
        '[project]\nname = "demo"\n\n[tool.envlock.env]\npython = "3.11"\n\n'
        '[tool.envlock.target]\nname = "a"\n'
    )
    error = fail(in_tmp, text, "pyproject.toml")
    assert error.hint == "write [[tool.envlock.target]] instead of [tool.envlock.target]"
    missing = fail(in_tmp, '[project]\nname = "demo"\n\n[tool.envlock.cuda]\n', "pyproject.toml")
    assert missing.hint is not None and "[tool.envlock.env]" in missing.hint
    assert "\n[env]" not in missing.hint
