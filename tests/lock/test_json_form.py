"""The JSON form of a lock (`show --json`): every lock key reaches it, no URL credential does."""

from __future__ import annotations

from typing import Any

from lockfactory import make_artifact, make_lock, make_package, make_target

from envlock.lock.export.json_form import lock_to_json
from envlock.lock.model import Artifact, DirectSource, LockedInterpreter, LockedPackage

ARCHIVE = "cpython-3.11.14+20251031-x86_64-unknown-linux-gnu-install_only.tar.gz"
CREDENTIALED = "https://ci-bot:s3cret@files.example"


def _target_json(url_base: str = "https://files.example") -> dict[str, Any]:
    redist = "https://developer.download.nvidia.com/compute/cuda/redist"
    component = make_package(
        "cuda_cudart",
        "12.4.127",
        make_artifact("cuda_cudart", "12.4.127", url=f"{url_base}/cudart.tar.xz", hash_source="downloaded"),
        index=f"{redist}/redistrib_12.4.1.json",
    )
    direct = make_package(
        "mylib",
        "1.0",
        make_artifact("mylib", "1.0", url="", hash_source="built"),
        index="",
        source=DirectSource(kind="git", location=f"{url_base}/mylib.git", commit="a" * 40, built=True),
    )
    interpreter = LockedInterpreter(
        implementation="cpython",
        version="3.11.14",
        artifact=Artifact(filename=ARCHIVE, url=f"{url_base}/{ARCHIVE}", size=1, sha256="d" * 64),
    )
    target = make_target(
        packages=(direct, make_package("numpy", "1.26.4")),
        toolkit_source="redist",
        toolkit_release="12.4.1",
        toolkit=(component,),
        interpreter=interpreter,
    )
    document: dict[str, Any] = lock_to_json(make_lock(targets=(target,)))
    shown: dict[str, Any] = document["targets"][0]
    return shown


def test_every_key_of_a_package_a_toolkit_archive_and_the_interpreter_is_shown() -> None:
    """A key added to the lock's tables reaches `show --json` without a change here."""
    target = _target_json()
    artifact = [k.key for k in Artifact.KEYS]
    direct, numpy = target["packages"]
    assert list(numpy) == ["name", "version", "index", "url", "sha256", "size", "artifacts"]
    assert {k.key for k in LockedPackage.KEYS} <= set(direct)
    assert list(numpy["artifacts"][0]) == artifact
    assert list(direct["source"]) == ["kind", "location", *(k.key for k in DirectSource.KEYS)]
    archive = ["url", "file", "size", "sha256", "hash-source", "upload-time", "yanked"]
    assert sorted(archive) == sorted(artifact)
    (component,) = target["toolkit"]["components"]
    assert list(component) == ["name", "version", "manifest", *archive]
    assert component["hash-source"] == "downloaded"
    assert list(target["interpreter"]) == ["implementation", "version", *archive]
    assert target["interpreter"]["file"] == ARCHIVE


def test_no_url_credential_of_the_lock_is_shown() -> None:
    target = _target_json(CREDENTIALED)
    assert "s3cret" not in repr(target) and "ci-bot" not in repr(target)
    assert target["interpreter"]["url"] == f"https://files.example/{ARCHIVE}"
    assert target["toolkit"]["components"][0]["url"] == "https://files.example/cudart.tar.xz"
    assert target["packages"][0]["source"]["location"] == "https://files.example/mylib.git"
