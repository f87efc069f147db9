"""Helpers for solver tests: write a spec against the fixture indexes and run envlock on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from envlock.cli.main import main
from fixtures.server import FixtureIndexServer


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> dict:  # type: ignore[type-arg]  # test helper
        return json.loads(self.out)


@pytest.fixture
def envlock(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run the envlock CLI in-process and capture what it printed."""

    def run(*argv: str) -> Run:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code=code, out=captured.out, err=captured.err)

    return run


def target_block(
    name: str,
    platform: str = "linux-x86_64",
    gpus: tuple[str, ...] = (),
    driver: str | None = None,
    glibc: str | None = None,
) -> str:
    lines = ["[[target]]", f'name = "{name}"', f'platform = "{platform}"']
    if glibc:
        lines.append(f'glibc = "{glibc}"')
    if gpus:
        lines.append("gpus = [" + ", ".join(f'"{g}"' for g in gpus) + "]")
    if driver:
        lines.append(f'driver = "{driver}"')
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_spec(tmp_path: Path, index_server: FixtureIndexServer) -> Callable[..., Path]:
    """Write an envlock.toml against the fixture indexes; returns its path."""

    def write(
        deps: tuple[str, ...] = ("torch>=2.5,<2.8",),
        targets: str = "",
        cuda: str = "",
        python: str = "3.11",
        pytorch: bool = True,
        extra: str = "",
        name: str = "test-env",
    ) -> Path:
        text = "[env]\n" + f'name = "{name}"\npython = "{python}"\n'
        text += "dependencies = [" + ", ".join(json.dumps(d) for d in deps) + "]\n\n"
        if cuda:
            text += "[cuda]\n" + cuda + "\n\n"
        text += targets + "\n"
        text += f'[indexes]\ndefault = "{index_server.default}"\n'
        text += f'pytorch = "{index_server.pytorch}"\n' if pytorch else "pytorch = false\n"
        text += extra
        path = tmp_path / "envlock.toml"
        path.write_text(text)
        return path

    return write
