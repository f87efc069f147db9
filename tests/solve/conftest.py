"""Helpers for solver tests: write a spec against the fixture indexes and run envlock on it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from envlock.cli.main import main
from envlock.resolvers import ResolutionRequest
from fixtures.catalog import build_catalog
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


def uv_request(index: str, *requirements: str) -> ResolutionRequest:
    """A request for Python 3.11 on linux-x86_64 against one index, as the solver makes them."""
    return ResolutionRequest(
        requirements=requirements,
        constraints=(),
        python="3.11",
        platform="linux-x86_64",
        glibc="2.28",
        default_index=index,
        extra_indexes=(),
        pinned=(),
        exclude_newer=None,
    )


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


@pytest.fixture(scope="session")
def universe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., FixtureIndexServer]]:
    """`universe(NAME, honour_range=True)`: a fixture index server for one small universe of
    `fixtures.catalog` (torch215, torch24, newrelease), started once per session and setting."""
    servers: dict[tuple[str, bool], FixtureIndexServer] = {}

    def get(name: str, honour_range: bool = True) -> FixtureIndexServer:
        key = (name, honour_range)
        if key not in servers:
            root = tmp_path_factory.mktemp(f"universe-{name}")
            servers[key] = FixtureIndexServer(
                root, catalog=build_catalog(name), honour_range=honour_range
            ).start()
        return servers[key]

    yield get
    for server in servers.values():
        server.stop()


def universe_spec(
    path: Path,
    server: FixtureIndexServer,
    *,
    deps: tuple[str, ...],
    targets: str,
    cuda: str = "",
    python: str = "3.11",
) -> Path:
    """Write an envlock.toml at `path` against a universe server; returns its path."""
    text = f'[env]\nname = "universe"\npython = "{python}"\n'
    text += "dependencies = [" + ", ".join(json.dumps(d) for d in deps) + "]\n\n"
    if cuda:
        text += "[cuda]\n" + cuda + "\n\n"
    text += targets + "\n"
    text += f'[indexes]\ndefault = "{server.default}"\npytorch = "{server.pytorch}"\n'
    spec = path / "envlock.toml"
    spec.write_text(text)
    return spec
