"""The attack: another local user reads /proc/<pid>/cmdline of uv or pip-compile during a solve.

An index password in the spec must reach the resolver through its environment (uv) or a private
netrc file (pip), both readable only by the user, never through its command line. The resolvers'
executables are wrapped by a shell script that saves its own `/proc/$$/cmdline` (exactly what
another user would read) and environment, then execs the real program, so the solve itself runs
for real against the fixture indexes, one of which refuses requests without the password.
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock.resolvers import piptools
from envlock.resolvers import uv as uv_backend
from envlock.resolvers.piptools import PipToolsBackend, host_target
from fixtures.catalog import PRIVATE_PASSWORD, PRIVATE_USER
from fixtures.server import FixtureIndexServer
from tests.solve.conftest import Run, target_block

Envlock = Callable[..., Run]


def _recording_wrapper(real: str, log_dir: Path) -> Path:
    log_dir.mkdir()
    wrapper = log_dir.parent / f"record-{Path(real).name}"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"tr '\\000' '\\n' < /proc/$$/cmdline > '{log_dir}'/argv.$$\n"
        f"tr '\\000' '\\n' < /proc/$$/environ > '{log_dir}'/environ.$$\n"
        f"exec '{real}' \"$@\"\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def _command_lines(log_dir: Path, program: str) -> list[str]:
    lines = [p.read_text() for p in sorted(log_dir.glob("argv.*"))]
    return [line for line in lines if program in line]


def _with_credentials(url: str) -> str:
    return url.replace("http://", f"http://{PRIVATE_USER}:{PRIVATE_PASSWORD}@", 1)


def _spec_with_secrets(
    write_spec: Callable[..., Path], server: FixtureIndexServer, *, deps: tuple[str, ...], targets: str
) -> Path:
    """A spec whose default, variant and extra indexes all carry the password (the extra one needs it)."""
    spec = write_spec(deps=deps, targets=targets)
    text = spec.read_text()
    text = text.replace(f'default = "{server.default}"', f'default = "{_with_credentials(server.default)}"')
    text = text.replace(f'pytorch = "{server.pytorch}"', f'pytorch = "{_with_credentials(server.pytorch)}"')
    text += f'extra = ["{server.private_with_credentials}"]\n'
    spec.write_text(text)
    return spec


def test_uv_command_line_carries_no_index_password(
    envlock: Envlock,
    write_spec: Callable[..., Path],
    index_server: FixtureIndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_dir = tmp_path / "uv-argv"
    wrapper = _recording_wrapper(uv_backend.uv_binary(), log_dir)
    monkeypatch.setattr(uv_backend, "uv_binary", lambda: str(wrapper))
    spec = _spec_with_secrets(
        write_spec,
        index_server,
        deps=("torch>=2.5,<2.8", "privpkg"),
        targets=target_block("h100", gpus=("H100",), driver="550.54.15"),
    )

    run = envlock("solve", "-s", str(spec), "--json")

    assert run.code == 0, run.err
    # privpkg is served only with the password: uv did authenticate, to the extra index.
    [h100] = run.json()["targets"]
    assert {p["name"]: p["index"] for p in h100["packages"]}["privpkg"] == index_server.private
    assert h100["variant"] != "cpu"  # the variant index (pinned, with its own credentials) was used
    compiles = [line for line in _command_lines(log_dir, "compile")]
    assert compiles, "uv pip compile was not run through the wrapper"
    for argv in compiles:
        assert PRIVATE_PASSWORD not in argv and PRIVATE_USER not in argv
        assert "/private/simple" in argv  # the index is still named, without its userinfo
    assert PRIVATE_PASSWORD not in run.out + run.err


def test_pip_compile_command_line_carries_no_index_password(
    envlock: Envlock,
    write_spec: Callable[..., Path],
    index_server: FixtureIndexServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log_dir = tmp_path / "pip-compile-argv"
    wrapper = _recording_wrapper(PipToolsBackend()._binary(), log_dir)
    monkeypatch.setattr(piptools.PipToolsBackend, "_binary", lambda self: str(wrapper))
    platform, python = host_target()
    spec = _spec_with_secrets(
        write_spec,
        index_server,
        deps=("torch==2.7.1", "privpkg"),
        targets=target_block("host", platform),
    )
    spec.write_text(spec.read_text().replace('python = "3.11"', f'python = "{python}"'))

    run = envlock("solve", "-s", str(spec), "--json", "--resolver", "pip-tools")

    assert run.code == 0, run.err
    [host] = run.json()["targets"]
    assert {p["name"]: p["index"] for p in host["packages"]}["privpkg"] == index_server.private
    [argv] = _command_lines(log_dir, "requirements.in")
    assert PRIVATE_PASSWORD not in argv and PRIVATE_USER not in argv
    # pip copies its index URLs onto the command line of the pip that builds an sdist: they are
    # bare, and the credentials come from a private netrc that is gone after the solve.
    [environ] = [p.read_text().splitlines() for p in log_dir.glob("environ.*")]
    index_urls = [line for line in environ if line.startswith(("PIP_INDEX_URL=", "PIP_EXTRA_INDEX_URL="))]
    assert index_urls and not any(PRIVATE_PASSWORD in line for line in index_urls)
    [netrc] = [line.partition("=")[2] for line in environ if line.startswith("NETRC=")]
    assert not Path(netrc).exists()
    assert PRIVATE_PASSWORD not in run.out + run.err
