"""How envlock's platform names map onto resolver triples and PEP 508 environments."""

from __future__ import annotations


def uv_python_platform(platform: str, glibc: str) -> str:
    """The `--python-platform` value uv understands for a target."""
    if platform == "linux-x86_64":
        return f"x86_64-manylinux_{glibc.replace('.', '_')}"
    if platform == "linux-aarch64":
        return f"aarch64-manylinux_{glibc.replace('.', '_')}"
    if platform == "windows-amd64":
        return "x86_64-pc-windows-msvc"
    if platform == "macos-arm64":
        return "aarch64-apple-darwin"
    raise ValueError(f"unknown platform {platform!r}")


def marker_environment(platform: str, python: str) -> dict[str, str]:
    """A PEP 508 marker environment for `platform` and Python X.Y (for evaluating markers)."""
    system, machine, sys_platform, os_name = {
        "linux-x86_64": ("Linux", "x86_64", "linux", "posix"),
        "linux-aarch64": ("Linux", "aarch64", "linux", "posix"),
        "windows-amd64": ("Windows", "AMD64", "win32", "nt"),
        "macos-arm64": ("Darwin", "arm64", "darwin", "posix"),
    }[platform]
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": os_name,
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": sys_platform,
    }
