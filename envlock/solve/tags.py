"""Which wheel files can run on a target: its interpreter, ABI and platform tags."""

from __future__ import annotations

import functools

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def _linux_platforms(arch: str, glibc: str) -> list[str]:
    major, minor = (int(x) for x in glibc.split("."))
    plats = [f"manylinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
    plats += [name + "_" + arch for name, (ma, mi) in _LEGACY_MANYLINUX.items() if (ma, mi) <= (major, minor)]
    plats.append(f"linux_{arch}")
    return plats


def target_platform_tags(platform: str, glibc: str) -> list[str]:
    """Platform tags a target accepts, most specific first."""
    if platform == "linux-x86_64":
        return _linux_platforms("x86_64", glibc)
    if platform == "linux-aarch64":
        return _linux_platforms("aarch64", glibc)
    if platform == "windows-amd64":
        return ["win_amd64"]
    if platform == "macos-arm64":
        return [f"macosx_{v}_0_{a}" for v in range(15, 10, -1) for a in ("arm64", "universal2")]
    raise ValueError(f"unknown platform {platform!r}")


@functools.lru_cache(maxsize=64)
def target_tags(python: str, platform: str, glibc: str) -> frozenset[Tag]:
    """Every wheel tag a CPython `python` ("3.11", "3.13t") on the target accepts."""
    return frozenset(ordered_target_tags(python, platform, glibc))


@functools.lru_cache(maxsize=64)
def ordered_target_tags(python: str, platform: str, glibc: str) -> tuple[Tag, ...]:
    """The target's wheel tags, most specific first (the order installers prefer them in)."""
    free_threaded = python.endswith("t")
    major, minor = (int(x) for x in python.rstrip("t").split("."))
    plats = target_platform_tags(platform, glibc)
    interp = f"cp{major}{minor}"
    abis = [f"{interp}t"] if free_threaded else [interp, "abi3"]
    tags = list(cpython_tags((major, minor), abis=abis, platforms=plats))
    tags += [t for t in compatible_tags((major, minor), interp, plats) if t not in tags]
    if free_threaded:  # abi3 does not apply to free-threaded builds
        tags = [t for t in tags if t.abi != "abi3"]
    return tuple(tags)


def wheel_fits(filename: str, python: str, platform: str, glibc: str) -> bool:
    """True when the wheel `filename` installs on the target (False for sdists and junk names)."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(target_tags(python, platform, glibc))
