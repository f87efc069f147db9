"""The pure parts of `envlock image`: references, layer plans and bytes, base fit, config facts."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from lockfactory import make_target

from envlock.errors import IncompatibleNodeError, UsageError
from envlock.image.base import BaseFacts, check_fit
from envlock.image.config import default_tag, nvidia_require_cuda
from envlock.image.layers import MAX_LAYERS, Entry, plan_layers, scan_env, write_layer
from envlock.image.ref import parse_ref
from envlock.lock.model import Artifact, LockedPackage, LockedTarget


@pytest.mark.parametrize(
    ("text", "transport", "where", "tag", "digest"),
    [
        ("oci:/data/img", "oci", "/data/img", None, None),
        ("oci:/data/img:v1.2", "oci", "/data/img", "v1.2", None),
        ("oci-archive:img.tar:latest", "oci-archive", "img.tar", "latest", None),
        ("docker://127.0.0.1:5000/team/env:v1", "docker", "127.0.0.1:5000/team/env", "v1", None),
        (
            "docker://nvcr.io/nvidia/cuda@sha256:" + "a" * 64,
            "docker",
            "nvcr.io/nvidia/cuda",
            None,
            "sha256:" + "a" * 64,
        ),
    ],
)
def test_references_in_skopeo_syntax(
    text: str, transport: str, where: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_ref(text, option="--base")
    assert (ref.transport, ref.path or ref.name, ref.tag, ref.digest) == (transport, where, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    ["docker-daemon:x:y", "img", "docker://host", "docker://host/UPPER:t", "oci:dir:-bad", "scratch"],
)
def test_bad_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_ref(text, option="-o")


def _target(**kw: object) -> LockedTarget:
    fields: dict[str, object] = {"env_hash": "sha256:" + "ab" * 32, "packages": (), "rejected": ()}
    return make_target(**(fields | kw))


def test_nvidia_require_cuda_and_default_tag() -> None:
    assert nvidia_require_cuda(_target()) == "cuda>=12.4 driver>=550.54.14"
    assert nvidia_require_cuda(_target(compat="minor-version", requires_driver="525.60.13")) == (
        "cuda>=12.0 driver>=525.60.13"
    )
    assert nvidia_require_cuda(_target(cuda=None, variant="cpu")) is None
    assert default_tag(None, _target()) == "torch2.5.1-cu124-py3.11-abababab"  # type: ignore[arg-type]  # unused


def test_a_locked_cuda_toolkit_sets_cuda_home_in_the_image() -> None:
    from envlock.image.config import image_config

    def env_of(target: LockedTarget) -> dict[str, str]:
        config = image_config(
            base_config={"config": {"Env": ["PATH=/usr/bin"]}},
            target=target,
            prefix="/opt/envlock/x-h100",
            diff_ids=[],
            history=[],
            labels={},
            created="1970-01-01T00:00:00Z",
            user="1000:1000",
        )
        return dict(e.split("=", 1) for e in config["config"]["Env"])

    with_toolkit = env_of(_target(toolkit_source="redist", toolkit_release="12.4.1"))
    assert with_toolkit["CUDA_HOME"] == with_toolkit["CUDA_PATH"] == "/opt/envlock/x-h100/cuda"
    assert with_toolkit["PATH"] == "/opt/envlock/x-h100/bin:/opt/envlock/x-h100/cuda/bin:/usr/bin"
    assert "CUDA_HOME" not in env_of(_target())


def _art(name: str, upload: str | None = None) -> Artifact:
    return Artifact(
        filename=f"{name}-1.0-py3-none-any.whl", url="u", size=1, sha256="0" * 64, upload_time=upload
    )


def _facts(**kw: object) -> BaseFacts:
    fields: dict[str, object] = {
        "platform": "linux-x86_64",
        "os_arch": ("linux", "amd64"),
        "pythons": (("3.11", "/usr/bin/python3.11"),),
        "glibc": "2.36",
        "musl": False,
    }
    fields.update(kw)
    return BaseFacts(**fields)  # type: ignore[arg-type]  # the test passes the right types


def test_base_fit_names_both_sides() -> None:
    wheel = Artifact(filename="x-1-cp311-cp311-manylinux_2_39_x86_64.whl", url="u", size=1, sha256="0" * 64)
    assert check_fit(_target(), _facts(), [_art("a")], "oci:b") == "/usr/bin/python3.11"
    with pytest.raises(IncompatibleNodeError, match=r"needs Python 3\.12, the base has Python 3\.11"):
        check_fit(_target(python="3.12"), _facts(), [], "oci:b")
    with pytest.raises(IncompatibleNodeError, match=r"glibc 2\.36, and x-1-.* needs glibc 2\.39"):
        check_fit(_target(), _facts(), [wheel], "oci:b")
    with pytest.raises(IncompatibleNodeError, match="musl, not glibc"):
        check_fit(_target(), _facts(glibc=None, musl=True), [wheel], "oci:b")
    with pytest.raises(IncompatibleNodeError, match="linux/arm64"):
        check_fit(_target(), _facts(platform="linux-aarch64", os_arch=("linux", "arm64")), [], "oci:b")


def _pkg(name: str) -> tuple[LockedPackage, Artifact]:
    art = _art(name)
    return LockedPackage(name=name, version="1.0", index="i", artifacts=(art,)), art


def test_plan_gives_big_packages_own_layers_and_caps_the_count() -> None:
    names = ["torch", "triton", "alpha", "beta"] + [f"nvidia-lib{i:02d}-cu12" for i in range(MAX_LAYERS + 5)]
    chosen = [_pkg(n) for n in names]
    entries = {
        f"site/{n}/f.py": Entry(path=f"site/{n}/f.py", kind="file", data=b"x" * (100 + i), size=100 + i)
        for i, n in enumerate(names)
    }
    owned = {path: path.split("/")[1] for path in entries}
    plans = plan_layers(
        entries=entries,
        owned=owned,
        chosen=chosen,
        prefix="/opt/envlock/e-t",
        python="3.11",
        installer="uv 0",
        venv_entries=[],
        venv_mtime=0,
    )
    assert len(plans) == MAX_LAYERS
    assert [p.name for p in plans][-2:] == ["packages", "venv"]
    own = {p.name for p in plans[:-2]}
    assert {"torch", "triton"} <= own and "alpha" not in own
    grouped = plans[-2].packages
    assert {"alpha", "beta"} <= set(grouped) and len(grouped) == 2 + (len(names) - 2 - (MAX_LAYERS - 2))
    again = plan_layers(
        entries=entries,
        owned=owned,
        chosen=list(reversed(chosen)),
        prefix="/opt/envlock/e-t",
        python="3.11",
        installer="uv 0",
        venv_entries=[],
        venv_mtime=0,
    )
    assert [(p.name, p.key) for p in again] == [(p.name, p.key) for p in plans]


def _tree(root: Path, umask: int) -> Path:
    old = os.umask(umask)
    try:
        (root / "lib" / "pkg").mkdir(parents=True)
        (root / "lib" / "pkg" / "b.py").write_text("b = 2\n")
        (root / "lib" / "pkg" / "a.py").write_text("a = 1\n")
        (root / "bin").mkdir()
        (root / "bin" / "tool").write_text("#!/bin/sh\n")
        (root / "bin" / "tool").chmod(0o777 & ~umask)
        (root / "bin" / "py").symlink_to("/usr/bin/python3")
        (root / "lib" / "pkg" / "__pycache__").mkdir()
        (root / "lib" / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"junk")
    finally:
        os.umask(old)
    return root


def test_layer_bytes_do_not_depend_on_umask_mtime_or_order(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", 0o022)
    b = _tree(tmp_path / "b", 0o077)
    os.utime(b / "lib" / "pkg" / "a.py", (1, 1))
    outs = []
    for root in (a, b):
        entries = scan_env(root)
        plans = plan_layers(
            entries=entries,
            owned={},
            chosen=[],
            prefix="/opt/envlock/e-t",
            python="3.11",
            installer="uv 0",
            venv_entries=[],
            venv_mtime=1700000000,
        )
        buf = io.BytesIO()
        diff_id, digest, size = write_layer(plans[-1], "/opt/envlock/e-t", buf)
        data = buf.getvalue()
        assert digest == "sha256:" + hashlib.sha256(data).hexdigest() and size == len(data)
        assert diff_id == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
        outs.append(data)
    assert outs[0] == outs[1]
    with tarfile.open(fileobj=io.BytesIO(outs[0])) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert not any("__pycache__" in name for name in members)
    assert members["opt/envlock/e-t/bin/tool"].mode == 0o755
    assert members["opt/envlock/e-t/lib/pkg/a.py"].mode == 0o644
    assert members["opt/envlock/e-t/bin/py"].linkname == "/usr/bin/python3"
    assert {m.mtime for m in members.values()} == {1700000000}
    assert list(members) == sorted(members)
