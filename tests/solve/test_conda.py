"""The `[conda]` part: solved with rattler per target, locked, installed as a conda prefix.

The channel is a real local conda channel built by `fixtures.conda` (real `.tar.bz2` packages,
indexed by rattler's own indexer); conda channels are not reachable from the test machines. Its
python package is this machine's Debian interpreter in a conda prefix's layout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from envlock.lock.read import load_lock
from fixtures import conda as conda_fixtures
from tests.solve.conftest import Run, target_block

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "install"))
from lockmaker import run_envlock  # the install tests' subprocess runner

Envlock = Callable[..., Run]
GPU = target_block("gpu", gpus=("H100",), driver="550.54.15")
ARM = target_block("arm", "linux-aarch64")
NODE = {"ENVLOCK_GPUS": "H100", "ENVLOCK_DRIVER": "550.54.15"}

pytestmark = pytest.mark.skipif(conda_fixtures.usable() is not None, reason=str(conda_fixtures.usable()))


@pytest.fixture(scope="session")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("conda-recipes")
    return conda_fixtures.build_channel(
        tmp_path_factory.mktemp("conda-channel") / "channel", conda_fixtures.standard_recipes(work)
    )


def _spec(
    write_spec: Callable[..., Path],
    channel: Path,
    targets: str,
    conda_deps: tuple[str, ...] = ("python 3.11.*", "libenvlockdemo"),
    deps: tuple[str, ...] = ("filelock",),
) -> Path:
    path = write_spec(deps=deps, targets=targets, pytorch=False)
    text = path.read_text()
    text += "\n[conda]\n" + f'channels = ["{channel.as_uri()}"]\n'
    text += "dependencies = [" + ", ".join(json.dumps(d) for d in conda_deps) + "]\n"
    path.write_text(text)
    return path


def test_mixed_spec_solves_locks_installs_and_runs_for_two_targets(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    spec = _spec(write_spec, channel, GPU + ARM)
    run = envlock("solve", "-s", str(spec))
    assert run.code == 0, run.err
    lock_path = spec.with_name("envlock.lock")
    lock = load_lock(lock_path)
    gpu, arm = lock.targets
    assert [c.name for c in gpu.conda] == ["libenvlockdemo", "python"]
    assert {c.subdir for c in gpu.conda} == {"linux-64"}
    assert {c.subdir for c in arm.conda} == {"linux-aarch64"}
    repodata = json.loads((channel / "linux-64" / "repodata.json").read_text())["packages"]
    for c in gpu.conda:
        entry = repodata[c.artifact.filename]
        assert (c.artifact.sha256, c.md5, c.artifact.size) == (entry["sha256"], entry["md5"], entry["size"])
        assert c.artifact.url == f"{channel.as_uri()}/linux-64/{c.artifact.filename}"
    assert [p.name for p in gpu.packages] == ["filelock"]
    # byte-identical re-solve, fresh check
    before = lock_path.read_bytes()
    assert envlock("solve", "-s", str(spec)).code == 0
    assert lock_path.read_bytes() == before
    assert envlock("check", "-s", str(spec), "-l", str(lock_path)).code == 0

    store = tmp_path / "store"
    code = (
        "import ctypes, os, filelock; "
        "lib = ctypes.CDLL(os.path.join(os.environ['CONDA_PREFIX'], 'lib', 'libenvlockdemo.so')); "
        "home = os.environ['ENVLOCK_DEMO_HOME']; "
        "print(lib.envlock_demo(), filelock.__name__, home == os.environ['CONDA_PREFIX'])"
    )
    ran = run_envlock(
        ["run", "-l", str(lock_path), "--target", "gpu", "--", "python", "-c", code], store=store, env=NODE
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == ["42", "filelock", "True"]
    (env,) = (store / "v1" / "envs").iterdir()
    # the conda packages' files match their locked hashes and conda-meta records read back
    import rattler

    for c in gpu.conda:
        (meta,) = (env / "conda-meta").glob(f"{c.name}-{c.version}-{c.build}.json")
        record = rattler.PrefixRecord.from_path(meta)
        assert record.sha256 is not None and record.sha256.hex() == c.artifact.sha256
        assert record.url == c.artifact.url
        assert str(record.channel).rstrip("/") == c.channel
    # the PyPI part went into the conda python's site-packages, recorded and compiled as in a venv
    site = env / "lib" / "python3.11" / "site-packages"
    (installer,) = site.glob("filelock-*.dist-info/INSTALLER")
    assert installer.read_text().strip() == "envlock"
    assert list((site / "filelock").glob("__pycache__/*.pyc"))
    # verify re-checks every conda file against the package's own paths.json
    checked = run_envlock(["verify", "-l", str(lock_path), "--target", "gpu"], store=store, env=NODE)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    library = env / "lib" / "libenvlockdemo.so"
    (env / "lib").chmod(0o755)
    library.chmod(0o644)
    library.write_bytes(library.read_bytes() + b"\0")
    tampered = run_envlock(["verify", "-l", str(lock_path), "--target", "gpu"], store=store, env=NODE)
    assert tampered.returncode == 1
    expected = "lib/libenvlockdemo.so: differs from the locked conda package libenvlockdemo 1.0.0"
    assert expected in tampered.stdout
    # --format venv on a conda target is refused
    refused = run_envlock(
        ["install", "-l", str(lock_path), "--target", "gpu", "--format", "venv"], store=store, env=NODE
    )
    assert refused.returncode == 2
    assert "--format conda" in refused.stderr


def test_driver_too_old_for_a_cuda_package_is_unsatisfiable_naming_package_and_driver(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path
) -> None:
    old = target_block("old", gpus=("A100",), driver="535.54.03")
    spec = _spec(write_spec, channel, old, conda_deps=("python 3.11.*", "cudademo"))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "cudademo" in run.err and "__cuda >=12.4" in run.err
    assert "driver 535.54.03" in run.err


def test_a_distribution_in_both_parts_is_refused_naming_both(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path
) -> None:
    spec = _spec(write_spec, channel, GPU, conda_deps=("python 3.11.*", "numpy"), deps=("numpy",))
    run = envlock("solve", "-s", str(spec))
    assert run.code == 1
    assert "numpy would be installed twice: conda numpy 1.26.4" in run.err
    assert "PyPI numpy" in run.err


def test_a_channel_that_is_down_is_a_network_error(envlock: Envlock, write_spec: Callable[..., Path]) -> None:
    spec = _spec(write_spec, Path("/nonexistent/envlock-channel"), GPU)
    spec.write_text(
        spec.read_text().replace("file:///nonexistent/envlock-channel", "http://127.0.0.1:9/channel")
    )
    run = envlock("solve", "-s", str(spec))
    assert run.code == 3, run.err
    assert "cannot read the conda channels (http://127.0.0.1:9/channel)" in run.err


def test_tampered_conda_package_is_refused_and_nothing_is_published(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "channel"
    shutil.copytree(channel, copy)
    spec = _spec(write_spec, copy, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    victim = copy / "linux-64" / next(p.name for p in (copy / "linux-64").glob("libenvlockdemo-*.tar.bz2"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    store = tmp_path / "store"
    run = run_envlock(["install", "-l", str(spec.with_name("envlock.lock"))], store=store, env=NODE)
    assert run.returncode == 1, run.stderr
    assert "libenvlockdemo" in run.stderr
    envs = store / "v1" / "envs"
    assert not envs.exists() or not any(envs.iterdir())


def test_conda_version_bump_shows_in_diff_and_explicit_export(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "channel"
    shutil.copytree(channel, copy)
    spec = _spec(write_spec, copy, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = spec.with_name("envlock.lock")
    old = lock.with_name("old.lock")
    old.write_bytes(lock.read_bytes())
    work = tmp_path / "recipes"
    work.mkdir()
    newer = conda_fixtures.demo_library_recipe(work)
    newer.version = "1.1.0"
    conda_fixtures.build_channel(copy, [newer])
    assert envlock("solve", "-s", str(spec)).code == 0
    diff = envlock("diff", str(old), str(lock))
    assert "libenvlockdemo" in diff.out and "1.0.0" in diff.out and "1.1.0" in diff.out
    explicit = envlock("export", "-l", str(lock), "--target", "gpu", "--format", "conda-explicit")
    assert explicit.code == 0, explicit.err
    lines = explicit.out.splitlines()
    assert "@EXPLICIT" in lines
    assert any(
        line.startswith(f"{copy.as_uri()}/linux-64/libenvlockdemo-1.1.0-") and "#" in line for line in lines
    )


def test_concurrent_installs_of_one_conda_target_build_once(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    spec = _spec(write_spec, channel, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    store = tmp_path / "store"
    import os

    env = dict(os.environ, ENVLOCK_STORE=str(store), **NODE)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "envlock", "install", "-l", str(spec.with_name("envlock.lock")), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1] for r in results]
    docs = [json.loads(out) for out, _err in results]
    assert len({d["path"] for d in docs}) == 1
    assert sum(1 for d in docs if d["built"]) == 1


def test_one_cuda_major_across_the_conda_and_pypi_parts(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path
) -> None:
    def spec_with(cuda_version: str, cuda: str = "") -> Path:
        path = write_spec(targets=GPU, cuda=cuda)  # torch from the fixture variant indexes
        text = path.read_text() + "\n[conda]\n" + f'channels = ["{channel.as_uri()}"]\n'
        text += f'dependencies = ["python 3.11.*", "cuda-version {cuda_version}.*"]\n'
        path.write_text(text)
        return path

    # Driver 550 alone would take torch from cu118 (native); a conda part on CUDA 12.4 rules that
    # variant out, and the choice moves to a CUDA 12 build.
    run = envlock("solve", "-s", str(spec_with("12.4")), "--json")
    assert run.code == 0, run.err
    (t,) = run.json()["targets"]
    assert t["cuda"].startswith("12.")
    reasons = {r["variant"]: r["reason"] for r in t["rejected"]}
    assert "the [conda] part pins CUDA 12.4 (cuda-version) and this variant CUDA 11.8" in reasons["cu118"]
    # a conda part on CUDA 11.8 beside [cuda] version >= 12.1: every variant is refused, and says why
    run = envlock("solve", "-s", str(spec_with("11.8", cuda='version = ">=12.1"')))
    assert run.code == 1
    assert "cu124: the [conda] part pins CUDA 11.8 (cuda-version) and this variant CUDA 12.4" in run.err


def test_conda_packages_travel_in_bundles_for_offline_installs(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "channel"
    shutil.copytree(channel, copy)
    spec = _spec(write_spec, copy, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = spec.with_name("envlock.lock")
    bundle = tmp_path / "bundle"
    fetched = run_envlock(["fetch", "-l", str(lock), "-o", str(bundle)], store=tmp_path / "login")
    assert fetched.returncode == 0, fetched.stderr
    shutil.rmtree(copy)  # the channel is gone: only the bundle has the packages
    ran = run_envlock(
        [
            "run",
            "-l",
            str(lock),
            "--offline",
            "--bundle",
            str(bundle),
            "--",
            "python",
            "-c",
            "import filelock",
        ],
        store=tmp_path / "node",
        env=NODE,
    )
    assert ran.returncode == 0, ran.stderr


def test_a_killed_conda_install_leaves_the_store_as_it_was(
    envlock: Envlock, write_spec: Callable[..., Path], channel: Path, tmp_path: Path
) -> None:
    import os
    import signal
    import time

    spec = _spec(write_spec, channel, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    lock = spec.with_name("envlock.lock")
    store = tmp_path / "store"
    env = dict(os.environ, ENVLOCK_STORE=str(store), ENVLOCK_TEST_BUILD_PAUSE="60", **NODE)
    victim = subprocess.Popen(
        [sys.executable, "-m", "envlock", "install", "-l", str(lock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not list((store / "v1" / "leases").glob("*.lease")) and time.monotonic() < deadline:
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    envs = store / "v1" / "envs"
    assert not envs.exists() or not any(envs.iterdir())
    done = run_envlock(
        ["install", "-l", str(lock)], store=store, env={**NODE, "ENVLOCK_LEASE_STALE_SECONDS": "2"}
    )
    assert done.returncode == 0, done.stderr
    assert len(list(envs.iterdir())) == 1


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
def test_inspect_reads_the_cuda_kernels_of_a_conda_prefix(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    work = tmp_path / "build"
    work.mkdir()
    (work / "k.cu").write_text('extern "C" __global__ void k(float *x) { x[threadIdx.x] += 1.0f; }\n')
    subprocess.run(
        [
            "nvcc",
            "-shared",
            "-Xcompiler",
            "-fPIC",
            "-gencode",
            "arch=compute_90,code=sm_90",
            "-o",
            "libk.so",
            "k.cu",
        ],
        cwd=work,
        check=True,
        capture_output=True,
    )
    recipes = [
        conda_fixtures.debian_python_recipe(),
        conda_fixtures.CondaRecipe(
            name="kernels", version="1.0", files={"lib/libk.so": (work / "libk.so").read_bytes()}
        ),
    ]
    channel = conda_fixtures.build_channel(tmp_path / "channel", recipes)
    spec = _spec(write_spec, channel, GPU, conda_deps=("python 3.11.*", "kernels"))
    assert envlock("solve", "-s", str(spec)).code == 0
    store = tmp_path / "store"
    installed = run_envlock(["install", "-l", str(spec.with_name("envlock.lock"))], store=store, env=NODE)
    assert installed.returncode == 0, installed.stderr
    (env,) = (store / "v1" / "envs").iterdir()
    seen = run_envlock(["inspect", str(env), "--json"], store=store)
    assert seen.returncode == 0, seen.stderr
    doc = json.loads(seen.stdout)
    assert "lib/libk.so" in seen.stdout
    assert "sm_90" in json.dumps(doc)


def test_rattler_lock_writer_cannot_record_a_pypi_packages_hash(tmp_path: Path) -> None:
    """Why there is no `export --format pixi` (docs/conda.md): py-rattler's lock-file writer takes a
    PyPI package's name, version and URL only, so a written pixi lock would lose its sha256. When
    this fails, rattler has learned to record it: revisit the pixi export."""
    import rattler

    platform = rattler.LockPlatform("linux-64")
    lock = rattler.LockFile([platform])
    sha = "ab" * 32
    url = f"file:///w/filelock-3.16.1-py3-none-any.whl#sha256={sha}"
    lock.add_pypi_package("default", platform, "filelock", "3.16.1", url)
    path = tmp_path / "pixi.lock"
    lock.to_path(path)
    environment = rattler.LockFile.from_path(path).default_environment()
    assert environment is not None
    (package,) = environment.pypi_packages()["linux-64"]
    assert package.name == "filelock"
    try:
        recorded = package.hashes.sha256
    except AttributeError:  # py-rattler 0.28 raises this for a package written without hashes
        recorded = None
    assert recorded is None
    assert "sha256:" not in path.read_text()  # the URL's `#sha256=` fragment is not read as a hash


def test_a_conda_package_swapped_in_the_store_after_its_check_is_not_installed(
    envlock: Envlock,
    write_spec: Callable[..., Path],
    channel: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rattler checks no sha256 of a local package file, and the store's `artifacts/` is the group's:
    another member could swap a package between the install's check and rattler's read. The build
    reads verified private copies instead."""
    import envlock.install.apply as apply

    spec = _spec(write_spec, channel, GPU)
    assert envlock("solve", "-s", str(spec)).code == 0
    for key, value in NODE.items():
        monkeypatch.setenv(key, value)
    gather = apply.gather_artifacts

    def gather_then_swap(*args: object, **kwargs: object) -> tuple[object, ...]:
        files = gather(*args, **kwargs)  # type: ignore[arg-type]
        for f in files:
            if f.artifact.filename.startswith("libenvlockdemo-"):
                forged = f.path.with_name(f.path.name + ".forged")
                forged.write_bytes(f.path.read_bytes()[:-10] + b"0123456789")
                forged.replace(f.path)  # a rename, as another member of the group may do
        return files

    monkeypatch.setattr(apply, "gather_artifacts", gather_then_swap)
    store = tmp_path / "store"
    run = envlock("install", "-l", str(spec.with_name("envlock.lock")), "--store", str(store))
    assert run.code == 1, run.out + run.err
    assert "libenvlockdemo" in run.err and "changed after it was verified" in run.err
    envs = store / "v1" / "envs"
    assert not envs.exists() or not any(envs.iterdir())


def test_files_that_name_their_prefix_name_the_published_one(
    envlock: Envlock, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """rattler writes the prefix it installs into (a scratch folder) into files with a prefix
    placeholder; the published prefix's files name the published path, text and binary alike."""
    ph = conda_fixtures.PREFIX_PLACEHOLDER
    script = f"#!{ph}/bin/python\nprint('from {ph}/share')\n".encode()
    binary = b"\x7fELF\0" + f"{ph}/lib/plugins".encode() + b"\0" + b"tail\0"
    recipe = conda_fixtures.CondaRecipe(
        name="prefixdemo",
        version="1.0",
        files={"bin/prefixdemo": script, "lib/prefixdemo.so": binary},
        executable={"bin/prefixdemo"},
        placeholders={"bin/prefixdemo": "text", "lib/prefixdemo.so": "binary"},
    )
    (tmp_path / "recipes").mkdir()
    recipes = [*conda_fixtures.standard_recipes(tmp_path / "recipes"), recipe]
    channel = conda_fixtures.build_channel(tmp_path / "channel", recipes)
    spec = _spec(write_spec, channel, GPU, conda_deps=("python 3.11.*", "prefixdemo"), deps=())
    assert envlock("solve", "-s", str(spec)).code == 0
    lock, store = str(spec.with_name("envlock.lock")), tmp_path / "store"
    run = run_envlock(["install", "-l", lock, "--json"], store=store, env=NODE)
    assert run.returncode == 0, run.stderr
    prefix = Path(json.loads(run.stdout)["path"])
    text = (prefix / "bin" / "prefixdemo").read_text()
    # (rattler writes a shebang longer than the kernel takes as a /bin/sh line that execs python)
    assert f"{prefix}/bin/python" in text and f"print('from {prefix}/share')" in text
    data = (prefix / "lib" / "prefixdemo.so").read_bytes()
    assert len(data) == len(binary)  # padded in place, as conda does
    assert data.startswith(b"\x7fELF\0" + f"{prefix}/lib/plugins".encode() + b"\0")
    assert data.endswith(b"\0tail\0")
    assert b"scratch" not in data and "scratch" not in text
    verified = run_envlock(["verify", "-l", lock], store=store, env=NODE)
    assert verified.returncode == 0, verified.stdout + verified.stderr
