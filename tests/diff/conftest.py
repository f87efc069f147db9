"""Builders for realistic test locks (torch + NVIDIA wheels per variant) and the golden-file switch.

`pytest tests/diff --update-goldens` rewrites tests/diff/golden/ from the current renderers;
review the change with `git diff tests/diff/golden/` before committing it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import pytest
from lockfactory import make_inputs, make_target
from lockfactory import make_lock as factory_lock

from envlock.diff.archs import KnowledgeBaseSass
from envlock.kb import load_kb
from envlock.lock.digest import env_hash
from envlock.lock.model import (
    Artifact,
    Lock,
    LockedPackage,
    LockedTarget,
    Rejection,
)

GOLDEN = Path(__file__).parent / "golden"

PYTORCH = "https://download.pytorch.org/whl"
DEFAULT_INDEX = "https://mirror.example/simple"

# One torch build per key: what it pins (versions as the real wheels' METADATA pins them, see
# shared reference compat.toml) and roughly how big each wheel is, in bytes.
STACKS: dict[str, dict[str, object]] = {
    "2.5.1+cu124": {
        "cuda": "12.4",
        "cudnn": "9.1.0.70",
        "nccl": "2.21.5",
        "requires_driver": "550.54.14",
        "torch_size": 906_414_736,
        "packages": {
            "nvidia-cublas-cu12": ("12.4.5.8", 363_400_000),
            "nvidia-cuda-cupti-cu12": ("12.4.127", 13_800_000),
            "nvidia-cuda-nvrtc-cu12": ("12.4.127", 24_600_000),
            "nvidia-cuda-runtime-cu12": ("12.4.127", 883_000),
            "nvidia-cudnn-cu12": ("9.1.0.70", 664_800_000),
            "nvidia-cufft-cu12": ("11.2.1.3", 211_500_000),
            "nvidia-curand-cu12": ("10.3.5.147", 56_300_000),
            "nvidia-cusolver-cu12": ("11.6.1.9", 127_900_000),
            "nvidia-cusparse-cu12": ("12.3.1.170", 207_500_000),
            "nvidia-nccl-cu12": ("2.21.5", 188_700_000),
            "nvidia-nvjitlink-cu12": ("12.4.127", 21_100_000),
            "nvidia-nvtx-cu12": ("12.4.127", 99_100),
            "triton": ("3.1.0", 209_500_000),
        },
    },
    "2.7.0+cu126": {
        "cuda": "12.6",
        "cudnn": "9.5.1.17",
        "nccl": "2.26.2",
        "requires_driver": "560.28.03",
        "torch_size": 865_200_000,
        "packages": {
            "nvidia-cublas-cu12": ("12.6.4.1", 393_100_000),
            "nvidia-cuda-cupti-cu12": ("12.6.80", 8_900_000),
            "nvidia-cuda-nvrtc-cu12": ("12.6.77", 23_700_000),
            "nvidia-cuda-runtime-cu12": ("12.6.77", 897_000),
            "nvidia-cudnn-cu12": ("9.5.1.17", 571_000_000),
            "nvidia-cufft-cu12": ("11.3.0.4", 200_200_000),
            "nvidia-cufile-cu12": ("1.11.1.6", 1_100_000),
            "nvidia-curand-cu12": ("10.3.7.77", 56_300_000),
            "nvidia-cusolver-cu12": ("11.7.1.2", 158_200_000),
            "nvidia-cusparse-cu12": ("12.5.4.2", 216_600_000),
            "nvidia-cusparselt-cu12": ("0.6.3", 156_800_000),
            "nvidia-nccl-cu12": ("2.26.2", 201_300_000),
            "nvidia-nvjitlink-cu12": ("12.6.85", 19_700_000),
            "nvidia-nvtx-cu12": ("12.6.77", 89_300),
            "triton": ("3.3.0", 156_500_000),
        },
    },
    "2.7.0+cu128": {
        "cuda": "12.8",
        "cudnn": "9.7.1.26",
        "nccl": "2.26.2",
        "requires_driver": "570.26",
        "torch_size": 1_096_000_000,
        "packages": {
            "nvidia-cublas-cu12": ("12.8.3.14", 609_000_000),
            "nvidia-cuda-cupti-cu12": ("12.8.57", 10_200_000),
            "nvidia-cuda-nvrtc-cu12": ("12.8.61", 88_000_000),
            "nvidia-cuda-runtime-cu12": ("12.8.57", 954_000),
            "nvidia-cudnn-cu12": ("9.7.1.26", 726_900_000),
            "nvidia-cufft-cu12": ("11.3.3.41", 193_100_000),
            "nvidia-cufile-cu12": ("1.13.0.11", 1_200_000),
            "nvidia-curand-cu12": ("10.3.9.55", 63_600_000),
            "nvidia-cusolver-cu12": ("11.7.2.55", 260_400_000),
            "nvidia-cusparse-cu12": ("12.5.7.53", 292_100_000),
            "nvidia-cusparselt-cu12": ("0.6.3", 156_800_000),
            "nvidia-nccl-cu12": ("2.26.2", 201_300_000),
            "nvidia-nvjitlink-cu12": ("12.8.61", 39_200_000),
            "nvidia-nvtx-cu12": ("12.8.55", 89_600),
            "triton": ("3.3.0", 156_500_000),
        },
    },
    "2.5.1+cpu": {"torch_size": 174_700_000, "packages": {}},
    "2.7.0+cpu": {"torch_size": 175_900_000, "packages": {}},
}

# Pure-Python dependencies of torch, from the default index.
COMMON: dict[str, tuple[str, int]] = {
    "filelock": ("3.16.1", 16_200),
    "fsspec": ("2024.10.0", 179_600),
    "jinja2": ("3.1.4", 133_300),
    "markupsafe": ("3.0.2", 20_900),
    "mpmath": ("1.3.0", 536_200),
    "networkx": ("3.4.2", 1_723_300),
    "numpy": ("1.26.4", 18_300_000),
    "sympy": ("1.13.1", 6_189_800),
    "typing-extensions": ("4.12.2", 37_400),
}


def _builtin_kb_sass() -> KnowledgeBaseSass:
    """The knowledge base as shipped (a developer's ENVLOCK_KB files must not change the goldens)."""
    saved = os.environ.pop("ENVLOCK_KB", None)
    try:
        return KnowledgeBaseSass(load_kb())
    finally:
        if saved is not None:
            os.environ["ENVLOCK_KB"] = saved


SASS = _builtin_kb_sass()


def fake_sha(*parts: str) -> str:
    """A stable sha256 for a file that the tests never download."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def wheel(name: str, version: str, *, index: str, size: int, tag: str, salt: str = "") -> LockedPackage:
    """A package with one wheel artifact on `index`."""
    dist = name.replace("-", "_")
    filename = f"{dist}-{version}-{tag}.whl"
    base = index.removesuffix("/simple")
    url = f"{base}/files/{filename}" if index == DEFAULT_INDEX else f"{index}/{filename}"
    art = Artifact(filename=filename, url=url, size=size, sha256=fake_sha(filename, salt))
    return LockedPackage(name=name, version=version, index=index, artifacts=(art,))


def torch_target(
    name: str,
    stack: str = "2.5.1+cu124",
    *,
    gpus: Iterable[str] = ("sm_90",),
    driver: str | None = "550.54.15",
    python: str = "3.11",
    platform: str = "linux-x86_64",
    glibc: str = "2.28",
    compat: str | None = "native",
    common: Mapping[str, tuple[str, int]] | None = None,
    extra: Iterable[LockedPackage] = (),
    rejected: Iterable[Rejection] = (),
) -> LockedTarget:
    """A locked target holding torch `stack` ("2.7.0+cu128"), its NVIDIA wheels and torch's deps."""
    facts = STACKS[stack]
    variant = stack.partition("+")[2]
    cp = "cp" + python.replace(".", "")
    tag = f"{cp}-{cp}-manylinux_2_28_x86_64" if platform == "linux-x86_64" else f"{cp}-{cp}-linux_aarch64"
    index = f"{PYTORCH}/{variant}"
    pkgs = [wheel("torch", stack, index=index, size=int(str(facts["torch_size"])), tag=tag)]
    nvidia = facts["packages"]
    assert isinstance(nvidia, dict)
    for pname, (version, size) in nvidia.items():
        py_tag = "py3-none-manylinux2014_x86_64"
        pkgs.append(wheel(pname, version, index=index, size=size, tag=py_tag))
    for pname, (version, size) in (COMMON if common is None else common).items():
        pkgs.append(wheel(pname, version, index=DEFAULT_INDEX, size=size, tag="py3-none-any"))
    pkgs += list(extra)
    by_name = {p.name: p for p in pkgs}
    packages = tuple(by_name[n] for n in sorted(by_name))
    cpu = variant == "cpu"
    return make_target(
        name,
        platform=platform,
        glibc=glibc,
        python=python,
        gpus=() if cpu else tuple(sorted(gpus)),
        driver=None if cpu else driver,
        variant=variant,
        torch=stack,
        cuda=None if cpu else str(facts["cuda"]),
        cudnn=None if cpu else str(facts["cudnn"]),
        nccl=None if cpu else str(facts["nccl"]),
        requires_driver=None if cpu else str(facts["requires_driver"]),
        compat=None if cpu else compat,
        packages=packages,
        rejected=tuple(rejected),
    )


def with_packages(target: LockedTarget, *packages: LockedPackage, drop: Iterable[str] = ()) -> LockedTarget:
    """`target` with packages replaced or added (by name) and `drop` removed; env hash recomputed."""
    by_name = {p.name: p for p in target.packages if p.name not in set(drop)}
    by_name.update({p.name: p for p in packages})
    pkgs = tuple(by_name[n] for n in sorted(by_name))
    return replace(
        target,
        packages=pkgs,
        env_hash=env_hash(python=target.python, platform=target.platform, packages=pkgs),
    )


def make_lock(
    *targets: LockedTarget,
    dependencies: Iterable[str] = ("torch>=2.5,<2.6", "numpy<2"),
    envlock_version: str = "0.1.0",
    uv_version: str = "0.13.9",
    lock_version: int = 1,
) -> Lock:
    """A sealed lock of `targets`, with inputs that match them."""
    deps = tuple(dependencies)
    inputs = make_inputs(
        targets,
        name="vit-train",
        python=targets[0].python if targets else "3.11",
        dependencies=deps,
        cuda_version=">=12.1",
        default_index=DEFAULT_INDEX,
        pytorch_index=PYTORCH,
        knowledge_base="sha256:" + fake_sha("kb"),
    )
    return factory_lock(
        targets=tuple(targets),
        inputs=inputs,
        lock_version=lock_version,
        envlock_version=envlock_version,
        uv_version=uv_version,
        spec_hash="sha256:" + fake_sha("spec", *deps, *(t.name for t in targets)),
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/diff/golden/ from the current renderers instead of comparing",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens", default=False))
