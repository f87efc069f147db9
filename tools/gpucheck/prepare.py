"""Prepare the offline GPU check of envlock's conda-prefix path (tools/gpucheck/README.md).

Run from the repository root on a machine with nvcc, py-rattler, pip and network access:

    python3 tools/gpucheck/prepare.py [OUT]          (OUT defaults to .devcarry/gpucheck, ignored by git)

It writes, under OUT:
  work/channel/   a local conda channel (fixtures.conda): this machine's python 3.11 and `libgpukernels`,
                  an nvcc-built sm_90 library with an activation script (etc/conda/activate.d/)
  work/index/     a file:// PEP 503 index holding the wheel `gpudemo` (ctypes -> libgpukernels.gpu_sum)
  work/proj/      envlock.toml ([conda] part, PyPI part, one H200 / driver 580 target) and its envlock.lock
  carry/bundle/   `envlock fetch` of that lock: what the GPU node installs with `install --offline --bundle`
  carry/wheels/   Python 3.12 linux x86_64 wheels of envlock (HEAD) and its runtime dependencies
  carry/device.sh the script to run on the GPU node (a copy of tools/gpucheck/device.sh)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOL = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from fixtures import conda as conda_fixtures  # noqa: E402  # after the repository root is on the path
from fixtures.wheels import build_wheel  # noqa: E402  # likewise

GPUDEMO = '''"""gpudemo: runs libgpukernels' sum kernel (from the conda part) through ctypes."""
import ctypes
import os
import sys


def main(n=1_000_000):
    prefix = os.environ.get("CONDA_PREFIX") or sys.prefix
    lib = ctypes.CDLL(os.path.join(prefix, "lib", "libgpukernels.so"))
    lib.gpu_error.restype = ctypes.c_char_p
    name = ctypes.create_string_buffer(256)
    major, minor = ctypes.c_int(), ctypes.c_int()
    rc = lib.gpu_name(name, 256, ctypes.byref(major), ctypes.byref(minor))
    if rc:
        raise SystemExit(f"gpudemo: cudaGetDeviceProperties failed: {lib.gpu_error(rc).decode()}")
    data = (ctypes.c_longlong * n)(*range(1, n + 1))
    out = ctypes.c_longlong()
    rc = lib.gpu_sum(data, n, ctypes.byref(out))
    if rc:
        raise SystemExit(f"gpudemo: kernel failed: {lib.gpu_error(rc).decode()}")
    expected = n * (n + 1) // 2
    print(f"gpu sum {out.value} (expected {expected}, {'ok' if out.value == expected else 'WRONG'}) "
          f"on {name.value.decode()} sm_{major.value}{minor.value}")
    return 0 if out.value == expected else 1
'''
# envlock's runtime dependencies with the conda extra, as pyproject.toml declares them
REQUIREMENTS = [
    "packaging>=24.2",
    "httpx>=0.27,<1",
    "uv>=0.13.0,<0.14",
    "tomlkit>=0.12",
    "pip-tools>=7.4,<8",
    "tomli>=2.2",
    "py-rattler>=0.28,<0.29",
]
PLATFORMS = [
    "manylinux_2_34_x86_64",
    "manylinux_2_31_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]


def run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    sys.stdout.write(f"+ {' '.join(argv)}\n")
    sys.stdout.flush()
    subprocess.run(argv, check=True, cwd=cwd, env=env)


def conda_channel(work: Path) -> Path:
    library = work / "build" / "libgpukernels.so"
    library.parent.mkdir(parents=True)
    run("nvcc", "-arch=sm_90", "-shared", "-Xcompiler", "-fPIC", "-cudart", "static",
        "-o", str(library), str(TOOL / "gpukernels.cu"))  # fmt: skip
    gpukernels = conda_fixtures.CondaRecipe(
        name="libgpukernels",
        version="1.0.0",
        files={
            "lib/libgpukernels.so": library.read_bytes(),
            "etc/conda/activate.d/libgpukernels.sh": b'export GPUKERNELS_HOME="$CONDA_PREFIX"\n',
        },
        executable={"lib/libgpukernels.so"},
    )
    return conda_fixtures.build_channel(work / "channel", [conda_fixtures.debian_python_recipe(), gpukernels])


def pypi_index(work: Path) -> Path:
    simple = work / "index" / "simple"
    wheel = build_wheel(
        simple / "gpudemo",
        "gpudemo",
        "1.0.0",
        "py3-none-any",
        files={"gpudemo/__init__.py": GPUDEMO.encode()},
    )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    link = f'<a href="{wheel.name}#sha256={digest}">{wheel.name}</a>'
    (simple / "gpudemo" / "index.html").write_text(f"<!DOCTYPE html><html><body>{link}</body></html>\n")
    (simple / "index.html").write_text(
        '<!DOCTYPE html><html><body><a href="gpudemo/">gpudemo</a></body></html>\n'
    )
    return simple


def solve_and_fetch(work: Path, channel: Path, simple: Path, bundle: Path) -> None:
    proj = work / "proj"
    proj.mkdir()
    (proj / "envlock.toml").write_text(
        '[env]\nname = "gpucheck"\npython = "3.11"\ndependencies = ["gpudemo"]\n\n'
        '[[target]]\nname = "h200"\nplatform = "linux-x86_64"\ngpus = ["H200"]\ndriver = "580.65.06"\n\n'
        f'[indexes]\ndefault = "{simple.as_uri()}"\npytorch = false\n\n'
        f'[conda]\nchannels = ["{channel.as_uri()}"]\ndependencies = ["python 3.11.*", "libgpukernels"]\n'
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), ENVLOCK_STORE=str(work / "store"))
    env["XDG_CACHE_HOME"] = str(work / "cache")
    run(sys.executable, "-m", "envlock", "solve", cwd=proj, env=env)
    run(sys.executable, "-m", "envlock", "fetch", "-o", str(bundle), cwd=proj, env=env)


def wheels(work: Path, out: Path) -> None:
    source = work / "src"  # the committed tree, so that no build output lands in the checkout
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(source))
    run(sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--python-version", "3.12",
        "--implementation", "cp", *(f"--platform={p}" for p in PLATFORMS), "-d", str(out),
        *REQUIREMENTS)  # fmt: skip


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / ".devcarry" / "gpucheck"
    why = conda_fixtures.usable()
    if why is not None:
        sys.stderr.write(f"prepare: cannot build the conda channel: {why}\n")
        return 1
    shutil.rmtree(out, ignore_errors=True)
    work, carry = out / "work", out / "carry"
    work.mkdir(parents=True)
    carry.mkdir()
    solve_and_fetch(work, conda_channel(work), pypi_index(work), carry / "bundle")
    wheels(work, carry / "wheels")
    shutil.copy(TOOL / "device.sh", carry / "device.sh")
    size = sum(p.stat().st_size for p in carry.rglob("*") if p.is_file())
    sys.stdout.write(f"{carry}: {size / 2**20:.1f} MiB to take to the GPU node\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
