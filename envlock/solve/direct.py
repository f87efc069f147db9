"""Direct references (PEP 508 `name @ url`): each made into one hashed wheel that a lock can pin.

A direct reference names no index, so the lock pins what reproduces it instead: the sha256 of the
wheel, and where it came from (`DirectSource`): a local path, recorded relative to the spec's
directory; an http(s) URL; a git repository and the full commit its revision resolved to.

* A wheel (local or by URL) is hashed as it is.
* An sdist or a source tree (a directory, an archive, a git checkout) must be built into a wheel,
  which `[resolution] build` allows ("allowed", or a list of project names) or forbids ("never",
  the default: a build runs the project's own code, and its result depends on the machine that
  ran it). A built wheel is hashed and recorded with `hash-source = "built"`. Builds run with
  `SOURCE_DATE_EPOCH` fixed, so that backends which honour it give the same bytes again.

Every prepared wheel is kept in envlock's cache by its sha256 (`<cache>/direct-v1/<sha256>/`), where
`install` finds it; a node without that cache gets a local wheel from its path (beside the lock,
which sits beside the spec), a wheel by URL from its URL, and rebuilds a built one, accepting the
result only when it hashes to what the lock recorded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from envlock import processes
from envlock.display import redact_text, redact_url
from envlock.errors import EnvlockError, IntegrityError, NetworkError, ResolutionError
from envlock.index import IndexClient
from envlock.index.auth import Credentials, split_credentials
from envlock.lock.model import Artifact, DirectSource, Lock
from envlock.platforms import Platform
from envlock.spec.model import Spec
from envlock.userfiles import default_cache_root

_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")
# A fixed time for the files of built wheels (1980-01-01, the oldest a zip can hold).
SOURCE_DATE_EPOCH = "315532800"


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectReference:
    """A direct reference of the spec, prepared: the wheel to lock and where it came from."""

    requirement: str  # as the spec wrote it
    name: str  # normalized
    version: str
    source: DirectSource
    artifact: Artifact
    wheel: Path  # the wheel in envlock's cache

    def resolver_requirement(self) -> str:
        """The requirement as the resolver gets it: the same name, extras and markers, at the
        prepared wheel (so the resolver reads its dependencies and builds nothing)."""
        req = Requirement(self.requirement)
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f" ; {req.marker}" if req.marker else ""
        return f"{req.name}{extras} @ {self.wheel.as_uri()}{marker}"


def direct_cache() -> Path:
    """Where prepared wheels of direct references are kept, by sha256."""
    return default_cache_root() / "direct-v1"


def cached_wheel(sha256: str, filename: str) -> Path:
    return direct_cache() / sha256 / filename


def prepare_direct_references(
    spec: Spec,
    *,
    client: IndexClient,
    default_index: str,
    offline: bool,
    previous: Lock | None = None,
) -> tuple[DirectReference, ...]:
    """Every direct reference of `spec`, as a hashed wheel in the cache (see the module docstring).

    A git reference pinned to a full commit that `previous` already locked, with its wheel still in
    the cache, is taken from there: a commit never changes, so it is neither cloned nor built again.
    Raises ResolutionError for a source the build policy forbids or a build that fails,
    NetworkError when a URL or repository cannot be fetched.
    """
    out: list[DirectReference] = []
    base = spec.source.parent.resolve()
    for i, text in enumerate(spec.dependencies):
        req = Requirement(text)
        if req.url is None:
            continue
        known = _locked_commit(req, text, previous)
        if known is not None:
            out.append(known)
            continue
        where = f"env.dependencies[{i}] ({text})"
        source, wheel, hash_source = _materialize(
            req, base, spec, client=client, default_index=default_index, offline=offline
        )
        name = canonicalize_name(req.name)
        try:
            wheel_name, version, _, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            raise ResolutionError(
                f"{where}: {wheel.name} is not a wheel file name",
                hint="point the reference at a wheel, an sdist or a project directory",
            ) from None
        if wheel_name != name:
            raise ResolutionError(
                f"{where}: the file is a wheel of {wheel_name}, not of {name}",
                hint=f"write `{wheel_name} @ ...`, or point at a wheel of {name}",
            )
        if req.marker is None:
            for t in spec.targets:
                if not Platform.of(t.platform, python=spec.python, glibc=t.glibc).accepts(wheel.name):
                    raise ResolutionError(
                        f"{where}: {wheel.name} does not install on target {t.name} "
                        f"({t.platform}, glibc {t.glibc}, Python {spec.python})",
                        hint="provide a wheel for that target, or limit the reference with a marker "
                        '(`; sys_platform == "linux"`)',
                    )
        sha256, size = _hash_file(wheel)
        kept = cached_wheel(sha256, wheel.name)
        if not kept.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
            shutil.copyfile(wheel, tmp)
            tmp.replace(kept)
        if hash_source != "file":  # a temporary download or build
            shutil.rmtree(wheel.parent, ignore_errors=True)
        out.append(
            DirectReference(
                requirement=text,
                name=name,
                version=str(version),
                source=source,
                artifact=Artifact(
                    filename=wheel.name,
                    url=source.location if source.kind == "url" and not source.built else "",
                    size=size,
                    sha256=sha256,
                    hash_source=hash_source,
                ),
                wheel=kept,
            )
        )
    return tuple(out)


def _locked_commit(req: Requirement, text: str, previous: Lock | None) -> DirectReference | None:
    url = req.url or ""
    if previous is None or not url.startswith("git+"):
        return None
    wanted = _git_source(url)
    if wanted.commit is None or not re.fullmatch(r"[0-9a-f]{40}", wanted.commit):
        return None
    name = canonicalize_name(req.name)
    for target in previous.targets:
        p = target.package(name)
        if p is None or p.source != wanted or len(p.artifacts) != 1:
            continue
        wheel = cached_wheel(p.artifacts[0].sha256, p.artifacts[0].filename)
        if wheel.is_file():
            return DirectReference(
                requirement=text,
                name=name,
                version=p.version,
                source=p.source,
                artifact=p.artifacts[0],
                wheel=wheel,
            )
    return None


def rebuild(source: DirectSource, name: str, base: Path) -> Path:
    """Build the wheel of a locked, built direct reference again (for an install that does not find
    it in the cache); the caller checks its hash against the lock. Returns the wheel's path."""
    spec_like = _BuildSettings(default_index=None, offline=False)
    tree, cleanup = _source_tree(source, base, spec_like)
    try:
        return _build(name, tree, spec_like)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


# -- fetching and building -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _BuildSettings:
    default_index: str | None
    offline: bool


def _materialize(
    req: Requirement,
    base: Path,
    spec: Spec,
    *,
    client: IndexClient,
    default_index: str,
    offline: bool,
) -> tuple[DirectSource, Path, str]:
    """The source record, a wheel file, and its hash source ("file", "downloaded", "built")."""
    url = req.url or ""
    name = canonicalize_name(req.name)
    settings = _BuildSettings(default_index=default_index, offline=offline)
    parts = urlsplit(url)
    if url.startswith("git+"):
        source = _git_source(url)
        _require_build_allowed(spec, name, req, "a git repository")
        tree, cleanup = _source_tree(source, base, settings, credentials=split_credentials(url)[1])
        try:
            resolved = _with_commit(source, tree)
            wheel = _build(name, tree, settings)
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
        return resolved, wheel, "built"
    if parts.scheme in ("http", "https"):
        bare = redact_url(url.split("#", 1)[0])
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        is_wheel = filename.endswith(".whl")
        if not is_wheel:
            _require_build_allowed(spec, name, req, "an sdist")
        scratch = Path(tempfile.mkdtemp(prefix="envlock-direct-"))
        dest = scratch / filename
        expected = _fragment_sha256(parts.fragment)
        client.download(url.split("#", 1)[0], dest, expected_sha256=expected)
        source = DirectSource(kind="url", location=bare, built=not is_wheel)
        if is_wheel:
            return source, dest, "downloaded"
        try:
            wheel = _build(name, dest, settings)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return source, wheel, "built"
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path)) if parts.scheme == "file" else Path(url)
        if not path.is_absolute():
            path = base / path
        path = path.resolve()
        location = _relative(path, base)
        if not path.exists():
            raise ResolutionError(
                f"{req.name} @ {url}: {location} does not exist (paths are relative to the spec's directory)",
                hint="build the wheel first, or fix the path",
            )
        if path.is_file() and path.name.endswith(".whl"):
            return DirectSource(kind="path", location=location), path, "file"
        what = "a source tree" if path.is_dir() else "an sdist"
        if path.is_file() and not path.name.endswith(_SDIST_SUFFIXES):
            raise ResolutionError(
                f"{req.name} @ {url}: {location} is neither a wheel, an sdist nor a directory",
                hint="point the reference at a .whl, a .tar.gz sdist or a project directory",
            )
        _require_build_allowed(spec, name, req, what)
        return DirectSource(kind="path", location=location, built=True), _build(name, path, settings), "built"
    raise ResolutionError(
        f"{req.name} @ {url}: envlock cannot lock a {parts.scheme}: reference",
        hint="use a local path, an https:// URL, or git+https://...@<commit>",
    )


def _require_build_allowed(spec: Spec, name: str, req: Requirement, what: str) -> None:
    if spec.may_build(name):
        return
    written = [spec.build] if isinstance(spec.build, str) else spec.build
    policy = ", ".join(f'"{p}"' for p in written)
    if not isinstance(spec.build, str):
        policy = f"[{policy}]"
    raise ResolutionError(
        f"{req.name} @ {req.url} is {what}, which must be built into a wheel, and "
        f"[resolution] build = {policy} does not allow building {name}",
        hint=f'allow it with [resolution] build = ["{name}"] (or "allowed"), or reference a built wheel',
        details={"package": name, "key": "resolution.build"},
    )


def _git_source(url: str) -> DirectSource:
    bare = url.removeprefix("git+")
    bare, _, fragment = bare.partition("#")
    parts = urlsplit(bare)
    path, at, rev = parts.path.rpartition("@")
    if not at:
        path, rev = parts.path, ""
    subdirectory = None
    for item in fragment.split("&"):
        key, _, value = item.partition("=")
        if key == "subdirectory" and value:
            subdirectory = value
    repository = redact_url(urlunsplit(parts._replace(path=path)))
    # `commit` holds the revision as written until `_with_commit` replaces it with the full commit
    return DirectSource(
        kind="git", location=repository, commit=rev or None, subdirectory=subdirectory, built=True
    )


def _with_commit(source: DirectSource, tree: Path) -> DirectSource:
    checkout = tree
    if source.subdirectory:
        checkout = tree.parents[len(Path(source.subdirectory).parts) - 1]
    commit = _git(["rev-parse", "HEAD"], cwd=checkout).strip()
    return DirectSource(
        kind="git", location=source.location, commit=commit, subdirectory=source.subdirectory, built=True
    )


def _source_tree(
    source: DirectSource, base: Path, settings: _BuildSettings, *, credentials: Credentials | None = None
) -> tuple[Path, Path | None]:
    """A directory (or sdist) to build `source` from, and what to delete afterwards. A git
    repository is cloned with `credentials` given to git through its environment, never argv
    (without them, git's own credential helpers and netrc apply)."""
    if source.kind == "path":
        return (base / source.location).resolve(), None
    scratch = Path(tempfile.mkdtemp(prefix="envlock-direct-"))
    if source.kind == "git":
        checkout = scratch / "checkout"
        if settings.offline:
            raise NetworkError(
                f"--offline: cannot clone {source.location}",
                hint="solve with network once; the built wheel is then cached",
            )
        _git(
            ["clone", "--quiet", "--no-checkout", "--", source.location, str(checkout)],
            cwd=scratch,
            credentials=credentials,
        )
        rev = source.commit or "HEAD"
        _git(["checkout", "--quiet", "--detach", rev, "--"], cwd=checkout)
        tree = checkout / source.subdirectory if source.subdirectory else checkout
        return tree, scratch
    raise ResolutionError(
        f"the wheel built from {source.describe()} is not in envlock's cache, and envlock rebuilds "
        "only local paths and git commits",
        hint="install from a bundle made with `envlock fetch` where the lock was solved, or re-solve here",
    )


def _git(args: Sequence[str], *, cwd: Path, credentials: Credentials | None = None) -> str:
    env = dict(os.environ)
    if credentials is not None:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
        env["GIT_CONFIG_COUNT"] = str(count + 1)
        env[f"GIT_CONFIG_KEY_{count}"] = "http.extraHeader"
        env[f"GIT_CONFIG_VALUE_{count}"] = f"Authorization: Basic {token}"
    git = shutil.which("git")
    if git is None:
        raise ResolutionError("a git direct reference needs git, which is not installed", hint="install git")
    proc = processes.run(
        [git, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        message = redact_text(proc.stderr.strip() or proc.stdout.strip())
        raise NetworkError(
            f"git {args[0]} failed: {message}",
            hint="check the repository URL and revision (a branch, tag or commit), then retry",
        )
    return proc.stdout


def _build(name: str, source: Path, settings: _BuildSettings) -> Path:
    """Build `source` (a project directory or an sdist) into a wheel in a new temporary directory."""
    from envlock.resolvers.uv import build_wheel

    out = Path(tempfile.mkdtemp(prefix="envlock-built-"))
    try:
        return build_wheel(
            source,
            out,
            default_index=settings.default_index,
            offline=settings.offline,
            source_date_epoch=SOURCE_DATE_EPOCH,
        )
    except ResolutionError as err:
        shutil.rmtree(out, ignore_errors=True)
        raise _build_failure(name, err) from None


# What build logs say when a project builds against torch or the CUDA toolkit (flash-attn, apex,
# xformers from source): such a build needs them installed in the build environment.
_NEEDS_TORCH = re.compile(r"No module named '?torch'?|import torch|torch\.utils\.cpp_extension")
_NEEDS_NVCC = re.compile(r"nvcc|CUDA_HOME|bare_metal_version|cuda_home", re.IGNORECASE)


def _build_failure(name: str, err: ResolutionError) -> EnvlockError:
    log = err.message
    needs = []
    if _NEEDS_TORCH.search(log):
        needs.append("torch importable while it builds")
    if _NEEDS_NVCC.search(log):
        needs.append("the CUDA compiler nvcc (CUDA_HOME)")
    if needs:
        return ResolutionError(
            f"building {name} from source failed: it needs {' and '.join(needs)}, and envlock builds "
            f"in an isolated build environment that has neither\n{_tail(log)}",
            hint=f"reference a prebuilt wheel of {name} that matches the locked torch and CUDA "
            f"(`{name} @ https://.../<file>.whl`); building it from source needs torch and nvcc of "
            "the locked CUDA in the build environment",
            details={"package": name},
        )
    return ResolutionError(
        f"building {name} into a wheel failed:\n{_tail(log)}",
        hint="fix the project's build (try `uv build --wheel` in it), or reference a built wheel",
        details={"package": name},
    )


def _tail(text: str, lines: int = 25) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("  " + line for line in kept)


def _fragment_sha256(fragment: str) -> str | None:
    for item in fragment.split("&"):
        key, _, value = item.partition("=")
        if key == "sha256" and re.fullmatch(r"[0-9a-f]{64}", value):
            return value
    return None


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def verify_wheel(path: Path, artifact: Artifact) -> None:
    """Raise IntegrityError unless `path` holds exactly the locked bytes of `artifact`."""
    sha256, size = _hash_file(path)
    if sha256 != artifact.sha256:
        raise IntegrityError(
            f"{artifact.filename}: built again, it hashes to {sha256}, but the lock recorded "
            f"{artifact.sha256} (size {artifact.size}, now {size})",
            hint="the project's build is not reproducible; install where the solve ran (its cache "
            "holds the wheel), or reference a built wheel instead of the source",
        )


def local_wheel_changes(lock: Lock, base: Path) -> list[str]:
    """Why a lock is stale although its spec is not: a local wheel it pins (by a path relative to
    `base`, the spec's directory) is gone or holds other bytes. Sources that were built are not
    rebuilt here (`check` stays fast and offline)."""
    reasons: list[str] = []
    seen: set[tuple[str, str]] = set()
    for target in lock.targets:
        for p in target.packages:
            source = p.source
            if source is None or source.kind != "path" or source.built or not p.artifacts:
                continue
            key = (p.name, source.location)
            if key in seen:
                continue
            seen.add(key)
            path = base / source.location
            if not path.is_file():
                reasons.append(f"{p.name}: {source.location} is gone")
            elif _hash_file(path)[0] != p.artifacts[0].sha256:
                reasons.append(f"{p.name}: {source.location} holds other bytes than the lock pins")
    return reasons
