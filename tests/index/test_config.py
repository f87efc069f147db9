"""Where the default index comes from: spec > environment > uv config > pip config > pip's built-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlock.errors import SpecError
from envlock.index import config
from envlock.index.config import default_index_url, find_default_index


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """Stands in for /etc, so the machine's own /etc/uv and /etc/pip.conf stay out of the test."""
    directory = tmp_path / "etc"
    directory.mkdir()
    return directory


@pytest.fixture
def home(tmp_path: Path) -> Path:
    directory = tmp_path / "home"
    directory.mkdir()
    return directory


def _env(home: Path, **variables: str) -> dict[str, str]:
    return {"HOME": str(home), "XDG_CONFIG_DIRS": str(home / "no-xdg-dirs"), **variables}


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _all_sources(home: Path, etc: Path) -> None:
    _write(home / ".config" / "uv" / "uv.toml", 'index-url = "https://uv-user.example/simple"\n')
    _write(etc / "uv" / "uv.toml", '[[index]]\nurl = "https://uv-system.example/simple"\ndefault = true\n')
    _write(home / ".config" / "pip" / "pip.conf", "[global]\nindex-url = https://pip-user.example/simple\n")
    _write(etc / "pip.conf", "[global]\nindex-url = https://pip-system.example/simple\n")


def test_spec_wins_over_everything(home: Path, etc: Path) -> None:
    _all_sources(home, etc)
    found = find_default_index(
        "https://spec.example/simple",
        environ=_env(home, UV_INDEX_URL="https://env.example/simple"),
        etc_dir=etc,
    )
    assert (found.url, found.source) == ("https://spec.example/simple/", "spec")


@pytest.mark.parametrize("variable", ["UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"])
def test_environment_wins_over_config_files(home: Path, etc: Path, variable: str) -> None:
    _all_sources(home, etc)
    found = find_default_index(
        None, environ=_env(home, **{variable: "https://env.example/simple/"}), etc_dir=etc
    )
    assert (found.url, found.source) == ("https://env.example/simple/", f"env {variable}")


def test_uv_default_index_env_beats_pip_index_url(home: Path, etc: Path) -> None:
    env = _env(home, UV_DEFAULT_INDEX="https://uv.example/simple", PIP_INDEX_URL="https://pip.example/simple")
    assert find_default_index(None, environ=env, etc_dir=etc).url == "https://uv.example/simple/"


def test_user_uv_config_beats_system_uv_config_and_pip(home: Path, etc: Path) -> None:
    _all_sources(home, etc)
    found = find_default_index(None, environ=_env(home), etc_dir=etc)
    assert found.url == "https://uv-user.example/simple/"
    assert found.source == f"uv config {home / '.config' / 'uv' / 'uv.toml'}"


def test_system_uv_config_with_a_default_index_table(home: Path, etc: Path) -> None:
    _all_sources(home, etc)
    (home / ".config" / "uv" / "uv.toml").unlink()
    assert (
        find_default_index(None, environ=_env(home), etc_dir=etc).url == "https://uv-system.example/simple/"
    )


def test_xdg_config_home_is_where_uv_and_pip_look(home: Path, etc: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    _write(xdg / "uv" / "uv.toml", 'index-url = "https://xdg-uv.example/simple"\n')
    found = find_default_index(None, environ=_env(home, XDG_CONFIG_HOME=str(xdg)), etc_dir=etc)
    assert found.url == "https://xdg-uv.example/simple/"


def test_uv_no_config_skips_uv_files(home: Path, etc: Path) -> None:
    _all_sources(home, etc)
    found = find_default_index(None, environ=_env(home, UV_NO_CONFIG="1"), etc_dir=etc)
    assert found.url == "https://pip-user.example/simple/"


def test_pip_config_precedence(home: Path, etc: Path) -> None:
    _write(etc / "pip.conf", "[global]\nindex-url = https://pip-system.example/simple\n")
    env = _env(home)
    assert find_default_index(None, environ=env, etc_dir=etc).url == "https://pip-system.example/simple/"

    _write(home / ".pip" / "pip.conf", "[global]\nindex-url = https://pip-legacy.example/simple\n")
    assert find_default_index(None, environ=env, etc_dir=etc).url == "https://pip-legacy.example/simple/"

    _write(home / ".config" / "pip" / "pip.conf", "[global]\nindex-url = https://pip-user.example/simple\n")
    assert find_default_index(None, environ=env, etc_dir=etc).url == "https://pip-user.example/simple/"

    explicit = _write(home / "custom.conf", "[global]\nindex-url = https://pip-explicit.example/simple\n")
    env = _env(home, PIP_CONFIG_FILE=str(explicit))
    assert find_default_index(None, environ=env, etc_dir=etc).url == "https://pip-explicit.example/simple/"

    # pip lets an [install] section anywhere beat [global]
    _write(etc / "pip.conf", "[install]\nindex-url = https://pip-install.example/simple\n")
    found = find_default_index(None, environ=env, etc_dir=etc)
    assert found.url == "https://pip-install.example/simple/"
    assert found.source == f"pip config {etc / 'pip.conf'} [install]"


def test_pip_builtin_default_comes_from_pip_itself(home: Path, etc: Path) -> None:
    from pip._internal.models.index import PyPI

    found = find_default_index(None, environ=_env(home), etc_dir=etc)
    assert found.source == "pip built-in"
    assert found.url == PyPI.simple_url.rstrip("/") + "/"


def test_no_source_at_all_is_a_spec_error(home: Path, etc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "_pip_builtin", lambda: None)  # stands in for a machine without pip
    with pytest.raises(SpecError) as caught:
        find_default_index(None, environ=_env(home), etc_dir=etc)
    assert caught.value.exit_code == 2
    assert caught.value.hint is not None and "[indexes] default" in caught.value.hint


def test_broken_config_files_are_skipped(home: Path, etc: Path) -> None:
    _write(home / ".config" / "uv" / "uv.toml", "index-url = [unclosed\n")
    _write(etc / "pip.conf", "[global]\nindex-url = https://pip-system.example/simple\n")
    assert (
        find_default_index(None, environ=_env(home), etc_dir=etc).url == "https://pip-system.example/simple/"
    )


def test_default_index_url_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_INDEX_URL", "https://from-env.example/simple")
    assert default_index_url(None) == "https://from-env.example/simple/"
    assert default_index_url("https://spec.example/simple///") == "https://spec.example/simple/"


def test_describe_hides_credentials(home: Path, etc: Path) -> None:
    env = _env(home, PIP_INDEX_URL="https://user:hunter2@mirror.example/simple")
    found = find_default_index(None, environ=env, etc_dir=etc)
    assert found.url == "https://user:hunter2@mirror.example/simple/"
    assert found.describe() == "https://mirror.example/simple/ (from env PIP_INDEX_URL)"
