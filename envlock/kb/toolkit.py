"""CUDA toolkit components as NVIDIA publishes them: redist manifest names, platforms, wheel extras.

Facts (source: NVIDIA's redist manifests `redistrib_<X.Y.Z>.json` under
https://developer.download.nvidia.com/compute/cuda/redist/, and the `cuda-toolkit` metapackage's
extras on the package index):

* every top-level object of a manifest but `release_*` is a component (`cuda_nvcc`, `libcublas`,
  ...) with a `version` and one entry per platform: `linux-x86_64`, `linux-sbsa` (Arm servers such
  as GH200), `linux-aarch64` (Jetson/L4T), `windows-x86_64`, ...; an entry gives `relative_path`,
  `sha256`, `md5` and `size` (a string);
* an archive unpacks into one top directory, `<archive name without .tar.xz/.zip>/`, holding
  `bin/`, `include/`, `lib/` and the component's own directories (`nvvm/`, ...);
* the `cuda-toolkit` metapackage's extras are the component names without their `cuda_` or
  `lib` prefix (`nvcc`, `cudart`, `cublas`, `nvjitlink`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_REDIST = "https://developer.download.nvidia.com/compute/cuda/redist"
NVIDIA_INDEX = "https://pypi.nvidia.com"
TOOLKIT_SOURCES = ("redist", "index")

# Manifest keys that are not components.
_NOT_COMPONENTS = frozenset({"release_date", "release_label", "release_product"})


def redist_platform(platform: str, *, jetson: bool) -> str | None:
    """The manifest's platform key for an envlock target; None where NVIDIA ships no toolkit.

    Linux aarch64 targets are Arm servers (`linux-sbsa`) unless their GPUs are Jetson parts
    (`jetson`: `linux-aarch64`, the L4T builds).
    """
    if platform == "linux-x86_64":
        return "linux-x86_64"
    if platform == "linux-aarch64":
        return "linux-aarch64" if jetson else "linux-sbsa"
    if platform == "windows-amd64":
        return "windows-x86_64"
    return None


def manifest_components(manifest: dict[str, object]) -> list[str]:
    """The component names a parsed manifest lists."""
    return sorted(k for k, v in manifest.items() if k not in _NOT_COMPONENTS and isinstance(v, dict))


def component_key(written: str, known: Iterable[str]) -> str | None:
    """The manifest key a user's name stands for: itself, or with the `cuda_` or `lib` prefix."""
    names = set(known)
    for candidate in (written, f"cuda_{written}", f"lib{written}"):
        if candidate in names:
            return candidate
    return None


def wheel_extra(written: str) -> str:
    """The `cuda-toolkit[...]` extra of a component name (`cuda_nvcc` -> `nvcc`)."""
    for prefix in ("cuda_", "lib"):
        if written.startswith(prefix) and written != prefix:
            return written[len(prefix) :]
    return written
