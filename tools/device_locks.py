"""Write the small locks the device validation judges (tools/device_validate.sh): one target that fits
an H100/H200 node with torch 2.11.0+cu130, one whose torch build lacks sm_90, and a CPU target.

usage: python tools/device_locks.py OUT_DIR   (writes OUT_DIR/envlock.lock with envlock's own writer)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' lock factory

from lockfactory import make_inputs, make_lock, make_target  # after the path line

from envlock.lock.model import Artifact, Lock, LockedPackage, LockedTarget
from envlock.lock.write import dump_lock

ZERO = "sha256:" + "0" * 64


def _torch(version: str, variant: str, tag: str) -> LockedPackage:
    filename = f"torch-{version}-{tag}.whl"
    return LockedPackage(
        name="torch",
        version=version,
        index=f"https://download.pytorch.org/whl/{variant}",
        artifacts=(
            Artifact(
                filename=filename,
                url=f"https://download.pytorch.org/whl/{variant}/{filename.replace('+', '%2B')}",
                size=1,
                sha256="0" * 64,
            ),
        ),
    )


def _target(name: str, *, torch: str, variant: str, cuda: str | None, driver: str | None,
            gpus: tuple[str, ...], tag: str, python: str) -> LockedTarget:  # fmt: skip
    return make_target(
        name,
        python=python,
        gpus=gpus,
        driver=driver,
        variant=variant,
        torch=torch,
        cuda=cuda,
        cudnn=None,
        nccl=None,
        requires_driver=driver,
        compat="native" if cuda else None,
        env_hash=ZERO,
        packages=(_torch(torch, variant, tag),),
        rejected=(),
    )


def build() -> Lock:
    targets = (
        _target("old-cu117", torch="2.0.1+cu117", variant="cu117", cuda="11.7", driver="515.43.04",
                gpus=("sm_86",), tag="cp311-cp311-linux_x86_64", python="3.11"),
        _target("h100-cu130", torch="2.11.0+cu130", variant="cu130", cuda="13.0", driver="580.65.06",
                gpus=("sm_90",), tag="cp312-cp312-manylinux_2_28_x86_64", python="3.12"),
        _target("cpu", torch="2.11.0+cpu", variant="cpu", cuda=None, driver=None, gpus=(),
                tag="cp312-cp312-manylinux_2_28_x86_64", python="3.12"),
    )  # fmt: skip
    inputs = make_inputs(
        targets, name="device-validation", python="3.12", dependencies=("torch",), knowledge_base=ZERO
    )
    return make_lock(
        targets=targets, inputs=inputs, envlock_version="0.0.0", uv_version="0.13.0", spec_hash=ZERO
    )


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "envlock.lock").write_text(dump_lock(build()))
    sys.stdout.write(f"wrote {out / 'envlock.lock'}\n")
