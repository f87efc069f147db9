"""One `Platform` per target: its wheel tags (and their order), uv's triple, its PEP 508 markers.

The tag order is checked against `packaging.tags.sys_tags()` (pip's own list) on this host, and the
solve and the install are checked to pick the same file of a release for the same target.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import packaging._manylinux
import pytest
from lockfactory import make_cpu_target
from packaging.markers import Marker
from packaging.tags import Tag, mac_platforms, sys_tags

from envlock.index.client import HttpIndexClient
from envlock.index.model import IndexFile
from envlock.install.wheels import choose_artifact
from envlock.lock.model import Artifact, LockedPackage
from envlock.platforms import PLATFORMS, Platform, manylinux_glibc, wheel_glibc
from envlock.resolvers.uv import uv_binary
from envlock.solve.archs import torch_file
from envlock.solve.packages import _best_wheel


def _plat(platform: str, python: str = "3.11", glibc: str = "2.28") -> Platform:
    return Platform.of(platform, python=python, glibc=glibc)


# --------------------------------------------------------------------------- the order pip would use


def _host_glibc() -> tuple[int, int] | None:
    try:
        name, _, version = os.confstr("CS_GNU_LIBC_VERSION").partition(" ")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return None
    major, _, minor = version.partition(".")
    return (int(major), int(minor)) if name == "glibc" else None


@pytest.mark.parametrize("glibc", [(2, 17), (2, 28), None])
def test_tag_order_is_pips_on_this_host(
    monkeypatch: pytest.MonkeyPatch, glibc: tuple[int, int] | None
) -> None:
    """On a glibc Linux host, a Platform for this interpreter and a glibc lists exactly the tags, in
    exactly the order, that pip's `packaging.tags.sys_tags()` gives on a node with that glibc. The
    glibc pip sees is set by replacing packaging's probe (the only stand-in: this host has one glibc);
    None keeps the host's own."""
    host = _host_glibc()
    machine = os.uname().machine
    if host is None or sys.implementation.name != "cpython" or machine not in ("x86_64", "aarch64"):
        pytest.skip("needs CPython on a glibc Linux x86_64 or aarch64 host")
    if hasattr(sys, "gettotalrefcount"):
        pytest.skip("a debug build of CPython has extra ABIs")
    if glibc is not None:
        if glibc > host:
            pytest.skip("packaging checks the host's glibc too")
        monkeypatch.setattr(packaging._manylinux, "_get_glibc_version", lambda: glibc)
    platform = Platform(
        os="linux",
        arch=machine,
        python=(sys.version_info.major, sys.version_info.minor),
        free_threaded=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        glibc=glibc or host,
    )
    assert list(platform.tags()) == _host_linux_tag_last(list(sys_tags()), machine)


def _host_linux_tag_last(tags: list[Tag], machine: str) -> list[Tag]:
    """`tags` with each `linux_<machine>` tag moved to the end of its interpreter/ABI run.

    packaging 26.4 (not 26.2) has `sys_tags()` list the host's own `linux_<machine>` tag first in each
    run: a wheel built on this very host beats a manylinux one. A target stands for many nodes, so
    envlock ranks that unportable tag after every manylinux tag, where older packaging lists it too
    (there this changes nothing)."""
    out: list[Tag] = []
    held: list[Tag] = []
    for i, tag in enumerate(tags):
        if tag.platform == f"linux_{machine}":
            held.append(tag)
        else:
            out.append(tag)
        following = tags[i + 1] if i + 1 < len(tags) else None
        run_ends = following is None or (following.interpreter, following.abi) != (tag.interpreter, tag.abi)
        if held and run_ends:
            out += held
            held = []
    return out


# --------------------------------------------------------------------------- real targets


def test_x86_64_glibc_2_28() -> None:
    p = _plat("linux-x86_64", "3.11", "2.28")
    plats = p.platform_tags()
    assert plats[:2] == ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64")
    # each legacy name right after the glibc it stands for; nothing below manylinux1; linux_* last
    assert plats[plats.index("manylinux_2_17_x86_64") + 1] == "manylinux2014_x86_64"
    assert plats[plats.index("manylinux_2_12_x86_64") + 1] == "manylinux2010_x86_64"
    assert plats[-3:] == ("manylinux_2_5_x86_64", "manylinux1_x86_64", "linux_x86_64")
    tags = [str(t) for t in p.tags()]
    assert tags[0] == "cp311-cp311-manylinux_2_28_x86_64"
    # the interpreter's own ABI on every platform first, then abi3, then none; pure wheels last
    assert tags.index("cp311-cp311-linux_x86_64") < tags.index("cp311-abi3-manylinux_2_28_x86_64")
    assert tags.index("cp311-abi3-linux_x86_64") < tags.index("cp311-none-manylinux_2_28_x86_64")
    assert tags.index("cp32-abi3-linux_x86_64") < tags.index("py311-none-manylinux_2_28_x86_64")
    assert tags[-1] == "py30-none-any"
    assert "cp311-cp311-manylinux_2_29_x86_64" not in tags
    assert "cp311-cp311-musllinux_1_2_x86_64" not in tags


def test_aarch64_glibc_2_17() -> None:
    p = _plat("linux-aarch64", "3.11", "2.17")
    # manylinux2014 was the first manylinux for aarch64: no older tag exists there
    assert p.platform_tags() == ("manylinux_2_17_aarch64", "manylinux2014_aarch64", "linux_aarch64")
    assert str(p.tags()[0]) == "cp311-cp311-manylinux_2_17_aarch64"
    assert p.accepts("torch-2.5.1-cp311-cp311-manylinux2014_aarch64.whl")
    assert not p.accepts("torch-2.7.0-cp311-cp311-manylinux_2_28_aarch64.whl")
    assert not p.accepts("numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl")


def test_macos_arm64() -> None:
    p = _plat("macos-arm64", "3.12")
    assert p.platform_tags() == tuple(mac_platforms((15, 0), "arm64"))
    assert p.platform_tags()[:3] == ("macosx_15_0_arm64", "macosx_15_0_universal2", "macosx_14_0_arm64")
    assert str(p.tags()[0]) == "cp312-cp312-macosx_15_0_arm64"
    assert p.accepts("numpy-2.0.0-cp312-cp312-macosx_11_0_arm64.whl")
    assert p.accepts("numpy-2.0.0-cp312-cp312-macosx_10_9_universal2.whl")  # pip and uv take these
    assert not p.accepts("numpy-2.0.0-cp312-cp312-macosx_10_9_x86_64.whl")
    assert not p.accepts("numpy-2.0.0-cp312-cp312-macosx_16_0_arm64.whl")


def test_windows_amd64() -> None:
    p = _plat("windows-amd64", "3.11")
    assert p.platform_tags() == ("win_amd64",)
    assert [str(t) for t in p.tags()[:3]] == [
        "cp311-cp311-win_amd64",
        "cp311-abi3-win_amd64",
        "cp311-none-win_amd64",
    ]
    assert not p.accepts("numpy-2.0.0-cp311-cp311-win32.whl")
    assert p.accepts("six-1.0-py2.py3-none-any.whl")


def test_free_threaded_python_takes_no_abi3() -> None:
    p = _plat("linux-x86_64", "3.13t")
    assert str(p.tags()[0]) == "cp313-cp313t-manylinux_2_28_x86_64"
    assert not any(t.abi in ("abi3", "cp313") for t in p.tags())
    assert not p.accepts("x-1-cp313-cp313-manylinux_2_17_x86_64.whl")
    assert p.python_version == "3.13t"


def test_musl_linux() -> None:
    p = Platform(os="linux", arch="x86_64", python=(3, 12), musl=(1, 2))
    assert p.platform_tags() == (
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
        "linux_x86_64",
    )
    assert not p.accepts("x-1-cp312-cp312-manylinux_2_17_x86_64.whl")
    assert p.uv_python_platform() == "x86_64-unknown-linux-musl"
    assert p.uv_python_download() == ("linux", "x86_64", "musl")


def test_unknown_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        _plat("linux-riscv64")
    with pytest.raises(ValueError, match="exactly one C library"):
        Platform(os="linux", arch="x86_64", python=(3, 11))
    with pytest.raises(ValueError, match=r"not MAJOR\.MINOR"):
        _plat("linux-x86_64", glibc="2")


def test_legacy_manylinux_aliases() -> None:
    assert manylinux_glibc("manylinux1_x86_64") == (2, 5)
    assert manylinux_glibc("manylinux2010_x86_64") == (2, 12)
    assert manylinux_glibc("manylinux2014_aarch64") == (2, 17)
    assert manylinux_glibc("manylinux_2_28_x86_64") == (2, 28)
    assert manylinux_glibc("musllinux_1_2_x86_64") is None
    assert manylinux_glibc("linux_x86_64") is None
    assert wheel_glibc("n-1-cp311-cp311-manylinux_2_28_x86_64.manylinux2014_x86_64.whl") == (2, 17)
    assert wheel_glibc("n-1-py3-none-any.whl") is None
    assert wheel_glibc("n-1.tar.gz") is None


# --------------------------------------------------------------------------- uv and markers


@pytest.mark.parametrize(
    ("platform", "glibc", "triple"),
    [
        ("linux-x86_64", "2.28", "x86_64-manylinux_2_28"),
        ("linux-x86_64", "2.17", "x86_64-manylinux_2_17"),
        ("linux-aarch64", "2.17", "aarch64-manylinux_2_17"),
        ("linux-aarch64", "2.34", "aarch64-manylinux_2_34"),
        ("windows-amd64", "2.28", "x86_64-pc-windows-msvc"),
        ("macos-arm64", "2.28", "aarch64-apple-darwin"),
    ],
)
def test_uv_accepts_the_triple(platform: str, glibc: str, triple: str, tmp_path: Path) -> None:
    assert _plat(platform, glibc=glibc).uv_python_platform() == triple
    (tmp_path / "req.in").write_text("", encoding="utf-8")
    done = subprocess.run(
        [uv_binary(), "pip", "compile", "--offline", "--no-config", "--quiet", "--python-version", "3.11",
         "--python-platform", triple, "req.in"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_uv_python_download_names() -> None:
    assert _plat("linux-x86_64").uv_python_download() == ("linux", "x86_64", "gnu")
    assert _plat("linux-aarch64").uv_python_download() == ("linux", "aarch64", "gnu")
    assert _plat("macos-arm64").uv_python_download() == ("macos", "aarch64", "none")
    assert _plat("windows-amd64").uv_python_download() == ("windows", "x86_64", "none")


def test_marker_environment() -> None:
    env = _plat("linux-aarch64", "3.13t").marker_environment()
    assert env["sys_platform"] == "linux" and env["platform_machine"] == "aarch64"
    assert env["platform_system"] == "Linux" and env["os_name"] == "posix"
    assert env["python_version"] == "3.13" and env["python_full_version"] == "3.13.0"
    win = _plat("windows-amd64", "3.11").marker_environment()
    assert (win["sys_platform"], win["platform_machine"], win["os_name"]) == ("win32", "AMD64", "nt")
    mac = _plat("macos-arm64", "3.12").marker_environment()
    assert (mac["sys_platform"], mac["platform_machine"], mac["platform_system"]) == (
        "darwin",
        "arm64",
        "Darwin",
    )
    # what users write in their dependencies
    assert Marker("sys_platform == 'linux' and platform_machine == 'aarch64'").evaluate(dict(env))
    assert Marker("python_version >= '3.12' and os_name != 'nt'").evaluate(dict(env))
    assert not Marker("platform_system == 'Windows'").evaluate(dict(env))
    assert Marker("platform_system == 'Windows'").evaluate(dict(win))


def test_environment_marker_picks_out_its_own_platform() -> None:
    # the `environments` line of a pylock export: true on its own platform, false on every other
    assert (
        _plat("linux-x86_64").environment_marker()
        == "sys_platform == 'linux' and platform_machine == 'x86_64'"
    )
    assert _plat("windows-amd64").environment_marker() == "sys_platform == 'win32'"
    assert (
        _plat("linux-aarch64").environment_marker()
        == "sys_platform == 'linux' and platform_machine == 'aarch64'"
    )
    assert (
        _plat("macos-arm64").environment_marker()
        == "sys_platform == 'darwin' and platform_machine == 'arm64'"
    )
    for name in PLATFORMS:
        marker = Marker(_plat(name).environment_marker())
        for other in PLATFORMS:
            assert marker.evaluate(dict(_plat(other).marker_environment())) == (other == name), (name, other)


# --------------------------------------------------------------------------- solve and install agree

RELEASE = (
    "d-1.0.tar.gz",
    "d-1.0-py3-none-any.whl",
    "d-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "d-1.0-cp311-cp311-manylinux2014_x86_64.whl",
    "d-1.0-cp311-cp311-manylinux_2_12_x86_64.whl",
    "d-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
    "d-1.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "d-1.0-cp311-cp311-manylinux_2_28_aarch64.whl",
    "d-1.0-cp311-cp311-macosx_11_0_arm64.whl",
    "d-1.0-cp311-cp311-macosx_10_9_universal2.whl",
    "d-1.0-cp311-cp311-win_amd64.whl",
    "d-1.0-cp311-cp311-musllinux_1_2_x86_64.whl",
    "d-1.0-cp313-cp313-manylinux_2_17_x86_64.whl",
    "d-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl",
    "d-1.0-cp313-cp313t-macosx_10_13_universal2.whl",
)

# target -> the file pip or uv would install there
EXPECTED = {
    ("linux-x86_64", "2.28", "3.11"): "d-1.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    # manylinux2014 is glibc 2.17: above manylinux_2_12 (the old solve order put legacy names last)
    ("linux-x86_64", "2.17", "3.11"): "d-1.0-cp311-cp311-manylinux2014_x86_64.whl",
    ("linux-x86_64", "2.12", "3.11"): "d-1.0-cp311-cp311-manylinux_2_12_x86_64.whl",
    ("linux-x86_64", "2.28", "3.12"): "d-1.0-cp39-abi3-manylinux_2_28_x86_64.whl",
    ("linux-x86_64", "2.28", "3.13t"): "d-1.0-cp313-cp313t-manylinux_2_17_x86_64.whl",
    ("linux-aarch64", "2.17", "3.11"): "d-1.0-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    ("linux-aarch64", "2.28", "3.11"): "d-1.0-cp311-cp311-manylinux_2_28_aarch64.whl",
    ("macos-arm64", "2.28", "3.11"): "d-1.0-cp311-cp311-macosx_11_0_arm64.whl",
    # a universal2 wheel for macOS 10.x installs on Apple silicon (the old solve list had no 10.x)
    ("macos-arm64", "2.28", "3.13t"): "d-1.0-cp313-cp313t-macosx_10_13_universal2.whl",
    ("windows-amd64", "2.28", "3.11"): "d-1.0-cp311-cp311-win_amd64.whl",
    ("windows-amd64", "2.28", "3.13t"): "d-1.0-py3-none-any.whl",
}


class _SimpleIndex(http.server.BaseHTTPRequestHandler):
    """A PEP 503 page for `d` listing RELEASE; the files themselves are never fetched here."""

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/simple/d":
            self.send_error(404)
            return
        links = "".join(f'<a href="/files/{name}">{name}</a>\n' for name in RELEASE)
        body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def demo_index() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SimpleIndex)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/simple/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("platform", "glibc", "python"), sorted(EXPECTED))
def test_solve_and_install_pick_the_same_file(
    demo_index: str, platform: str, glibc: str, python: str
) -> None:
    """The file the solve locks for a resolver that reports no files (pip-tools), the torch wheel the
    solve reads GPU architectures from, and the file install takes from a lock listing every file
    of the release: one and the same, and the one pip or uv would install on that target."""
    tags: tuple[Tag, ...] = _plat(platform, python, glibc).tags()
    with HttpIndexClient() as client:
        solved = _best_wheel(client, [demo_index], "d", "1.0", {t: i for i, t in enumerate(tags)})
    assert solved is not None
    listed = [IndexFile(filename=name, url=f"{demo_index}../files/{name}") for name in RELEASE]
    read = torch_file("1.0", listed, python, platform, glibc)
    assert read is not None
    package = LockedPackage(
        name="d",
        version="1.0",
        index=demo_index,
        artifacts=tuple(
            Artifact(filename=n, url=f"{demo_index}../files/{n}", size=1, sha256="0" * 64)
            for n in sorted(RELEASE)
        ),
    )
    installed = choose_artifact(package, make_cpu_target(platform=platform, glibc=glibc, python=python))
    assert solved.filename == read.filename == installed.filename == EXPECTED[(platform, glibc, python)]
