"""The knowledge base's toolkit driver rows against NVIDIA's own redist manifests (fixtures/redist/).

Each manifest names the driver its toolkit release bundles (`nvidia_driver`); that driver runs the
toolkit natively, so the knowledge base's native driver floor for the same CUDA X.Y must not be above
it, and `tools/build_kb.py --redist` must read the same numbers from those files.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from envlock.kb import load_kb
from envlock.kb.model import parse_driver

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "fixtures" / "redist"


def _build_kb_tool():  # type: ignore[no-untyped-def]  # a script module loaded by path
    spec = importlib.util.spec_from_file_location("build_kb", ROOT / "tools" / "build_kb.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_native_driver_rows_agree_with_the_drivers_nvidias_manifests_bundle() -> None:
    kb = load_kb()
    manifests = sorted(MANIFESTS.glob("redistrib_*.json"))
    assert len(manifests) >= 3
    for path in manifests:
        manifest = json.loads(path.read_text())
        label, bundled = manifest["release_label"], manifest["nvidia_driver"]["version"]
        xy = ".".join(label.split(".")[:2])
        toolkit = kb.cuda_toolkit(xy)
        assert toolkit is not None, f"CUDA {xy} ({path.name}) has no knowledge-base row"
        assert toolkit.min_driver_linux is not None
        assert parse_driver(toolkit.min_driver_linux) <= parse_driver(bundled), (
            f"CUDA {xy}: the knowledge base asks for {toolkit.min_driver_linux}, above the {bundled} "
            f"that NVIDIA bundles with {label}"
        )


def test_build_kb_reads_the_bundled_drivers_from_the_shipped_manifests() -> None:
    drivers = _build_kb_tool().bundled_drivers([MANIFESTS])
    assert drivers == {
        "12.4": ("12.4.1", "550.54.15"),
        "12.8": ("12.8.2", "570.211.01"),
        "13.0": ("13.0.2", "580.95.05"),
    }
