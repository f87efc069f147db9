"""`[env] interpreter = "python-build-standalone"`: solve pins each target's interpreter build.

uv names the build and its URL (with UV_PYTHON_INSTALL_MIRROR applied); envlock hashes the bytes.
A local mirror serves stand-in bytes here (solve only hashes them; tests/install unpacks a real
`install_only`-shaped archive).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from envlock.resolvers.uv import python_downloads
from tests.install.lockmaker import serving
from tests.solve.conftest import Run, target_block


def test_solve_pins_the_interpreter_build_and_check_sees_the_opt_in(
    write_spec: Callable[..., Path],
    envlock: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mirror = tmp_path / "mirror"
    with serving(mirror) as server:
        monkeypatch.setenv("UV_PYTHON_INSTALL_MIRROR", server.url + "pbs")
        monkeypatch.setenv("ENVLOCK_CACHE_DIR", str(tmp_path / "cache"))
        urls = [
            d.url
            for d in python_downloads("3.11")
            if (d.implementation, d.os, d.arch, d.libc, d.variant)
            == ("cpython", "linux", "x86_64", "gnu", "default")
        ]
        archive = mirror / unquote(urlsplit(urls[0]).path.lstrip("/"))
        archive.parent.mkdir(parents=True)
        archive.write_bytes(b"stand-in for a python-build-standalone archive\n" * 100)
        spec = write_spec(deps=("torch>=2.5,<2.8",), targets=target_block("cpu"))
        plain = envlock("solve", "-s", str(spec), "--json")
        assert plain.code == 0, plain.err
        text = spec.read_text().replace(
            'python = "3.11"\n', 'python = "3.11"\ninterpreter = "python-build-standalone"\n'
        )
        spec.write_text(text)
        stale = envlock("check", "-s", str(spec))
        assert stale.code == 1 and "env.interpreter changed" in stale.err
        pinned = envlock("solve", "-s", str(spec), "--json")
        assert pinned.code == 0, pinned.err
    target = pinned.json()["targets"][0]
    interpreter = target["interpreter"]
    assert interpreter["url"] == urls[0]
    assert interpreter["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert interpreter["version"].startswith("3.11.")
    assert target["env-hash"] != plain.json()["targets"][0]["env-hash"]  # the build is part of it
    assert envlock("check", "-s", str(spec)).code == 0
