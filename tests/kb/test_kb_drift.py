"""tools/kb_drift.py against the fixture indexes: quiet on the current ones, failing on an unknown release."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from envlock.kb import load_kb
from envlock.kb.drift import compare
from fixtures.catalog import build_catalog
from fixtures.server import FixtureIndexServer

TOOL = Path(__file__).resolve().parents[2] / "tools" / "kb_drift.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kb_drift", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["kb_drift"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def newrelease(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixtureIndexServer]:
    server = FixtureIndexServer(tmp_path_factory.mktemp("drift"), catalog=build_catalog("newrelease")).start()
    yield server
    server.stop()


def test_the_current_fixture_indexes_show_no_drift(
    index_server: FixtureIndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _tool().main(["--pytorch", index_server.pytorch, "--default", index_server.default])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("no drift: ")


def test_an_unknown_release_on_the_index_fails_the_check(
    newrelease: FixtureIndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _tool().main(["--pytorch", newrelease.pytorch, "--default", newrelease.default])
    out = capsys.readouterr().out
    assert code == 1
    assert "torch release missing from the knowledge base: 2.10.5" in out.splitlines()
    assert "2.10.0" not in out


def test_variants_and_cuda_minors_missing_from_the_knowledge_base_are_listed() -> None:
    kb = load_kb()
    drift = compare(
        kb,
        [
            "torch-2.15.0+cu136-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-2.9.1+cu132-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-2.9.1+rocm6.4-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-1.13.1+cu117-cp310-cp310-linux_x86_64.whl",
        ],
        ["13.6.10", "13.3.29"],
    )
    assert drift.variants == ("cu136",)
    assert drift.builds == ("2.9.1+cu132",)
    assert drift.cuda_minors == ("13.6",)
    assert drift.unconfirmed == ("13.3",)
    assert drift.releases == ()
    assert drift.found
