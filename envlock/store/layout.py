"""Where things live in a store: the versioned directory layout and how env paths are named.

    <root>/v1/envs/<32 hex of env hash>-<env>-<target>/   published environments (immutable)
    <root>/v1/artifacts/sha256/<hex>/<filename>           downloaded files, by content
    <root>/v1/roots/                                      GC roots (symlinks to environments)
    <root>/v1/scratch/                                    builds in progress, same filesystem
    <root>/v1/leases/                                     build leases (one file per env being built)
    <root>/v1/builds.log                                  one line per published environment
    <root>/v1/python/                                     unpacked locked interpreters (store/interpreters.py)
    <root>/v1/oci/                                        the image cache (image/build.py)

The root is `--store`, else `$ENVLOCK_STORE`, else `$XDG_DATA_HOME/envlock/store`, else
`~/.local/share/envlock/store`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envlock.lock.model import STORE_LAYOUT_VERSION

ENV_STORE = "ENVLOCK_STORE"
ENV_RECORD = "envlock-env.json"  # the file inside every environment that says what it is


def default_store_root(environ: Mapping[str, str] | None = None) -> Path:
    """The store root when `--store` is not given (see the module docstring)."""
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_STORE)
    if explicit:
        return Path(explicit).expanduser()
    data_home = env.get("XDG_DATA_HOME")
    base = Path(data_home).expanduser() if data_home else Path("~/.local/share").expanduser()
    return base / "envlock" / "store"


def new_token(nbytes: int = 16) -> str:
    """A random hex name part (scratch files, lease tokens); `uuid` is not imported for it because
    it pulls in `platform`, and every process that waits on a lease would pay for that."""
    return os.urandom(nbytes).hex()


def hostname() -> str:
    """This node's name as leases and the build log record it (what `gethostname()` returns)."""
    return os.uname().nodename


def env_dir_name(*, env_hash: str, env_name: str, target: str) -> str:
    """`<first 32 hex of the env hash>-<env name>-<target name>`."""
    hex_digest = env_hash.split(":", 1)[-1]
    return f"{hex_digest[:32]}-{env_name}-{target}"


def _one_component(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"not a store path name: {name!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreLayout:
    """The paths of one store; creating them is `ensure()`, everything else is pure."""

    root: Path

    @property
    def base(self) -> Path:
        return self.root / f"v{STORE_LAYOUT_VERSION}"

    @property
    def envs(self) -> Path:
        return self.base / "envs"

    @property
    def artifacts(self) -> Path:
        return self.base / "artifacts" / "sha256"

    @property
    def roots(self) -> Path:
        return self.base / "roots"

    @property
    def scratch(self) -> Path:
        return self.base / "scratch"

    @property
    def leases(self) -> Path:
        return self.base / "leases"

    @property
    def pythons(self) -> Path:
        return self.base / "python"

    @property
    def oci(self) -> Path:
        return self.base / "oci"

    @property
    def build_log(self) -> Path:
        return self.base / "builds.log"

    def env_path(self, name: str) -> Path:
        _one_component(name)
        return self.envs / name

    def artifact_path(self, sha256: str, filename: str) -> Path:
        # The lock reader already refused anything else; this is the last line before a path.
        from envlock.lock.validate import is_file_name, is_sha256

        if not (is_sha256(sha256) and is_file_name(filename)):
            raise ValueError(f"not a store artifact: sha256 {sha256!r}, file {filename!r}")
        return self.artifacts / sha256 / filename

    def lease_path(self, key: str) -> Path:
        return self.leases / f"{key}.lease"

    def ensure(self) -> None:
        """Create the layout's directories; raises StoreError naming the path when it cannot."""
        from envlock.store.errors import store_error

        made = (self.envs, self.artifacts, self.roots, self.scratch, self.leases, self.pythons, self.oci)
        for path in made:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise store_error(exc, path, "create the store directory") from exc
        self._protect_envs()

    def _protect_envs(self) -> None:
        """In a store others may write (a group store), `envs/`, `roots/`, `python/`, `oci/` and
        `scratch/` get the sticky bit, so that no user can rename or remove another user's published
        environment, unpacked interpreter, image cache entry or build in progress (and put another in
        its place) or another user's GC roots; so does `v1/`, so that nobody moves those directories
        themselves aside. Only a directory's owner may set the bit, and the owner of a directory can
        still rename what is in it: so `store/trust.py` runs nothing from a directory whose owner
        this user does not trust."""
        import contextlib
        import stat

        for path in (self.base, self.envs, self.roots, self.pythons, self.oci, self.scratch):
            with contextlib.suppress(OSError):  # only the directory's owner may set it
                mode = path.stat().st_mode
                if mode & 0o022 and not mode & stat.S_ISVTX:
                    path.chmod(stat.S_IMODE(mode) | stat.S_ISVTX)
