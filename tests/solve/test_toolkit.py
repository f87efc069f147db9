"""`[cuda] toolkit`: CUDA toolkit components locked from NVIDIA's redist manifests and installed.

The manifests are NVIDIA's own (fixtures/redist/); the archives of nvcc, cudart and cccl are small
real `.tar.xz` files in NVIDIA's layout made by `fixtures.redist` (NVIDIA's hosts are not reachable
here). The torch side comes from the fixture indexes, as in every solve test.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envlock.lock.toml import load_lock
from fixtures.redist import (
    RedistServer,
    build_redist,
    component_members,
    read_manifest,
    set_archive,
    tar_xz,
    write_manifest,
)
from tests.solve.conftest import Run, target_block

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "install"))
from lockmaker import run_envlock  # the install tests' subprocess runner

Envlock = Callable[..., Run]
H100 = target_block("h100", gpus=("H100",), driver="550.54.15")
GH200 = target_block("gh200", "linux-aarch64", ("GH200",), "570.86.10")
CPU = target_block("ci")


@pytest.fixture
def redist(tmp_path: Path) -> Iterator[tuple[Path, RedistServer]]:
    root = build_redist(tmp_path / "redist")
    server = RedistServer(root)
    yield root, server
    server.close()


def _spec(
    write_spec: Callable[..., Path],
    url: str,
    targets: str,
    toolkit: str = '["nvcc", "cccl", "cudart"]',
    cuda: str = "",
) -> Path:
    return write_spec(
        targets=targets,
        cuda=f"toolkit = {toolkit}\n{cuda}",
        extra=f'nvidia-redist = "{url}"\n',
    )


def _target(lock: Path, name: str):  # type: ignore[no-untyped-def]  # test helper
    return next(t for t in load_lock(lock).targets if t.name == name)


def test_toolkit_is_locked_per_target_from_the_manifest_of_its_cuda_minor(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    root, server = redist
    spec = _spec(write_spec, server.url, H100 + GH200 + CPU)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock = spec.with_name("envlock.lock")
    h100, gh200, ci = _target(lock, "h100"), _target(lock, "gh200"), _target(lock, "ci")
    # x86_64 H100 on driver 550 runs cu124: the 12.4.1 release, linux-x86_64 archives
    assert (h100.cuda, h100.toolkit_source, h100.toolkit_release) == ("12.4", "redist", "12.4.1")
    manifest = read_manifest(root, "12.4.1")
    assert [c.name for c in h100.toolkit] == ["cuda_cccl", "cuda_cudart", "cuda_nvcc"]
    for c in h100.toolkit:
        entry = manifest[c.name]["linux-x86_64"]  # type: ignore[index]
        (art,) = c.artifacts
        assert c.version == manifest[c.name]["version"]  # type: ignore[index]
        assert art.url == f"{server.url}/{entry['relative_path']}"
        assert (art.sha256, art.size) == (entry["sha256"], int(entry["size"]))
    # GH200 is an Arm server: linux-sbsa archives of the release of its own CUDA minor
    assert gh200.toolkit_release == f"{gh200.cuda}.2"
    assert all("linux-sbsa" in c.artifacts[0].filename for c in gh200.toolkit)
    # a CPU target gets no toolkit
    assert ci.toolkit == () and ci.toolkit_release is None
    # the lock reads back, is fresh, and `show --json` names the toolkit
    assert envlock("check", "-s", str(spec), "-l", str(lock)).code == 0
    shown = envlock("show", "-l", str(lock), "--json").json()
    t = next(t for t in shown["targets"] if t["name"] == "h100")
    assert t["toolkit"]["release"] == "12.4.1"
    assert {c["name"] for c in t["toolkit"]["components"]} == {"cuda_cccl", "cuda_cudart", "cuda_nvcc"}
    # solving again gives the same bytes
    before = lock.read_bytes()
    assert envlock("solve", "-s", str(spec)).code == 0
    assert lock.read_bytes() == before


def test_toolkit_installs_into_env_cuda_with_cuda_home_and_nvcc(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer], tmp_path: Path
) -> None:
    _root, server = redist
    spec = _spec(write_spec, server.url, H100)
    assert envlock("solve", "-s", str(spec)).code == 0, "solve failed"
    lock = spec.with_name("envlock.lock")
    env = {"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "550.54.15"}
    store = tmp_path / "store"
    run = run_envlock(
        ["run", "-l", str(lock), "--", "sh", "-c", 'echo "$CUDA_HOME"; nvcc --version'], store=store, env=env
    )
    assert run.returncode == 0, run.stderr
    cuda_home, *rest = run.stdout.splitlines()
    assert cuda_home.endswith("/cuda") and cuda_home.startswith(str(store))
    assert "release 12.4, V12.4.131" in "\n".join(rest)
    home = Path(cuda_home)
    # NVIDIA's layout merged: bin, include, lib (+ lib64 -> lib), nvvm; licenses per component
    assert (home / "include" / "cuda_runtime.h").is_file()
    assert (home / "include" / "cuda" / "version").is_file()
    assert (home / "lib" / "libcudart.so").resolve() == (home / "lib" / "libcudart.so.12").resolve()
    assert (home / "lib64").resolve() == (home / "lib").resolve()
    assert (home / "nvvm" / "bin" / "cicc").is_file()
    assert sorted(p.name for p in (home / "share").iterdir()) == ["cuda_cccl", "cuda_cudart", "cuda_nvcc"]
    shell = run_envlock(["shell", "-l", str(lock)], store=store, env=env)
    assert f"CUDA_HOME={home}" in shell.stdout
    # verify checks the archives by sha256 and the unpacked files by the tree hash
    checked = run_envlock(["verify", "-l", str(lock)], store=store, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_minor_without_a_release_is_unsatisfiable_with_the_reason(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    _root, server = redist
    spec = _spec(write_spec, server.url, H100, cuda='version = "==12.6.*"')
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "has no CUDA 12.6 toolkit release" in run.err
    assert "nvidia-redist" in run.err


def test_component_missing_for_the_platform_is_unsatisfiable_with_the_fix(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    # NVIDIA publishes cuda_opencl for x86_64 but not for Arm servers (sbsa).
    _root, server = redist
    spec = _spec(write_spec, server.url, GH200, toolkit='["nvcc", "opencl"]')
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "cuda_opencl not published for linux-sbsa" in run.err
    assert "drop cuda_opencl from [cuda].toolkit" in run.err


def test_unknown_component_gets_a_did_you_mean(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    _root, server = redist
    spec = _spec(write_spec, server.url, H100, toolkit='["nvccc"]')
    run = envlock("solve", "-s", str(spec))
    assert run.code == 2
    assert "'nvccc' is not a component" in run.err
    assert "did you mean 'cuda_nvcc'?" in run.err


def test_a_local_directory_works_as_the_redist(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    root, _server = redist
    spec = _spec(write_spec, root.as_uri(), H100, toolkit='["cudart"]')
    run = envlock("solve", "-s", str(spec), "--json")
    assert run.code == 0, run.err
    (t,) = run.json()["targets"]
    assert t["toolkit"]["components"][0]["url"].startswith(root.as_uri())


def test_toolkit_bump_shows_in_the_diff_headline(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer]
) -> None:
    root, server = redist
    spec = _spec(write_spec, server.url, H100)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = spec.with_name("envlock.lock")
    old = lock.with_name("old.lock")
    old.write_bytes(lock.read_bytes())
    # NVIDIA publishes 12.4.2 with a newer nvcc: the re-solve picks it up
    manifest = read_manifest(root, "12.4.1")
    manifest["release_label"] = "12.4.2"
    nvcc = manifest["cuda_nvcc"]
    nvcc["version"] = "12.4.199"  # type: ignore[index]
    entry = nvcc["linux-x86_64"]  # type: ignore[index]
    entry["relative_path"] = "cuda_nvcc/linux-x86_64/cuda_nvcc-linux-x86_64-12.4.199-archive.tar.xz"
    top = "cuda_nvcc-linux-x86_64-12.4.199-archive"
    set_archive(
        root, manifest, "cuda_nvcc", "linux-x86_64", tar_xz(top, component_members("cuda_nvcc", "12.4.199"))
    )
    write_manifest(root, "12.4.2", manifest)
    assert envlock("solve", "-s", str(spec)).code == 0
    diff = envlock("diff", str(old), str(lock))
    assert diff.code == 0, diff.err
    headline = diff.out.split("\n\n")[0]
    assert "toolkit 12.4.1 -> 12.4.2" in diff.out
    assert "cuda_nvcc 12.4.131 -> 12.4.199" in diff.out
    md = envlock("diff", str(old), str(lock), "--format", "json").json()
    assert json.dumps(md).count("12.4.199") >= 1
    assert headline


def _hostile(root: Path, raw: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    manifest = read_manifest(root, "12.4.1")
    version = manifest["cuda_nvcc"]["version"]  # type: ignore[index]
    top = f"cuda_nvcc-linux-x86_64-{version}-archive"
    set_archive(
        root,
        manifest,
        "cuda_nvcc",
        "linux-x86_64",
        tar_xz(top, component_members("cuda_nvcc", str(version)), raw),
    )
    write_manifest(root, "12.4.1", manifest)


def _entry(
    name: str,
    *,
    kind: bytes = tarfile.REGTYPE,
    data: bytes | None = b"x",
    link: str = "",
    size: int | None = None,
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    info.size = len(data) if data is not None and size is None else (size or 0)
    return info, data


TOP = "cuda_nvcc-linux-x86_64-12.4.131-archive"
HOSTILE = {
    "dotdot": [_entry(f"{TOP}/../../escaped")],
    "absolute": [_entry("/tmp/envlock-absolute-escape")],
    "symlink-out": [_entry(f"{TOP}/bin/evil", kind=tarfile.SYMTYPE, data=None, link="../../../../etc")],
    "symlink-absolute": [_entry(f"{TOP}/bin/evil", kind=tarfile.SYMTYPE, data=None, link="/etc/passwd")],
    "hardlink-passwd": [_entry(f"{TOP}/bin/passwd", kind=tarfile.LNKTYPE, data=None, link="/etc/passwd")],
    "device": [_entry(f"{TOP}/bin/dev", kind=tarfile.CHRTYPE, data=None)],
    "outside-top": [_entry("other-dir/file")],
}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_nothing_is_published(
    attack: str,
    envlock: Envlock,
    write_spec: Callable[..., Path],
    redist: tuple[Path, RedistServer],
    tmp_path: Path,
) -> None:
    root, server = redist
    _hostile(root, HOSTILE[attack])
    spec = _spec(write_spec, server.url, H100, toolkit='["nvcc"]')
    assert envlock("solve", "-s", str(spec)).code == 0
    store = tmp_path / "store"
    run = run_envlock(
        ["install", "-l", str(spec.with_name("envlock.lock"))],
        store=store,
        env={"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "550.54.15"},
    )
    assert run.returncode == 1, run.stderr
    assert "CUDA toolkit archive cuda_nvcc-linux-x86_64-12.4.131-archive.tar.xz" in run.stderr
    envs = store / "v1" / "envs"
    assert not envs.exists() or not any(envs.iterdir())
    assert not Path("/tmp/envlock-absolute-escape").exists()


def test_a_member_bigger_than_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from envlock.errors import IntegrityError
    from envlock.materialize.toolkit import MAX_MEMBER, ToolkitArchive, install_toolkit

    # A header that claims more than the limit: refused from the header alone, no data read.
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        top = tarfile.TarInfo(TOP)
        top.type = tarfile.DIRTYPE
        tf.addfile(top)
    body = bytearray(buffer.getvalue()[:512])
    huge = tarfile.TarInfo(f"{TOP}/bin/huge")
    huge.size = MAX_MEMBER + 1
    body += huge.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024)
    archive = tmp_path / f"{TOP}.tar.xz"
    import lzma

    archive.write_bytes(lzma.compress(bytes(body)))
    with pytest.raises(IntegrityError, match="claims"):
        install_toolkit(
            tmp_path / "cuda", [ToolkitArchive(component="cuda_nvcc", filename=archive.name, path=archive)]
        )


def test_toolkit_archives_travel_in_bundles_for_offline_installs(
    envlock: Envlock, write_spec: Callable[..., Path], redist: tuple[Path, RedistServer], tmp_path: Path
) -> None:
    _root, server = redist
    spec = _spec(write_spec, server.url, H100, toolkit='["nvcc"]')
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = spec.with_name("envlock.lock")
    bundle = tmp_path / "bundle"
    fetched = run_envlock(["fetch", "-l", str(lock), "-o", str(bundle)], store=tmp_path / "login-store")
    assert fetched.returncode == 0, fetched.stderr
    server.close()  # the compute node has no way to reach NVIDIA's redist
    run = run_envlock(
        ["run", "-l", str(lock), "--offline", "--bundle", str(bundle), "--", "nvcc", "--version"],
        store=tmp_path / "node-store",
        env={"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "550.54.15"},
    )
    assert run.returncode == 0, run.stderr
    assert "V12.4.131" in run.stdout


def test_nvidia_true_adds_nvidias_package_index_as_an_extra_index(write_spec: Callable[..., Path]) -> None:
    from envlock.spec.parse import load_spec

    spec = load_spec(write_spec(targets=H100, extra="nvidia = true\n"))
    assert spec.indexes.extra[-1] == "https://pypi.nvidia.com"
    spec = load_spec(write_spec(targets=H100, extra='nvidia = "https://mirror.example/nvidia"\n'))
    assert spec.indexes.extra[-1] == "https://mirror.example/nvidia"
