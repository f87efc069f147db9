"""The platforms envlock targets: their names (for specs and locks) and one `Platform` value per target
that answers every platform question (wheel tags, uv's triple, PEP 508 markers)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packaging.tags import Tag

PLATFORMS = ("linux-x86_64", "linux-aarch64", "windows-amd64", "macos-arm64")

# What users type for a platform, by OS word and machine word. envlock does not map these silently:
# the lock and its hash record one canonical name, and "amd64" or "arm64" alone do not say the OS.
# A spec with one of them gets an error that names the platform to write instead.
_OS_WORDS = {
    "linux": "linux",
    "manylinux": "linux",
    "win": "windows",
    "windows": "windows",
    "win32": "windows",
    "win64": "windows",
    "mac": "macos",
    "macos": "macos",
    "macosx": "macos",
    "osx": "macos",
    "darwin": "macos",
}
_MACHINE_WORDS = {
    "x86_64": "x86_64",
    "x86-64": "x86_64",
    "amd64": "x86_64",
    "x64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv8": "arm64",
}
_CANONICAL = {
    ("linux", "x86_64"): "linux-x86_64",
    ("linux", "arm64"): "linux-aarch64",
    ("windows", "x86_64"): "windows-amd64",
    ("macos", "arm64"): "macos-arm64",
}


def suggest_platforms(text: str) -> tuple[str, ...]:
    """The platform names a user most likely meant by `text` ("linux-amd64" -> linux-x86_64), best first."""
    norm = text.strip().lower().replace("x86_64", "x64").replace("x86-64", "x64")
    words = [w for w in norm.replace("_", "-").replace(" ", "-").split("-") if w]
    os_word = next((_OS_WORDS[w] for w in words if w in _OS_WORDS), None)
    machine = next((_MACHINE_WORDS[w] for w in words if w in _MACHINE_WORDS), None)
    if os_word is None and machine is None:
        return ()
    out = [
        name
        for (o, m), name in _CANONICAL.items()
        if (os_word is None or o == os_word) and (machine is None or m == machine)
    ]
    if os_word is None:  # "amd64", "arm64" alone: Linux first, the cluster case
        out.sort(key=lambda n: not n.startswith("linux"))
    return tuple(out)


# --- What a target's platform means to installers and resolvers ---------------------------------------
#
# One `Platform` value per target gives every platform answer envlock needs: the wheel tags in the order
# an installer prefers them (solve and install both rank files with it, so install picks the file the
# solve tested), uv's `--python-platform`, the PEP 508 marker environment and the `environments` marker of
# a pylock export. The tag order is the one pip (`packaging.tags.sys_tags`) and uv produce on a host with
# that libc; docs/architecture.md §11 says why.

# The legacy manylinux names and the glibc each stands for (PEP 600, "Legacy manylinux tags").
LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_LEGACY_BY_GLIBC = {glibc: name for name, glibc in LEGACY_MANYLINUX.items()}
# The oldest glibc a manylinux wheel can ask for, per architecture: manylinux1 covered only x86, and
# manylinux2014 (glibc 2.17) was the first to cover aarch64 (PEP 599; uv and packaging stop there too).
_OLDEST_MANYLINUX_MINOR = {"x86_64": 5, "aarch64": 17}
_MANYLINUX_RE = re.compile(r"^manylinux_(\d+)_(\d+)_")

# The macOS release whose wheels a macos-arm64 target accepts (and every older one back to 11, plus
# universal2 wheels for 10.x), as envlock has always assumed: specs name no macOS version.
MACOS_VERSION = (15, 0)

# envlock platform -> (OS, wheel-tag machine word)
_PARTS = {
    "linux-x86_64": ("linux", "x86_64"),
    "linux-aarch64": ("linux", "aarch64"),
    "windows-amd64": ("windows", "amd64"),
    "macos-arm64": ("macos", "arm64"),
}
# OS -> (sys.platform, platform.system(), os.name), as CPython reports them there
_OS_MARKERS = {
    "linux": ("linux", "Linux", "posix"),
    "windows": ("win32", "Windows", "nt"),
    "macos": ("darwin", "Darwin", "posix"),
}
# (OS, wheel-tag machine word) -> platform.machine() as CPython reports it there
_MACHINE = {
    ("linux", "x86_64"): "x86_64",
    ("linux", "aarch64"): "aarch64",
    ("windows", "amd64"): "AMD64",
    ("macos", "arm64"): "arm64",
}
# wheel-tag machine word -> the target triple's architecture word (uv, python-build-standalone)
_TRIPLE_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "amd64": "x86_64", "arm64": "aarch64"}


def _version(text: str, what: str) -> tuple[int, int]:
    major, dot, minor = text.partition(".")
    # two digits at most: tags are listed per minor version (glibc "2.3000000" would be millions)
    if not (dot and major.isdigit() and minor.isdigit() and len(major) <= 2 and len(minor) <= 2):
        raise ValueError(f"{what} {text!r} is not MAJOR.MINOR (at most two digits each)")
    return int(major), int(minor)


@dataclass(frozen=True, slots=True, kw_only=True)
class Platform:
    """Where a target's Python runs: OS, machine, C library and interpreter, as wheel tags see them.

    `arch` is the machine word of wheel tags (`x86_64`, `aarch64`, `amd64`, `arm64`). A Linux platform
    has exactly one of `glibc` and `musl` (the oldest version on its nodes); a macOS one has `macos`.
    `python` is CPython's (major, minor); `free_threaded` is the "X.Yt" build.
    """

    os: str  # "linux" | "windows" | "macos"
    arch: str
    python: tuple[int, int]
    free_threaded: bool = False
    glibc: tuple[int, int] | None = None
    musl: tuple[int, int] | None = None
    macos: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.os not in _OS_MARKERS:
            raise ValueError(f"unknown OS {self.os!r}; envlock knows {', '.join(_OS_MARKERS)}")
        if self.os == "linux" and (self.glibc is None) == (self.musl is None):
            raise ValueError("a Linux platform has exactly one C library: give glibc or musl")

    @classmethod
    def of(cls, platform: str, *, python: str, glibc: str) -> Platform:
        """The platform of an envlock target: `platform` one of PLATFORMS, `python` "3.11" or "3.13t",
        `glibc` the target's floor "2.28" (ignored off Linux). Raises ValueError for anything else."""
        return _of(platform, python, glibc)

    @property
    def name(self) -> str:
        """envlock's name for this platform ("linux-x86_64"), as specs and locks write it."""
        for name, parts in _PARTS.items():
            if parts == (self.os, self.arch):
                return name
        return f"{self.os}-{self.arch}"

    @property
    def python_version(self) -> str:
        """The Python as specs write it: "3.11", "3.13t"."""
        return f"{self.python[0]}.{self.python[1]}" + ("t" if self.free_threaded else "")

    def platform_tags(self) -> tuple[str, ...]:
        """The platform tags this platform accepts, most preferred first."""
        return _platform_tags(self)

    def tags(self) -> tuple[Tag, ...]:
        """Every wheel tag this platform's CPython accepts, most preferred first (pip's and uv's order)."""
        return _tags(self)

    def tag_set(self) -> frozenset[Tag]:
        return _tag_set(self)

    def wheel_rank(self, filename: str) -> int | None:
        """Where the wheel `filename` ranks in `tags()` (lower is preferred); None when it does not
        install here, or is no wheel at all."""
        from packaging.utils import InvalidWheelFilename, parse_wheel_filename

        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return None
        rank = _tag_rank(self)
        return min((rank[t] for t in tags if t in rank), default=None)

    def accepts(self, filename: str) -> bool:
        """True when the wheel `filename` installs here (False for sdists and malformed names)."""
        return self.wheel_rank(filename) is not None

    def uv_python_platform(self) -> str:
        """The `--python-platform` triple uv resolves for: glibc targets name their manylinux floor."""
        arch = _TRIPLE_ARCH.get(self.arch, self.arch)
        if self.os == "linux" and self.glibc is not None:
            return f"{arch}-manylinux_{self.glibc[0]}_{self.glibc[1]}"
        if self.os == "linux":  # uv has one musl triple per machine (musllinux_1_2)
            return f"{arch}-unknown-linux-musl"
        if self.os == "windows":
            return f"{arch}-pc-windows-msvc"
        if self.os == "macos":
            return f"{arch}-apple-darwin"
        raise ValueError(f"uv has no target triple for {self.name}")

    def uv_python_download(self) -> tuple[str, str, str]:
        """(os, arch, libc) as uv's Python download list names the builds for this platform."""
        libc = "gnu" if self.glibc is not None else "musl" if self.musl is not None else "none"
        return self.os, _TRIPLE_ARCH.get(self.arch, self.arch), libc

    def marker_environment(self) -> dict[str, str]:
        """The PEP 508 marker environment of this platform's Python at its first patch release."""
        sys_platform, system, os_name = _OS_MARKERS[self.os]
        version = f"{self.python[0]}.{self.python[1]}"
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{version}.0",
            "os_name": os_name,
            "platform_machine": _MACHINE.get((self.os, self.arch), self.arch),
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": f"{version}.0",
            "python_version": version,
            "sys_platform": sys_platform,
        }

    def environment_marker(self) -> str:
        """A PEP 508 marker true exactly on this OS and machine (pylock's `environments`). Windows names
        no machine: envlock has one Windows platform, and `platform_machine` there is the host's word."""
        sys_platform = _OS_MARKERS[self.os][0]
        if self.os == "windows":
            return f"sys_platform == '{sys_platform}'"
        machine = _MACHINE.get((self.os, self.arch), self.arch)
        return f"sys_platform == '{sys_platform}' and platform_machine == '{machine}'"


def host_platform() -> str:
    """This machine as a spec platform name (`linux-x86_64`, `linux-aarch64`, `windows-amd64`,
    `macos-arm64`); other machines get `<system>-<machine>` in lower case."""
    import os

    if hasattr(os, "uname"):  # what `platform.system()` / `.machine()` report there, without importing it
        uname = os.uname()
        system, machine = uname.sysname.lower(), uname.machine.lower()
    else:
        import platform as _platform

        system, machine = _platform.system().lower(), _platform.machine().lower()
    if system == "linux":
        if machine in ("x86_64", "amd64"):
            return "linux-x86_64"
        if machine in ("aarch64", "arm64"):
            return "linux-aarch64"
    if system == "windows" and machine in ("amd64", "x86_64"):
        return "windows-amd64"
    if system == "darwin":
        return "macos-arm64" if machine in ("arm64", "aarch64") else f"macos-{machine}"
    return f"{system}-{machine}"


def manylinux_glibc(platform_tag: str) -> tuple[int, int] | None:
    """The glibc a manylinux platform tag asks for ("manylinux2014_x86_64" -> (2, 17)); None for others."""
    m = _MANYLINUX_RE.match(platform_tag)
    if m:
        return int(m.group(1)), int(m.group(2))
    for name, glibc in LEGACY_MANYLINUX.items():
        if platform_tag.startswith(name + "_"):
            return glibc
    return None


def wheel_glibc(filename: str) -> tuple[int, int] | None:
    """The lowest glibc any of a wheel's manylinux tags accepts; None for other wheels and non-wheels.

    Read from the file name's last field (`NAME-VER[-BUILD]-PY-ABI-PLAT.whl`, PLAT possibly
    compressed as `a.b`), lower-cased as `packaging` reads tags, without importing `packaging.utils`
    (and with it `packaging.tags` and `logging`): every store hit judges each locked wheel's glibc.
    """
    if not filename.endswith(".whl"):
        return None
    fields = filename[:-4].split("-")
    if len(fields) not in (5, 6):
        return None
    found = [g for g in map(manylinux_glibc, fields[-1].lower().split(".")) if g is not None]
    return min(found) if found else None


@functools.lru_cache(maxsize=64)
def _of(platform: str, python: str, glibc: str) -> Platform:
    if platform not in _PARTS:
        raise ValueError(f"unknown platform {platform!r}; envlock knows {', '.join(PLATFORMS)}")
    os_name, arch = _PARTS[platform]
    return Platform(
        os=os_name,
        arch=arch,
        python=_version(python.removesuffix("t"), "Python"),
        free_threaded=python.endswith("t"),
        glibc=_version(glibc, "glibc") if os_name == "linux" else None,
        macos=MACOS_VERSION if os_name == "macos" else None,
    )


def _manylinux_platforms(arch: str, glibc: tuple[int, int]) -> list[str]:
    # Newest first, each legacy alias right after the glibc it stands for (as pip and uv order them).
    # A glibc of another major than 2 has no manylinux wheels.
    major, minor = glibc
    oldest = _OLDEST_MANYLINUX_MINOR.get(arch, 0)
    if major != 2:
        return []
    out: list[str] = []
    for m in range(minor, oldest - 1, -1):
        out.append(f"manylinux_2_{m}_{arch}")
        legacy = _LEGACY_BY_GLIBC.get((2, m))
        if legacy is not None:
            out.append(f"{legacy}_{arch}")
    return out


@functools.lru_cache(maxsize=64)
def _platform_tags(p: Platform) -> tuple[str, ...]:
    if p.os == "linux":
        plats: list[str] = []
        if p.glibc is not None:
            plats += _manylinux_platforms(p.arch, p.glibc)
        if p.musl is not None:
            plats += [f"musllinux_{p.musl[0]}_{m}_{p.arch}" for m in range(p.musl[1], -1, -1)]
        # `linux_<arch>` last: a target stands for many nodes, and a wheel built on one host is the
        # least portable (packaging 26.4's sys_tags lists it first, for the host it runs on).
        return (*plats, f"linux_{p.arch}")
    if p.os == "windows":
        return (f"win_{p.arch}",)
    if p.os == "macos":
        from packaging.tags import mac_platforms

        return tuple(mac_platforms(p.macos or MACOS_VERSION, p.arch))
    raise ValueError(f"no wheel platform tags for {p.name}")


@functools.lru_cache(maxsize=64)
def _tags(p: Platform) -> tuple[Tag, ...]:
    from packaging.tags import compatible_tags, cpython_tags

    interpreter = f"cp{p.python[0]}{p.python[1]}"
    abi = interpreter + ("t" if p.free_threaded else "")
    plats = _platform_tags(p)
    # cpython_tags adds abi3 (not for a free-threaded build) and `none` after the interpreter's own ABI.
    out = list(cpython_tags(p.python, [abi], plats))
    seen = set(out)
    out += [t for t in compatible_tags(p.python, interpreter, plats) if t not in seen]
    return tuple(out)


@functools.lru_cache(maxsize=64)
def _tag_set(p: Platform) -> frozenset[Tag]:
    return frozenset(_tags(p))


@functools.lru_cache(maxsize=64)
def _tag_rank(p: Platform) -> dict[Tag, int]:
    return {tag: i for i, tag in enumerate(_tags(p))}
