"""Index errors that are not transient: the index answered, and the answer is "no such thing"."""

from __future__ import annotations

from envlock.errors import EnvlockError, ExitCode


class ProjectNotFound(EnvlockError):
    """The index has no page for the project (HTTP 404); a retry will not change that."""

    kind = "not-found"
    exit_code = ExitCode.INPUTS


class ArtifactNotFound(ProjectNotFound):
    """The index no longer serves a file (HTTP 404), e.g. one that an old lock pins."""
