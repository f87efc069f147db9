"""Where the wheel of a direct reference (`name @ url` in the spec) comes from at install time.

In order: envlock's cache of prepared wheels (filled by `solve`, by sha256); a bundle; for a local
wheel, its path, which the lock records relative to the spec's directory and install reads relative
to the lock's directory (the lock's default place is beside the spec); for a wheel by URL, that URL;
for a wheel envlock built, a new build from the recorded source (a path, or a git commit), accepted
only when it hashes to what the lock recorded. The caller verifies every file against the lock.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from envlock.errors import IntegrityError, NetworkError
from envlock.install.sources import ArtifactSource, BundleSource
from envlock.lock.model import Artifact, LockedPackage


class DirectArtifactSource:
    """An `ArtifactSource` for the artifacts of a target's direct references."""

    def __init__(
        self,
        *,
        lock_path: Path,
        packages: Sequence[LockedPackage],
        bundle: BundleSource | None,
        network: Callable[[], ArtifactSource] | None,
    ) -> None:
        self.base = lock_path.absolute().parent
        self.by_sha = {a.sha256: p for p in packages if p.source is not None for a in p.artifacts}
        self.bundle = bundle
        self.network = network
        self.description = "its direct reference"

    def provide(self, artifact: Artifact, dest: Path) -> str | None:
        from envlock.solve.direct import cached_wheel, rebuild, verify_wheel

        cached = cached_wheel(artifact.sha256, artifact.filename)
        if cached.is_file():
            shutil.copyfile(cached, dest)
            return None
        if self.bundle is not None and self.bundle.path_of(artifact).is_file():
            return self.bundle.provide(artifact, dest)
        package = self.by_sha.get(artifact.sha256)
        source = package.source if package is not None else None
        if package is None or source is None:
            raise IntegrityError(f"{artifact.filename} is not a direct reference of this lock")
        if source.kind == "path" and not source.built:
            local = self.base / source.location
            if not local.is_file():
                raise IntegrityError(
                    f"{package.name}: the locked wheel {source.location} is not at {local}",
                    hint="the path is relative to the spec's directory; install with the lock beside "
                    "the spec, or make a bundle with `envlock fetch` where the file is",
                    details={"package": package.name, "file": str(local)},
                )
            shutil.copyfile(local, dest)
            return None
        if self.network is None:
            raise NetworkError(
                f"--offline: {artifact.filename} ({package.name}, {source.describe()}) is not in the "
                "cache or a bundle",
                hint="make a bundle with `envlock fetch -o DIR` where there is network, then "
                "`envlock install --offline --bundle DIR`",
                details={"file": artifact.filename},
            )
        if source.kind == "url" and not source.built:
            return self.network().provide(artifact, dest)
        built = rebuild(source, package.name, self.base)
        try:
            verify_wheel(built, artifact)
            shutil.copyfile(built, dest)
        finally:
            shutil.rmtree(built.parent, ignore_errors=True)
        return None


class RoutedSource:
    """Direct-reference artifacts from a `DirectArtifactSource`, every other one from `other`."""

    def __init__(self, direct: DirectArtifactSource, other: ArtifactSource) -> None:
        self.direct = direct
        self.other = other
        self.description = other.description

    def provide(self, artifact: Artifact, dest: Path) -> str | None:
        if artifact.sha256 in self.direct.by_sha:
            return self.direct.provide(artifact, dest)
        return self.other.provide(artifact, dest)
