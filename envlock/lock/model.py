"""The lock as frozen values: what `solve` writes and every later command reads.

The lock model is owned here; the TOML form lives in `envlock.lock.toml`, the JSON form in
`envlock.lock.json`, standard exports in `envlock.lock.pylock` / `envlock.lock.requirements`.
"""

from __future__ import annotations

from dataclasses import dataclass

LOCK_VERSION = 1
STORE_LAYOUT_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Artifact:
    """One file of a locked package, pinned by URL, size and sha256."""

    filename: str
    url: str  # never carries credentials
    size: int
    sha256: str
    # "index": the index gave it; "downloaded": envlock hashed the file; "file": a local file of a
    # direct reference, hashed by envlock; "built": a wheel envlock built from a direct reference
    hash_source: str = "index"
    upload_time: str | None = None  # RFC 3339, as the index gave it
    yanked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectSource:
    """Where a direct reference (PEP 508 `name @ url`) points, in the form that reproduces it.

    `kind` "path": `location` is relative to the spec's directory (POSIX separators); "url": an
    http(s) URL without credentials; "git": the repository URL, with `commit` the full commit it
    resolved to. `built`: the locked wheel was built from this source (an sdist or a source tree).
    """

    kind: str  # "path" | "url" | "git"
    location: str
    commit: str | None = None
    subdirectory: str | None = None
    built: bool = False

    def describe(self) -> str:
        """The source as a review reads it: `path wheels/foo.whl`, `git https://...@<commit>`."""
        text = f"{self.kind} {self.location}"
        if self.commit:
            text += f"@{self.commit}"
        if self.subdirectory:
            text += f"#subdirectory={self.subdirectory}"
        return text + (" (built)" if self.built else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedPackage:
    """One package of a target's resolved set."""

    name: str  # normalized
    version: str  # may carry a local label: "2.5.1+cu124"
    index: str  # the simple-API base URL it came from ("" for a direct reference)
    artifacts: tuple[Artifact, ...]
    source: DirectSource | None = None  # set for a direct reference, which comes from no index


@dataclass(frozen=True, slots=True, kw_only=True)
class CondaPackage:
    """One conda package of a target's `[conda]` part, as rattler solved it, pinned by sha256."""

    name: str
    version: str
    build: str
    build_number: int
    subdir: str  # "linux-64", "noarch", ...
    channel: str  # the channel URL
    noarch: str | None = None  # "python" | "generic" | None
    depends: tuple[str, ...] = ()
    constrains: tuple[str, ...] = ()
    artifact: Artifact  # the package file (.conda or .tar.bz2): URL, size, sha256
    md5: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A variant that was considered for a target and why it lost."""

    variant: str
    reason: str
    fix: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MixedAllowance:
    """A package of another CUDA major than the rest of its target's set, let through on purpose."""

    name: str
    version: str
    cuda_major: int
    # "envlock": known to carry its own major or to be CUDA-agnostic; "spec": named in [cuda] allow-mixed
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldComponent:
    """A CUDA component the solve held to the variant's CUDA minor (so that the set stays native), and why."""

    name: str  # "nvidia-nvjitlink-cu12"
    version: str  # the specifier it was held to: "12.1.*"
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedInterpreter:
    """The exact interpreter build a target runs on: a python-build-standalone archive (the builds
    uv installs), pinned like any artifact by URL, size and sha256."""

    implementation: str  # "cpython"
    version: str  # "3.11.14"
    artifact: Artifact  # the `install_only` archive


INTERPRETER_SYSTEM = "system"  # the spec's default: an interpreter of the locked X.Y found on the node
INTERPRETER_STANDALONE = "python-build-standalone"  # the lock pins the exact build
INTERPRETER_CHOICES = (INTERPRETER_SYSTEM, INTERPRETER_STANDALONE)


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedTarget:
    """Everything the lock pins for one target, plus why it chose it."""

    name: str
    platform: str
    glibc: str
    python: str
    gpus: tuple[str, ...]  # "sm_90", sorted
    driver: str | None  # lowest driver declared for the target
    variant: str  # "cu124" | "cpu"
    torch: str | None  # the locked torch version, "2.5.1+cu124"
    cuda: str | None  # CUDA runtime X.Y that the resolved set pins
    cudnn: str | None
    nccl: str | None
    requires_driver: str | None  # driver the locked stack needs natively
    compat: str | None  # "native" | "minor-version" | None (cpu)
    kb_status: str  # status of the knowledge-base row used: confirmed | ... | inferred | user
    env_hash: str  # "sha256:..."
    packages: tuple[LockedPackage, ...]  # sorted by name
    rejected: tuple[Rejection, ...]
    allowed_mixed: tuple[MixedAllowance, ...] = ()  # sorted by name; absent from the file when empty
    # Second wave, all optional so that older locks still read:
    requires_driver_from: str | None = None  # the wheel and version that set requires-driver
    held: tuple[HeldComponent, ...] = ()  # components held to the variant's CUDA minor
    archs_source: str | None = None  # "wheel" (read from the locked torch wheel) | "knowledge-base"
    torch_sass: tuple[str, ...] = ()  # with archs_source "wheel": the SASS the wheel carries ("sm_90")
    torch_ptx: tuple[str, ...] = ()  # and its PTX ("compute_90")
    # The CUDA toolkit of `[cuda] toolkit`: where it came from ("redist" | "index"), the release
    # ("12.4.1"), and for "redist" one entry per component archive (name = manifest key, version =
    # the component's own, index = the manifest's URL), sorted by name.
    toolkit_source: str | None = None
    toolkit_release: str | None = None
    toolkit: tuple[LockedPackage, ...] = ()
    conda: tuple[CondaPackage, ...] = ()  # the [conda] part, sorted by name
    interpreter: LockedInterpreter | None = None  # None: any interpreter of `python` on the node

    def package(self, name: str) -> LockedPackage | None:
        for p in self.packages:
            if p.name == name:
                return p
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetInputs:
    """A target as the spec declared it, normalized, kept so `check` can say what changed."""

    name: str
    platform: str
    glibc: str
    gpus: tuple[str, ...]
    driver: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageInputs:
    """The spec's `[image]` table as the lock records it (what `envlock image` uses by default)."""

    base: str | None = None
    user: str | None = None
    workdir: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # sorted by name
    entrypoint: tuple[str, ...] | None = None
    labels: tuple[tuple[str, str], ...] = ()  # sorted by name


@dataclass(frozen=True, slots=True, kw_only=True)
class LockInputs:
    """The normalized spec that produced the lock."""

    name: str
    python: str
    dependencies: tuple[str, ...]
    cuda_version: str | None
    cudnn: str | None
    nccl: str | None
    driver_compat: str
    allow_ptx: bool
    default_index: str
    pytorch_index: str | None
    extra_indexes: tuple[str, ...]
    exclude_newer: str | None
    targets: tuple[TargetInputs, ...]
    knowledge_base: str  # "sha256:..." of the knowledge base rows used
    build: str | tuple[str, ...] = "never"  # `[resolution] build`: "never", "allowed" or names
    uniform: bool = False
    allow_mixed: tuple[str, ...] = ()  # [cuda] allow-mixed; absent from the file when empty
    trust_inferred_archs: bool = False  # [cuda] trust-inferred-archs; written only when true
    toolkit: tuple[str, ...] = ()  # [cuda] toolkit, as written
    toolkit_source: str | None = None  # [cuda] toolkit-source, recorded only with a toolkit
    nvidia_redist: str | None = None  # [indexes] nvidia-redist, recorded only when given
    conda_channels: tuple[str, ...] = ()  # [conda] channels, recorded only with a [conda] part
    conda_dependencies: tuple[str, ...] = ()  # [conda] dependencies
    interpreter: str = INTERPRETER_SYSTEM  # the spec's [env].interpreter
    image: ImageInputs | None = None  # the spec's [image] table; None (and not written) without one


@dataclass(frozen=True, slots=True, kw_only=True)
class Lock:
    """A whole lockfile."""

    lock_version: int
    envlock_version: str
    uv_version: str
    spec_hash: str
    inputs: LockInputs
    targets: tuple[LockedTarget, ...]
    content_hash: str  # "sha256:..." over the rest of the file, so hand edits are caught

    def target(self, name: str) -> LockedTarget | None:
        for t in self.targets:
            if t.name == name:
                return t
        return None
