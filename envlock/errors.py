"""The one tree of envlock errors, grouped by what the user can do about them.

Each group maps once to an exit code of architecture.md §7; only `envlock.cli` turns them into exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ExitCode:
    """Exit codes shared by every command."""

    OK = 0
    INPUTS = 1  # unsatisfiable, stale, node incompatible, integrity failure, differences found
    USAGE = 2  # usage or spec error
    NETWORK = 3  # network or index failure that a retry may cure
    INTERNAL = 4  # a bug in envlock


@dataclass(eq=False)
class EnvlockError(Exception):
    """Base of every error envlock raises on purpose.

    `message` says what happened and where; `hint` says what to do next; `details` carries
    machine-readable context that `--json` prints beside kind and message.
    """

    message: str
    hint: str | None = None
    details: dict[str, object] = field(default_factory=dict)

    kind = "internal"
    exit_code = ExitCode.INTERNAL

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class SpecError(EnvlockError):
    """The spec (or a command-line argument) is malformed; fix the input and rerun."""

    kind = "spec"
    exit_code = ExitCode.USAGE


class UsageError(SpecError):
    """A command was called with arguments that cannot work together."""

    kind = "usage"


class ResolutionError(EnvlockError):
    """The inputs cannot be satisfied (no variant fits, dependencies conflict)."""

    kind = "resolution"
    exit_code = ExitCode.INPUTS


class StaleLockError(EnvlockError):
    """The lock no longer matches its spec, or was edited by hand."""

    kind = "stale"
    exit_code = ExitCode.INPUTS


class LockFormatError(EnvlockError):
    """A file is not an envlock lock, or comes from a newer envlock."""

    kind = "lock"
    exit_code = ExitCode.USAGE


class LockValueError(LockFormatError):
    """A lock holds a value that envlock must not use (a sha256 that is not 64 lowercase hex, an
    unbounded size, a name that could become a path, a URL of another scheme, a duplicate package,
    an env-hash that does not match the packages): the lock is the reason, so exit 1."""

    exit_code = ExitCode.INPUTS


class IncompatibleNodeError(EnvlockError):
    """This node cannot run the lock (driver too old, GPU without kernels, ...)."""

    kind = "node"
    exit_code = ExitCode.INPUTS


class IntegrityError(EnvlockError):
    """An artifact's bytes do not match the hash the lock pins."""

    kind = "integrity"
    exit_code = ExitCode.INPUTS


class NetworkError(EnvlockError):
    """An index or host failed in a way a retry may cure (5xx, timeout, offline cache miss)."""

    kind = "network"
    exit_code = ExitCode.NETWORK


class IndexFormatError(NetworkError):
    """An index answered with something that is not a valid simple-API page."""

    kind = "index"


class IndexCredentialsError(NetworkError):
    """An index refused access (HTTP 401/403): the credentials are the reason, so a retry will not
    cure it (exit 1, not 3). Still a NetworkError, so whoever handles index failures sees it."""

    kind = "credentials"
    exit_code = ExitCode.INPUTS


class StoreError(EnvlockError):
    """The store cannot be used (read-only, full disk, corrupt layout)."""

    kind = "store"
    exit_code = ExitCode.INPUTS


class InternalError(EnvlockError):
    """A bug in envlock; the message asks the user to report it."""

    kind = "internal"
    exit_code = ExitCode.INTERNAL
