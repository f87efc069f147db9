"""`envlock image` as a user runs it: real skopeo, umoci, podman and a real registry, on a base
built from real Debian packages."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Podman, Registry, free_port, image_lock
from debian_base import DebianBase
from lockmaker import FileServer, TargetDef, make_lock, run_envlock

from envlock.lock.read import load_lock

pytestmark = pytest.mark.slow


def build(args: list[str], store: Path, **kw: Any) -> dict[str, Any]:
    done = run_envlock(["image", *args, "--store", str(store), "--json"], timeout=600, **kw)
    assert done.returncode == 0, done.stderr + done.stdout
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def index_digest(layout: Path) -> str:
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    assert len(entries) == 1
    return str(entries[0]["digest"])


def manifest_of(layout: Path, digest: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    return doc


def test_same_lock_same_manifest_in_other_dirs_times_and_umasks(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    first = build(
        ["-l", str(lock), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci:{tmp_path}/a"],
        tmp_path / "s1",
    )
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    shutil.copy(lock, elsewhere / "envlock.lock")
    time.sleep(1.1)  # another second: nothing may take the clock
    second = build(
        ["-l", "envlock.lock", "--target", "gpu", "--base", debian_base.ref, "-o", "oci:out"],
        elsewhere / "store",
        cwd=elsewhere,
        prefix=["sh", "-c", 'umask 077 && exec "$@"', "sh"],
    )
    assert not any(layer["reused"] for layer in second["layers"])  # a fresh store built every layer
    assert first["manifest-digest"] == second["manifest-digest"]
    assert index_digest(tmp_path / "a") == index_digest(elsewhere / "out") == first["manifest-digest"]
    # the layer a user can read back is sorted, owned by 0:0 and carries no umask
    blob = elsewhere / "out" / "blobs" / "sha256" / second["layers"][-1]["digest"].split(":")[1]
    with tarfile.open(blob) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
    assert all(m.mode in (0o755, 0o644, 0o777) for m in members)


def test_changing_torch_changes_only_the_torch_layer(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    store = tmp_path / "store"
    old = image_lock(tmp_path / "old.lock", wheels, server, python=debian_base.python)
    new = image_lock(tmp_path / "new.lock", wheels, server, python=debian_base.python, torch="2.6.0+cu124")
    a = build(
        ["-l", str(old), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci:{tmp_path}/a"], store
    )
    b = build(
        ["-l", str(new), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci:{tmp_path}/b"], store
    )
    names_a = {layer["name"]: layer for layer in a["layers"]}
    names_b = {layer["name"]: layer for layer in b["layers"]}
    assert sorted(names_a) == sorted(names_b) == ["nvidia-cudnn-cu12", "packages", "torch", "venv"]
    assert names_a["torch"]["digest"] != names_b["torch"]["digest"]
    # the venv layer (pyvenv.cfg, envlock-env.json naming every package) changes with any package
    assert names_a["venv"]["digest"] != names_b["venv"]["digest"]
    for unchanged in ("nvidia-cudnn-cu12", "packages"):
        assert names_a[unchanged]["digest"] == names_b[unchanged]["digest"]
        assert names_b[unchanged]["reused"] is True  # taken from the store, not written again
    layers_a = manifest_of(tmp_path / "a", a["manifest-digest"])["layers"]
    layers_b = manifest_of(tmp_path / "b", b["manifest-digest"])["layers"]
    changed = [
        i for i, (x, y) in enumerate(zip(layers_a, layers_b, strict=True)) if x["digest"] != y["digest"]
    ]
    torch_at = next(
        i for i, x in enumerate(layers_a) if x.get("annotations", {}).get("dev.envlock.layer") == "torch"
    )
    assert changed == [torch_at, len(layers_a) - 1]  # torch's layer and the small venv layer last


def test_tools_accept_it_and_podman_runs_it_as_non_root(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer, podman: Podman
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    doc = build(
        ["-l", str(lock), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci:{tmp_path}/img"],
        tmp_path / "store",
    )
    tag = doc["tag"]
    locked = load_lock(lock)
    target = locked.targets[0]
    assert tag == f"torch2.5.1-cu124-py{debian_base.python}-{target.env_hash.split(':')[1][:8]}"
    ref = f"oci:{tmp_path}/img:{tag}"

    inspected = subprocess.run(["skopeo", "inspect", ref], capture_output=True, text=True, check=False)
    assert inspected.returncode == 0, inspected.stderr
    labels = json.loads(inspected.stdout)["Labels"]
    assert labels["dev.envlock.lock.content-hash"] == locked.content_hash
    assert labels["dev.envlock.target"] == "gpu"
    assert labels["dev.envlock.torch"] == target.torch == "2.5.1+cu124"
    assert labels["dev.envlock.cuda"] == target.cuda == "12.4"
    assert labels["dev.envlock.cudnn"] == target.cudnn
    assert labels["dev.envlock.nccl"] == target.nccl
    assert labels["dev.envlock.gpu-archs"] == ",".join(target.gpus)
    assert labels["dev.envlock.requires-driver"] == target.requires_driver
    assert labels["org.opencontainers.image.base.digest"] == index_digest(debian_base.layout)
    config = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", ref], capture_output=True, text=True, check=True
        ).stdout
    )["config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["NVIDIA_REQUIRE_CUDA"] == "cuda>=12.4 driver>=550.54.14"
    assert env["VIRTUAL_ENV"] == "/opt/envlock/demo-gpu"
    assert env["PATH"].startswith("/opt/envlock/demo-gpu/bin:")
    assert config["User"] == "1000:1000"

    bundle = tmp_path / "bundle"
    unpacked = subprocess.run(
        ["umoci", "unpack", "--image", f"{tmp_path}/img:{tag}", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpacked.returncode == 0, unpacked.stderr
    cfg = (bundle / "rootfs" / "opt" / "envlock" / "demo-gpu" / "pyvenv.cfg").read_text()
    assert "home = /usr/bin\n" in cfg and str(tmp_path) not in cfg
    shutil.rmtree(bundle)

    code = "import os, torch, alpha; print(torch.__version__, alpha.__version__, os.getuid(), os.getgid())"
    ran = podman(["run", "--rm", "--network", "none", ref, "python", "-c", code])
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["2.5.1+cu124", "1.0", "1000", "1000"]
    script = podman(["run", "--rm", "--network", "none", ref, "gamma-hello"])
    assert script.returncode == 0, script.stderr
    assert script.stdout.strip() == "gamma says hi from /opt/envlock/demo-gpu"


def test_push_pull_same_digests_and_second_push_uploads_no_blob(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer, registry: Registry
) -> None:
    store = tmp_path / "store"
    # the base itself comes from the registry, by tag: the image records the digest it resolved
    pushed_base = subprocess.run(
        [
            "skopeo",
            "copy",
            "--dest-tls-verify=false",
            debian_base.ref,
            f"docker://{registry.host}/debian:base",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert pushed_base.returncode == 0, pushed_base.stderr
    base_ref = f"docker://{registry.host}/debian:base"
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    dest = f"docker://{registry.host}/team/env:v1"
    before = registry.blob_uploads()
    first = build(
        ["-l", str(lock), "--target", "gpu", "--base", base_ref, "-o", dest, "--tls-verify=false"], store
    )
    assert first["base"]["digest"] == index_digest(debian_base.layout)
    assert first["labels"]["org.opencontainers.image.base.name"] == f"{registry.host}/debian"
    uploaded = registry.blob_uploads() - before
    assert uploaded == first["pushed"]["uploaded"] >= 1

    pulled = tmp_path / "pulled"
    copy = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", dest, f"oci:{pulled}:v1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert copy.returncode == 0, copy.stderr
    assert index_digest(pulled) == first["manifest-digest"]
    ours = [layer["digest"] for layer in first["layers"]]
    assert [x["digest"] for x in manifest_of(pulled, first["manifest-digest"])["layers"]][
        -len(ours) :
    ] == ours

    again = registry.blob_uploads()
    second = build(
        ["-l", str(lock), "--target", "gpu", "--base", base_ref, "-o", dest, "--tls-verify=false"], store
    )
    assert second["manifest-digest"] == first["manifest-digest"]
    assert registry.blob_uploads() == again  # the registry saw no blob uploaded twice
    assert second["pushed"]["uploaded"] == 0


def test_target_that_does_not_fit_the_base_fails_before_any_work(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    store = tmp_path / "store"
    other = "3.12" if debian_base.python != "3.12" else "3.11"
    wrong_python = image_lock(tmp_path / "py.lock", wheels, server, python=other)
    done = run_envlock(
        [
            "image",
            "-l",
            str(wrong_python),
            "--target",
            "gpu",
            "--base",
            debian_base.ref,
            "-o",
            f"oci:{tmp_path}/x",
            "--store",
            str(store),
        ]
    )
    assert done.returncode == 1, done.stderr
    assert (
        f"needs Python {other}" in done.stderr
        and f"Python {debian_base.python} (/usr/bin/python{debian_base.python})" in done.stderr
    )

    arm = image_lock(
        tmp_path / "arm.lock", wheels, server, python=debian_base.python, platform="linux-aarch64"
    )
    done = run_envlock(
        [
            "image",
            "-l",
            str(arm),
            "--target",
            "gpu",
            "--base",
            debian_base.ref,
            "-o",
            f"oci:{tmp_path}/x",
            "--store",
            str(store),
        ]
    )
    assert done.returncode == 1, done.stderr
    assert "linux/amd64" in done.stderr and "linux-aarch64" in done.stderr

    # a base with Python but no C library at all, and a lock with a manylinux wheel
    bare = tmp_path / "bare"
    bundle = tmp_path / "bare-bundle"
    for args in (
        ["init", "--layout", str(bare)],
        ["new", "--image", f"{bare}:bare"],
        ["unpack", "--image", f"{bare}:bare", str(bundle)],
    ):
        subprocess.run(["umoci", *args], capture_output=True, check=True)
    python = bundle / "rootfs" / "usr" / "bin" / f"python{debian_base.python}"
    python.parent.mkdir(parents=True)
    python.write_bytes(b"\x7fELF")
    subprocess.run(
        ["umoci", "repack", "--image", f"{bare}:bare", str(bundle)], capture_output=True, check=True
    )
    glibc_lock = _lock_with_wheel(tmp_path, wheels, server, debian_base.python)
    done = run_envlock(
        [
            "image",
            "-l",
            str(glibc_lock),
            "--target",
            "cpu",
            "--base",
            f"oci:{bare}:bare",
            "-o",
            f"oci:{tmp_path}/x",
            "--store",
            str(store),
        ]
    )
    assert done.returncode == 1, done.stderr
    assert "no glibc" in done.stderr and "manylinux" in done.stderr
    assert server.requests == []  # nothing was downloaded
    assert not (store / "v1" / "envs").exists() or list((store / "v1" / "envs").iterdir()) == []
    assert not (tmp_path / "x").exists()


def _lock_with_wheel(tmp_path: Path, wheels: Path, server: FileServer, python: str) -> Path:
    """A lock whose one package is a manylinux wheel (built as a fixture, with real hashes)."""
    import dataclasses

    from envlock.lock.digest import env_hash, seal
    from envlock.lock.model import Artifact
    from envlock.lock.write import dump_lock
    from fixtures.wheels import build_wheel

    abi = "cp" + python.replace(".", "")
    built = build_wheel(wheels, "native", "1.0", f"{abi}-{abi}-manylinux_2_17_x86_64")
    data = built.read_bytes()
    lock_path = make_lock(
        tmp_path / "glibc.lock",
        wheels,
        server.url,
        [TargetDef(name="cpu", packages=(("native", "1.0"),))],
        python=python,
    )
    lock = load_lock(lock_path)
    art = Artifact(
        filename=built.name,
        url=server.url + built.name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    pkg = dataclasses.replace(lock.targets[0].packages[0], artifacts=(art,))
    target = dataclasses.replace(
        lock.targets[0],
        packages=(pkg,),
        env_hash=env_hash(python=python, platform="linux-x86_64", packages=[pkg]),
    )
    lock_path.write_text(dump_lock(seal(dataclasses.replace(lock, targets=(target,)))), encoding="utf-8")
    return lock_path


def test_registry_down_or_refusing_is_exit_3_naming_the_host_without_credentials(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer, auth_registry: Registry
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    store = tmp_path / "store"
    common = ["image", "-l", str(lock), "--target", "gpu", "--store", str(store), "--tls-verify=false"]
    secret = "s3cret-Pa55word"
    down_port = free_port()  # nothing listens there
    down = run_envlock(
        [
            *common,
            "--base",
            debian_base.ref,
            "-o",
            f"docker://127.0.0.1:{down_port}/team/env:v1",
            "--creds",
            f"envlock:{secret}",
        ]
    )
    assert down.returncode == 3, down.stderr
    assert f"127.0.0.1:{down_port}" in down.stderr
    refused = run_envlock(
        [
            *common,
            "--base",
            debian_base.ref,
            "-o",
            f"docker://{auth_registry.host}/team/env:v1",
            "--creds",
            f"envlock:{secret}",
            "--json",
        ]
    )
    assert refused.returncode == 3, refused.stderr
    err = json.loads(refused.stdout)["error"]
    assert err["kind"] == "network" and err["host"] == auth_registry.host
    base_refused = run_envlock(
        [*common, "--base", f"docker://{auth_registry.host}/debian:base", "-o", f"oci:{tmp_path}/x"],
        env={"ENVLOCK_REGISTRY_CREDS": f"envlock:{secret}"},
    )
    assert base_refused.returncode == 3, base_refused.stderr
    assert auth_registry.host in base_refused.stderr
    for done in (down, refused, base_refused):
        assert secret not in done.stdout + done.stderr
    ok = run_envlock(
        [
            *common,
            "--base",
            debian_base.ref,
            "-o",
            f"docker://{auth_registry.host}/team/env:v1",
            "--creds",
            "envlock:right-password",
        ]
    )
    assert ok.returncode == 0, ok.stderr
    assert "right-password" not in ok.stdout + ok.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--base", "docker-daemon:debian:base", "-o", "oci:out"],
        ["--base", "scratch", "-o", "oci:out"],
        ["--base", "oci:base:latest", "-o", "containers-storage:foo"],
        ["--base", "oci:base:latest", "-o", "docker://no-repo"],
    ],
)
def test_unknown_transport_or_bad_reference_is_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = run_envlock(["image", "-l", str(tmp_path / "none.lock"), "--target", "t", *args], cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "hint: write oci:DIR[:TAG]" in done.stderr


def test_killed_build_leaves_no_layout_and_a_sound_store(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    store = tmp_path / "store"
    dest = tmp_path / "out"
    env = dict(
        os.environ,
        ENVLOCK_STORE=str(store),
        ENVLOCK_TEST_IMAGE_PAUSE="60",
        PYTHONPATH=os.environ.get("PYTHONPATH", ""),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envlock",
            "image",
            "-l",
            str(lock),
            "--target",
            "gpu",
            "--base",
            debian_base.ref,
            "-o",
            f"oci:{dest}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.envlock-*/.index.json.*.tmp")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not dest.exists()
    blobs = store / "v1" / "oci" / "blobs" / "sha256"
    for blob in blobs.iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    for record in (store / "v1" / "oci" / "layers").iterdir():
        digest = json.loads(record.read_text())["digest"].split(":")[1]
        assert (blobs / digest).is_file()
    again = build(["-l", str(lock), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci:{dest}"], store)
    assert index_digest(dest) == again["manifest-digest"]
    assert not list(tmp_path.glob(".out.envlock-*"))


def test_layer_only_on_scratch_gives_one_layer_and_its_description(
    tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=python)
    out = tmp_path / "layer"
    done = run_envlock(
        [
            "image",
            "-l",
            str(lock),
            "--target",
            "gpu",
            "--base",
            "scratch",
            "--layer-only",
            "-o",
            str(out),
            "--store",
            str(tmp_path / "store"),
            "--json",
        ]
    )
    assert done.returncode == 0, done.stderr
    desc = json.loads((out / "layer.json").read_text())
    data = (out / "layer.tar.gz").read_bytes()
    assert desc["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert desc["diff-id"] == "sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest()
    assert desc["size"] == len(data)
    assert desc["env"]["VIRTUAL_ENV"] == desc["prefix"] == "/opt/envlock/demo-gpu"
    with tarfile.open(out / "layer.tar.gz") as tar:
        names = set(tar.getnames())
        site = f"opt/envlock/demo-gpu/lib/python{python}/site-packages"
        assert {
            f"{site}/torch/__init__.py",
            f"{site}/alpha/__init__.py",
            "opt/envlock/demo-gpu/pyvenv.cfg",
        } <= names
        assert tar.getmember("opt/envlock/demo-gpu/bin/python").linkname == f"/usr/bin/python{python}"


def test_oci_archive_out_and_in(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    store = tmp_path / "store"
    archive = tmp_path / "img.tar"
    doc = build(
        ["-l", str(lock), "--target", "gpu", "--base", debian_base.ref, "-o", f"oci-archive:{archive}:v1"],
        store,
    )
    inspected = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci-archive:{archive}:v1"], capture_output=True, check=False
    )
    assert inspected.returncode == 0, inspected.stderr
    assert "sha256:" + hashlib.sha256(inspected.stdout).hexdigest() == doc["manifest-digest"]
    assert not list(tmp_path.glob(".img.tar.envlock-*"))
    # the archive as a base: pinned by the digest of the manifest inside it
    layer = build(
        [
            "-l",
            str(lock),
            "--target",
            "gpu",
            "--base",
            f"oci-archive:{archive}:v1",
            "--layer-only",
            "-o",
            str(tmp_path / "l"),
        ],
        store,
    )
    assert layer["base"]["digest"] == doc["manifest-digest"]
    assert (tmp_path / "l" / "layer.tar.gz").is_file()


def test_unwritable_destination_is_a_usage_error(tmp_path: Path, wheels: Path, server: FileServer) -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    lock = image_lock(tmp_path / "envlock.lock", wheels, server, python=python)
    args = ["image", "-l", str(lock), "--target", "gpu", "--base", "scratch", "--layer-only"]
    done = run_envlock([*args, "-o", "/proc/envlock-no-such-dir/layer", "--store", str(tmp_path / "store")])
    assert done.returncode == 2, done.stderr
    assert "cannot write /proc/envlock-no-such-dir" in done.stderr and "Traceback" not in done.stderr


def test_lock_image_table_gives_base_user_workdir_env_entrypoint_labels(
    debian_base: DebianBase, tmp_path: Path, wheels: Path, server: FileServer
) -> None:
    import dataclasses

    from envlock.lock.digest import seal
    from envlock.lock.model import ImageInputs
    from envlock.lock.write import dump_lock

    lock_path = image_lock(tmp_path / "envlock.lock", wheels, server, python=debian_base.python)
    lock = load_lock(lock_path)
    settings = ImageInputs(
        base=debian_base.ref,
        user="4242:4242",
        workdir="/work",
        env=(("HF_HOME", "/cache/hf"),),
        entrypoint=("python", "-m", "gamma"),
        labels=(("dev.envlock.target", "not-this"), ("org.example.team", "vision")),
    )
    lock = seal(dataclasses.replace(lock, inputs=dataclasses.replace(lock.inputs, image=settings)))
    lock_path.write_text(dump_lock(lock), encoding="utf-8")
    doc = build(["-l", str(lock_path), "--target", "gpu", "-o", f"oci:{tmp_path}/img"], tmp_path / "store")
    assert doc["base"]["digest"] == index_digest(debian_base.layout)
    ref = f"oci:{tmp_path}/img:{doc['tag']}"
    config = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--config", ref], capture_output=True, text=True, check=True
        ).stdout
    )["config"]
    assert config["User"] == "4242:4242"
    assert config["WorkingDir"] == "/work"
    assert config["Entrypoint"] == ["python", "-m", "gamma"] and "Cmd" not in config
    assert "HF_HOME=/cache/hf" in config["Env"]
    assert config["Labels"]["org.example.team"] == "vision"
    assert config["Labels"]["dev.envlock.target"] == "gpu"  # envlock's facts are not overridden
    no_base = load_lock(lock_path)
    no_base = seal(dataclasses.replace(no_base, inputs=dataclasses.replace(no_base.inputs, image=None)))
    lock_path.write_text(dump_lock(no_base), encoding="utf-8")
    done = run_envlock(["image", "-l", str(lock_path), "--target", "gpu", "-o", f"oci:{tmp_path}/x"])
    assert done.returncode == 2 and "no base image" in done.stderr
