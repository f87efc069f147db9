"""The lock as frozen values: what `solve` writes and every later command reads.

Each class carries `KEYS`, its one table of model field <-> lock key <-> default, in the order
the file writes them. The writer, the validating reader, the content hash, the shape check and
the JSON form all walk these tables, so a new lock field is the model field plus one row (and a
value in the tests' lock factory). The TOML form is written by `envlock.lock.write` and read by
`envlock.lock.read`; the JSON form and the standard exports live in `envlock.lock.export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from envlock.errors import UsageError

STORE_LAYOUT_VERSION = 1


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # the default of a key every lock has
"""A `Key` default meaning: no default, the key is always written and must be there to read."""

KeyKind = Literal["str", "int", "bool", "strs", "build", "pairs", "record", "records", "source"]
Layout = Literal["inline", "lines", "blocks", "table", "flat"]


@dataclass(frozen=True, slots=True)
class Key:
    """One row of a lock table: the model `field`, its TOML `key`, what kind of value it holds, and
    its `default`. A value equal to its default is left out of the file (so that locks written
    before the field existed keep their bytes and content hash) unless `always`; reading a file
    without the key gives the default. Lists and flags read as empty / false when absent.

    `record`: the class of a "record" (one table) or "records" (a list of tables) value.
    `layout`: "inline" (`key = { ... }`, records one per line in `key = [ ... ]`), "lines" (a list
    of strings one per line), "table" (a `[parent.key]` section), "blocks" (`[[parent.key]]`
    sections), "flat" (the record's keys sit in the parent's table).
    `hashed_empty`: the content hash holds the key even when its list is empty (and left out).
    `hashed`: False for the content hash itself. `unless`: written only when that field is
    unset, and optional to read when that key is there (a package's index beside its source).
    `bulk`: a list the fast package reader takes (the shape check trusts its tables).
    """

    field: str
    key: str
    kind: KeyKind = "str"
    default: Any = REQUIRED
    always: bool = False
    record: Any = None
    layout: Layout = "inline"
    hashed_empty: bool = False
    hashed: bool = True
    unless: str | None = None
    bulk: bool = False

    @property
    def required(self) -> bool:
        """Whether every lock written by `dump_lock` has this key."""
        return self.always or self.default is REQUIRED

    def written(self, record: object, value: object) -> bool:
        """Whether `value`, this field of `record`, appears in the file."""
        if self.unless is not None and getattr(record, self.unless) is not None:
            return False
        return self.always or self.default is REQUIRED or value != self.default


Keys = tuple[Key, ...]


def key_of(record: type, field: str) -> Key:
    """The row of `record`'s key table for `field` (KeyError when it has none)."""
    keys: Keys = record.KEYS  # type: ignore[attr-defined]  # every lock record class carries KEYS
    for key in keys:
        if key.field == field:
            return key
    raise KeyError(f"{record.__name__}.{field}")


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

    KEYS: ClassVar[Keys] = (
        Key("filename", "file"),
        Key("url", "url", default=""),  # a wheel envlock built, or a local file, has no URL
        Key("size", "size", "int"),
        Key("sha256", "sha256"),
        Key("hash_source", "hash-source", default="index"),
        Key("upload_time", "upload-time", default=None),
        Key("yanked", "yanked", "bool", default=False),
    )


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

    # written as one inline table whose first key is the kind: `{ git = "https://...", commit = ... }`
    KEYS: ClassVar[Keys] = (
        Key("commit", "commit", default=None),
        Key("subdirectory", "subdirectory", default=None),
        Key("built", "built", "bool", default=False),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedPackage:
    """One package of a target's resolved set."""

    name: str  # normalized
    version: str  # may carry a local label: "2.5.1+cu124"
    index: str  # the simple-API base URL it came from ("" for a direct reference)
    artifacts: tuple[Artifact, ...]
    source: DirectSource | None = None  # set for a direct reference, which comes from no index

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("version", "version"),
        # A direct reference comes from no index: it has a `source` instead of an `index`.
        Key("index", "index", default="", always=True, unless="source"),
        Key("source", "source", "source", default=None),
        Key("artifacts", "artifacts", "records", record=Artifact, always=True),
    )


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

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("version", "version"),
        Key("build", "build"),
        Key("build_number", "build-number", "int"),
        Key("subdir", "subdir"),
        Key("channel", "channel"),
        Key("noarch", "noarch", default=None),
        Key("depends", "depends", "strs", default=()),
        Key("constrains", "constrains", "strs", default=()),
        Key("md5", "md5", default=None),
        Key("artifact", "artifact", "record", record=Artifact),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A variant that was considered for a target and why it lost."""

    variant: str
    reason: str
    fix: str | None = None

    KEYS: ClassVar[Keys] = (
        Key("variant", "variant"),
        Key("reason", "reason"),
        Key("fix", "fix", default=None),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MixedAllowance:
    """A package of another CUDA major than the rest of its target's set, let through on purpose."""

    name: str
    version: str
    cuda_major: int
    # "envlock": known to carry its own major or to be CUDA-agnostic; "spec": named in [cuda] allow-mixed
    by: str

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("version", "version"),
        Key("cuda_major", "cuda-major", "int"),
        Key("by", "by"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldComponent:
    """A CUDA component the solve held to the variant's CUDA minor (so that the set stays native), and why."""

    name: str  # "nvidia-nvjitlink-cu12"
    version: str  # the specifier it was held to: "12.1.*"
    reason: str

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("version", "version"),
        Key("reason", "reason"),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LockedInterpreter:
    """The exact interpreter build a target runs on: a python-build-standalone archive (the builds
    uv installs), pinned like any artifact by URL, size and sha256."""

    implementation: str  # "cpython"
    version: str  # "3.11.14"
    artifact: Artifact  # the `install_only` archive

    KEYS: ClassVar[Keys] = (
        Key("implementation", "implementation"),
        Key("version", "version"),
        Key("artifact", "artifact", "record", record=Artifact, layout="flat"),
    )


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

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("platform", "platform"),
        Key("glibc", "glibc"),
        Key("python", "python"),
        Key("gpus", "gpus", "strs", default=(), always=True),
        Key("driver", "driver", default=None),
        Key("variant", "variant"),
        Key("torch", "torch", default=None),
        Key("cuda", "cuda", default=None),
        Key("cudnn", "cudnn", default=None),
        Key("nccl", "nccl", default=None),
        Key("requires_driver", "requires-driver", default=None),
        Key("requires_driver_from", "requires-driver-from", default=None),
        Key("compat", "compat", default=None),
        Key("kb_status", "knowledge-base-row"),
        Key("archs_source", "archs-source", default=None),
        Key("torch_sass", "torch-sass", "strs", default=()),
        Key("torch_ptx", "torch-ptx", "strs", default=()),
        Key("env_hash", "env-hash"),
        Key("toolkit_source", "toolkit-source", default=None),
        Key("toolkit_release", "toolkit-release", default=None),
        Key("held", "held", "records", record=HeldComponent, default=()),
        Key("interpreter", "interpreter", "record", record=LockedInterpreter, default=None),
        Key("rejected", "rejected", "records", record=Rejection, default=(), hashed_empty=True),
        Key("allowed_mixed", "allowed-mixed", "records", record=MixedAllowance, default=()),
        Key(
            "packages",
            "packages",
            "records",
            record=LockedPackage,
            default=(),
            layout="blocks",
            hashed_empty=True,
            bulk=True,
        ),
        Key("toolkit", "toolkit", "records", record=LockedPackage, default=(), layout="blocks"),
        Key("conda", "conda", "records", record=CondaPackage, default=(), layout="blocks"),
    )

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

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("platform", "platform"),
        Key("glibc", "glibc"),
        Key("gpus", "gpus", "strs", default=(), always=True),
        Key("driver", "driver", default=None),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageInputs:
    """The spec's `[image]` table as the lock records it (what `envlock image` uses by default)."""

    base: str | None = None
    user: str | None = None
    workdir: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # sorted by name
    entrypoint: tuple[str, ...] | None = None
    labels: tuple[tuple[str, str], ...] = ()  # sorted by name

    KEYS: ClassVar[Keys] = (
        Key("base", "base", default=None),
        Key("user", "user", default=None),
        Key("workdir", "workdir", default=None),
        Key("entrypoint", "entrypoint", "strs", default=None),
        Key("env", "env", "pairs", default=(), always=True),
        Key("labels", "labels", "pairs", default=(), always=True),
    )


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

    KEYS: ClassVar[Keys] = (
        Key("name", "name"),
        Key("python", "python"),
        Key("dependencies", "dependencies", "strs", default=(), always=True, layout="lines"),
        Key("cuda_version", "cuda-version", default=None),
        Key("cudnn", "cudnn", default=None),
        Key("nccl", "nccl", default=None),
        Key("driver_compat", "driver-compat"),
        Key("allow_ptx", "allow-ptx", "bool", default=False, always=True),
        Key("default_index", "default-index"),
        Key("pytorch_index", "pytorch-index", default=None),
        Key("extra_indexes", "extra-indexes", "strs", default=(), always=True),
        Key("exclude_newer", "exclude-newer", default=None),
        Key("knowledge_base", "knowledge-base"),
        Key("build", "build", "build", default="never"),
        Key("uniform", "uniform", "bool", default=False),
        Key("trust_inferred_archs", "trust-inferred-archs", "bool", default=False),
        Key("toolkit", "toolkit", "strs", default=()),
        Key("toolkit_source", "toolkit-source", default=None),
        Key("nvidia_redist", "nvidia-redist", default=None),
        Key("conda_channels", "conda-channels", "strs", default=()),
        Key("conda_dependencies", "conda-dependencies", "strs", default=()),
        Key("interpreter", "interpreter", default=INTERPRETER_SYSTEM),
        Key("allow_mixed", "allow-mixed", "strs", default=()),
        Key("image", "image", "record", record=ImageInputs, default=None, layout="table"),
        Key(
            "targets",
            "targets",
            "records",
            record=TargetInputs,
            default=(),
            layout="blocks",
            hashed_empty=True,
        ),
    )


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

    KEYS: ClassVar[Keys] = (
        Key("lock_version", "lock-version", "int"),
        Key("envlock_version", "envlock-version"),
        Key("uv_version", "uv-version"),
        Key("spec_hash", "spec-hash"),
        Key("content_hash", "content-hash", hashed=False),
        Key("inputs", "inputs", "record", record=LockInputs, layout="table"),
        Key(
            "targets",
            "targets",
            "records",
            record=LockedTarget,
            default=(),
            layout="blocks",
            hashed_empty=True,
        ),
    )

    def target(self, name: str) -> LockedTarget | None:
        for t in self.targets:
            if t.name == name:
                return t
        return None

    def require_target(
        self, name: str, *, source: str, hint: str = "pass one of those names to --target"
    ) -> LockedTarget:
        """The target called `name`; UsageError (exit 2) naming the lock's targets when it has none
        of that name. `source` names the lock in the message; `hint` says what to pass instead."""
        target = self.target(name)
        if target is None:
            names = [t.name for t in self.targets]
            raise UsageError(
                f"{source} has no target {name!r}; its targets are: {', '.join(names) or 'none'}",
                hint=hint,
                details={"targets": names},
            )
        return target
