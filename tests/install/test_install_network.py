"""A small real install from the real default index: a CUDA runtime wheel and an ordinary package."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from lockfactory import make_cpu_target, make_inputs, make_lock
from lockmaker import run_envlock

from envlock.errors import NetworkError
from envlock.lock.model import Artifact, LockedPackage, LockedTarget
from envlock.lock.write import dump_lock

pytestmark = pytest.mark.network

PROJECTS = ("nvidia-cuda-runtime-cu12", "six")
PYTHON = "3.11"


def _newest_fitting(index: str, name: str, target: LockedTarget) -> LockedPackage:
    from envlock.index.client import HttpIndexClient
    from envlock.platforms import Platform

    platform = Platform.of(target.platform, python=target.python, glibc=target.glibc)
    with HttpIndexClient() as client:
        page = client.project(index, name)
    wheels = [
        f for f in page.files
        if f.is_wheel and not f.yanked and f.sha256 and f.size and f.version is not None
        and not f.version.is_prerelease and platform.accepts(f.filename)
    ]  # fmt: skip
    assert wheels, f"{name}: no wheel for {target.platform} / Python {target.python} on {index}"
    best = max(wheels, key=lambda f: f.version)  # type: ignore[arg-type,return-value]
    art = Artifact(filename=best.filename, url=best.url, size=best.size or 0, sha256=best.sha256 or "")
    return LockedPackage(name=name, version=str(best.version), index=index, artifacts=(art,))


def test_real_index_install_then_store_hit(tmp_path: Path) -> None:
    from envlock.index.config import default_index_url

    index = default_index_url(None)
    skeleton = make_cpu_target("cpu", python=PYTHON, cuda="12.4")
    try:
        packages = tuple(
            sorted((_newest_fitting(index, n, skeleton) for n in PROJECTS), key=lambda p: p.name)
        )
    except NetworkError as exc:
        pytest.skip(f"the default index ({index}) is unreachable: {exc}")
    targets = (make_cpu_target("cpu", python=PYTHON, cuda="12.4", packages=packages),)
    inputs = make_inputs(
        targets,
        name="net",
        python=PYTHON,
        dependencies=PROJECTS,
        default_index=index,
        pytorch_index=None,
        knowledge_base="sha256:" + "1" * 64,
    )
    lock = make_lock(targets=targets, inputs=inputs, uv_version="0.13.9", spec_hash="sha256:" + "0" * 64)
    path = tmp_path / "envlock.lock"
    path.write_text(dump_lock(lock))
    store = tmp_path / "store"
    first = run_envlock(["install", "-l", str(path), "--store", str(store), "--json"], timeout=900)
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["built"] is True
    env = Path(doc["path"])
    probe = subprocess.run(
        [str(env / "bin" / "python"), "-I", "-c",
         "import six, importlib.metadata as m; print(m.version('nvidia-cuda-runtime-cu12'))"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert probe.stdout.strip() == next(p.version for p in packages if p.name.startswith("nvidia")), (
        probe.stderr
    )
    second = run_envlock(["install", "-l", str(path), "--store", str(store), "--json"])
    assert json.loads(second.stdout) == doc | {"built": False}
    # Real wheels (a namespace package of shared libraries, a plain module) verify as built, and
    # their metadata reads as an index install.
    verified = run_envlock(["verify", "-l", str(path), "--store", str(store)])
    assert verified.returncode == 0, verified.stdout + verified.stderr
    frozen = subprocess.run(
        [str(env / "bin" / "python"), "-I", "-c",
         "import importlib.metadata as m\n"
         "for d in m.distributions(): print(d.metadata['Name'].lower(), d.read_text('direct_url.json'))"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert sorted(frozen.stdout.splitlines()) == [f"{n} None" for n in sorted(PROJECTS)]
