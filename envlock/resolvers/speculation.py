"""Starting the resolutions a solve will ask for before it knows it will (architecture.md §5).

A solve asks uv for its resolutions only after it has read the spec, the knowledge base and the
variant indexes, and imported what that takes: about 0.2 s in which uv could already run. The
requests a solve made are remembered (`<cache>/solve-requests-v1/`), keyed by everything the cli
knows before that work: the spec's and the existing lock's bytes, the options, the environment.
The next solve with the same key starts those requests at once, and `SpeculativeBackend` answers the
solver from them only for a request exactly equal to one started (the dataclass compares every
field): a request that differs is resolved afresh, so a stale guess costs one uv run, never a
different lock. A solve whose requests carry credentials in a URL, or a direct reference (whose
wheel the solve prepares first), is never written down, so never started ahead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path

from envlock import __version__
from envlock.resolvers import Resolution, ResolutionRequest, ResolverBackend
from envlock.userfiles import write_atomic

_LAYOUT = "solve-requests-v1"
MAX_STARTED = 6  # at most this many resolutions started ahead (the solver's own parallelism)
_USERINFO = re.compile(r"://[^/\s@]*@")
# The environment that can change what a solve asks for (indexes, configuration, caches).
_ENV_PREFIXES = ("ENVLOCK_", "PIP_", "UV_", "XDG_", "HOME", "NETRC")


def speculation_key(parts: Iterable[bytes], environ: Mapping[str, str] | None = None) -> str:
    """A digest of `parts` (spec bytes, lock bytes, options), envlock's version and the environment
    that can change a solve's requests."""
    env = os.environ if environ is None else environ
    digest = hashlib.sha256(__version__.encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    for name in sorted(k for k in env if k.startswith(_ENV_PREFIXES)):
        digest.update(f"\0{name}={env[name]}".encode())
    return digest.hexdigest()


def _to_json(request: ResolutionRequest) -> dict[str, object]:
    return {
        "requirements": list(request.requirements),
        "constraints": list(request.constraints),
        "python": request.python,
        "platform": request.platform,
        "glibc": request.glibc,
        "default-index": request.default_index,
        "extra-indexes": list(request.extra_indexes),
        "pinned": [list(p) for p in request.pinned],
        "exclude-newer": request.exclude_newer,
        "preferences": list(request.preferences),
    }


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return value


def _from_json(raw: Mapping[str, object]) -> ResolutionRequest:
    pinned = raw["pinned"]
    if not isinstance(pinned, list):
        raise ValueError("pinned")
    exclude_newer = raw["exclude-newer"]
    for key in ("python", "platform", "glibc", "default-index"):
        if not isinstance(raw[key], str):
            raise ValueError(key)
    return ResolutionRequest(
        requirements=tuple(_strings(raw["requirements"])),
        constraints=tuple(_strings(raw["constraints"])),
        python=str(raw["python"]),
        platform=str(raw["platform"]),
        glibc=str(raw["glibc"]),
        default_index=str(raw["default-index"]),
        extra_indexes=tuple(_strings(raw["extra-indexes"])),
        pinned=tuple((str(a), str(b)) for a, b in (_strings(p) for p in pinned)),
        exclude_newer=exclude_newer if isinstance(exclude_newer, str) else None,
        preferences=tuple(_strings(raw["preferences"])),
    )


def _not_to_remember(request: ResolutionRequest) -> bool:
    """A request with credentials in a URL, or with a direct reference (its file is prepared during
    the solve: a resolution started before that must not read it)."""
    if any(" @ " in r for r in request.requirements):
        return True
    texts = [
        request.default_index,
        *request.extra_indexes,
        *(url for _, url in request.pinned),
        *request.requirements,
        *request.constraints,
    ]
    return any(_USERINFO.search(t) for t in texts)


class SpeculativeBackend:
    """`inner`, answering from resolutions started ahead where a request matches one exactly, and
    remembering every request the solve makes (`save`)."""

    def __init__(self, inner: ResolverBackend, cache_root: Path, key: str) -> None:
        self._inner = inner
        self.name = inner.name
        self.offline = inner.offline
        self._path = cache_root / _LAYOUT / key
        self._started: dict[ResolutionRequest, Future[Resolution]] = {}
        self._asked: list[ResolutionRequest] = []
        self._lock = threading.Lock()

    def version(self) -> str:
        return self._inner.version()

    def start(self) -> int:
        """Start the resolutions the last solve with this key asked for; how many were started."""
        try:
            document = json.loads(self._path.read_bytes())
            requests = [_from_json(raw) for raw in document["requests"]][:MAX_STARTED]
        except (OSError, ValueError, KeyError, TypeError):
            return 0
        for request in dict.fromkeys(requests):
            future: Future[Resolution] = Future()
            self._started[request] = future
            # A daemon thread: an unused guess does not hold the solve's exit (its uv dies with
            # envlock, `envlock.processes`).
            threading.Thread(
                target=self._run, args=(request, future), name="envlock-ahead", daemon=True
            ).start()
        return len(self._started)

    def _run(self, request: ResolutionRequest, future: Future[Resolution]) -> None:
        try:
            future.set_result(self._inner.resolve(request))
        except BaseException as exc:
            future.set_exception(exc)

    def resolve(self, request: ResolutionRequest) -> Resolution:
        with self._lock:
            self._asked.append(request)
            future = self._started.pop(request, None)
        if future is not None:
            return future.result()
        return self._inner.resolve(request)

    def save(self) -> None:
        """Remember this solve's requests for the next one with the same key (see the module
        docstring for those never remembered; a cache that cannot be written is skipped)."""
        asked: Sequence[ResolutionRequest] = list(dict.fromkeys(self._asked))[:MAX_STARTED]
        if asked and not any(_not_to_remember(r) for r in asked):
            document = {"requests": [_to_json(r) for r in asked]}
            with contextlib.suppress(OSError):
                write_atomic(self._path, json.dumps(document, sort_keys=True).encode(), private=True)

    def finish(self) -> None:
        """Wait for any run started ahead that the solve did not use, whether the solve succeeded or
        failed, so that none outlives it with its scratch folder (it began before the solve's own
        runs, so it has mostly ended by now)."""
        with self._lock:
            unused = list(self._started.values())
            self._started.clear()
        for future in unused:
            future.exception()  # waits; its answer (or error) is of no use to this solve
