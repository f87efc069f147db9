"""The store on a local or shared filesystem: lookups, and builds that publish with one rename."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from envlock.errors import StoreError
from envlock.store.errors import store_error
from envlock.store.layout import ENV_RECORD, StoreLayout, hostname, new_token
from envlock.store.lease import LeaseHolder, LeaseInfo, acquire_lease
from envlock.store.modes import remove_tree, seal_root
from envlock.store.trust import (
    Trust,
    check_directories,
    check_private,
    current_uid,
    entry_problem,
    private_name,
)

ENV_BUILD_PAUSE = "ENVLOCK_TEST_BUILD_PAUSE"  # tests: seconds to sleep between building and publishing
_OWNER = "owner.json"  # in a scratch directory: who builds there (see Lease.write_owner)
_MAX_ATTEMPTS = 5  # builds of one environment by this process when its lease keeps being taken over


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildOutcome:
    """Where the environment is, and whether this process built it (False: found or lost the race)."""

    path: Path
    built: bool


def _rmtree(path: Path) -> None:
    remove_tree(path)  # a failed build may have sealed part of its tree read-only


def _pause_for_tests() -> None:
    text = os.environ.get(ENV_BUILD_PAUSE)
    if text:
        time.sleep(float(text))


def is_published(env_dir: Path) -> bool:
    """An environment counts once its record exists (the record is written before publishing)."""
    return (env_dir / ENV_RECORD).is_file()


def _check_published_own(final: Path) -> None:
    """StoreError unless the directory this build just renamed to `final` is this user's: a member of
    the group who put their own tree in place of this build's scratch directory would be found here."""
    try:
        owner = final.lstat().st_uid
    except OSError as exc:
        raise store_error(exc, final, "check the published environment") from exc
    if owner != current_uid():
        raise StoreError(
            f"store: {final} was published from this build's scratch directory but belongs to uid {owner}: "
            "someone put another tree in its place while it was built",
            hint="do not run it; tell the store's admin, or use a store of your own "
            "(--store / ENVLOCK_STORE)",
            details={"path": str(final), "owner": owner},
        )


def _lease_info(name: str, info: LeaseInfo) -> dict[str, object]:
    return {"env": name, **(info() if callable(info) else info)}


def usable_env_name(layout: StoreLayout, name: str) -> tuple[str, str | None]:
    """The store name of environment `name` that this user uses, and why not the shared one (None
    when it is the shared one): in a store others may write, `envs/<name>` held by a user this user
    does not trust (or loosened so that others may write it) is left alone for this user's private
    `envs/<name>-u<uid>` (`store/trust.py`). Raises StoreError when the directories on the way, or the
    private name, are in untrusted hands."""
    trust = Trust.of(layout.root)
    check_directories(trust, layout.base, layout.envs)
    shared = layout.env_path(name)
    why = entry_problem(shared, trust, marker=ENV_RECORD)
    if why in (None, "missing", "incomplete"):
        return name, None
    private = layout.env_path(private_name(name))
    check_private(private, shared=shared, why=why)
    return private.name, f"{shared} is {why}"


class LocalStore:
    """A store rooted at `layout.root`, shared safely between processes and nodes."""

    def __init__(self, layout: StoreLayout, *, stale_seconds: float) -> None:
        self.layout = layout
        self.stale_seconds = stale_seconds

    def lookup(self, name: str) -> Path | None:
        path = self.layout.env_path(name)
        return path if is_published(path) else None

    def build(
        self,
        name: str,
        *,
        info: LeaseInfo,
        build: Callable[[Path, Path], None],
        after_publish: Callable[[Path], None] | None = None,
        on_wait: Callable[[LeaseHolder | None], None] | None = None,
    ) -> BuildOutcome:
        """Build environment `name` unless someone has, or does while we wait for their lease.

        `build(dir, final)` fills a scratch directory; it is published to `final`, `envs/<name>`, by one
        rename (a conda prefix writes `final` into files that name their prefix), or to
        this user's private `envs/<name>-u<uid>` when someone this user does not trust holds that
        (`usable_env_name`; checked again when someone else publishes while this process waits).
        `after_publish(path)` runs while the lease is still held (to register roots before a GC can
        see an unrooted environment). The lease file carries `info` (which artifacts are in use; a
        callable is called only by the process that takes the lease).
        """
        self.layout.ensure()
        # builds happen in scratch/: nobody this user does not trust may rename what is in it
        check_directories(Trust.of(self.layout.root), self.layout.base, self.layout.scratch)
        shared = name
        name, _why = usable_env_name(self.layout, shared)
        for _attempt in range(_MAX_ATTEMPTS):
            final = self.layout.env_path(name)
            lease = acquire_lease(
                self.layout.lease_path(name),
                info=functools.partial(_lease_info, name, info),
                stale_seconds=self.stale_seconds,
                done=functools.partial(self._done, name, final, private=name != shared),
                on_wait=on_wait,
            )
            if lease is None:
                settled = self._settle(shared, name)
                if settled != name:
                    name = settled  # published, or being built, by someone this user does not trust
                    continue
                if not is_published(final):
                    continue  # removed again since (by the user who made it): build it
                if after_publish is not None:
                    after_publish(final)
                return BuildOutcome(path=final, built=False)
            with lease:
                self._clean_scratch(name, keep=lease.token)
                scratch = self.layout.scratch / f"{name}.{lease.token}"
                # Made under a hidden name with its owner file inside, then renamed: a scratch
                # directory is never visible without its owner, so a builder killed at any moment
                # leaves one the next holder can tell is dead (`_clean_scratch`).
                hidden = self.layout.scratch / f".{name}.{lease.token}"
                try:
                    # Only this user may enter it while the build runs: `scratch/` is the group's,
                    # and a member who could write in here could change the tree before it is sealed.
                    hidden.mkdir(mode=0o700)
                    with contextlib.suppress(OSError):
                        lease.write_owner(hidden / _OWNER)
                    hidden.rename(scratch)
                except OSError as exc:
                    raise store_error(exc, scratch, "create a scratch directory") from exc
                lease.keep_fresh(scratch)
                try:
                    env_dir = scratch / "env"
                    build(env_dir, final)
                    _pause_for_tests()
                    if not lease.still_held():
                        continue  # taken over while we built: the new holder publishes; wait for it
                    built = self._publish(env_dir, final)
                    if built:
                        _check_published_own(final)
                        self._log(name)
                    else:
                        settled = self._settle(shared, name)
                        if settled != name:
                            name = settled  # the rename was lost to someone this user does not trust
                            continue
                    if after_publish is not None:
                        after_publish(final)
                    return BuildOutcome(path=final, built=built)
                finally:
                    _rmtree(scratch)
        raise StoreError(
            f"{self.layout.lease_path(name)}: the build lease of {name} was taken over {_MAX_ATTEMPTS} "
            "times while this process built it, so it never published",
            hint="the lease heartbeat cannot keep up on this filesystem: raise ENVLOCK_LEASE_STALE_SECONDS",
        )

    def _done(self, name: str, final: Path, *, private: bool) -> bool:
        """Whether to stop waiting for the lease of `name`: the environment is published, or the
        lease is held by a user whose build this user would not use anyway (`_settle` says which)."""
        return is_published(final) or self._lease_refused(name, private=private) is not None

    def _lease_refused(self, name: str, *, private: bool) -> str | None:
        """Who holds the lease of `name`, in words, when this user does not trust that build (for this
        user's `private` copy: anyone else's); None when nobody does or this user trusts the holder."""
        try:
            st = self.layout.lease_path(name).lstat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o022:
            # no lease envlock makes: a link to some other file (whose owner may be trusted) that
            # others may write, and so keep fresh for ever (one nobody else may write goes stale;
            # a takeover links the lease for a moment, so the link count says nothing)
            return f"a file of uid {st.st_uid} that is no build lease (writable by others)"
        mine = st.st_uid == current_uid()
        if mine if private else Trust.of(self.layout.root).trusts(st.st_uid):
            return None
        return f"uid {st.st_uid}"

    def _settle(self, shared: str, name: str) -> str:
        """`name` when the environment someone else published there (while this process waited or
        built) may be used, else the private name to build instead: also when a user this user does
        not trust holds the lease of the shared name (what they publish would not be used, and they
        could keep it forever). StoreError when `name` is this user's private name already and
        someone else published it or holds its lease."""
        if name == shared:
            holder = self._lease_refused(shared, private=False)
            if holder is not None and not is_published(self.layout.env_path(shared)):
                private = self.layout.env_path(private_name(shared))
                check_private(private, shared=self.layout.env_path(shared), why=f"being built by {holder}")
                return private.name
            return usable_env_name(self.layout, shared)[0]
        path = self.layout.env_path(name)
        holder = self._lease_refused(name, private=True)
        if holder is not None:
            lease = self.layout.lease_path(name)
            raise StoreError(
                f"store: the build lease of your own copy, {lease}, is held by {holder}, not by you",
                hint="ask the store's admin to remove it, or use a store of your own "
                "(--store / ENVLOCK_STORE)",
                details={"path": str(lease)},
            )
        why = entry_problem(path, Trust.of(self.layout.root), marker=ENV_RECORD)
        if why not in (None, "missing"):
            raise StoreError(
                f"store: {path}, the name envlock keeps for your own copy, appeared while this install "
                f"ran and is {why}",
                hint="use a store of your own (--store / ENVLOCK_STORE) and tell the store's admin",
                details={"path": str(path)},
            )
        return name

    def _publish(self, env_dir: Path, final: Path) -> bool:
        try:
            env_dir.rename(final)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) and is_published(final):
                return False  # another builder won the rename: use theirs
            raise store_error(exc, final, "publish the environment") from exc
        try:
            seal_root(final)  # its contents are read-only already; a directory moves only while writable
        except OSError as exc:
            raise store_error(exc, final, "make the published environment read-only") from exc
        return True

    def _clean_scratch(self, name: str, *, keep: str) -> None:
        """Remove what killed builds of `name` left: scratch directories whose builder is known dead
        (its owner file names a process of this host and boot that is gone) or whose builder's
        heartbeat (which touches them, `Lease.keep_fresh`) stopped for the stale time. A builder
        whose lease was taken over while it still ran keeps its scratch (it will not publish)."""
        prefix = f"{name}."
        now = time.time()
        with contextlib.suppress(FileNotFoundError):
            for entry in self.layout.scratch.iterdir():
                if not entry.name.startswith(prefix) or entry.name == prefix + keep:
                    continue
                try:
                    age = now - entry.lstat().st_mtime
                except FileNotFoundError:
                    continue
                owner = LeaseHolder.read(entry / _OWNER)
                if age >= self.stale_seconds or (owner is not None and owner.is_dead_here()):
                    _rmtree(entry)

    def _log(self, name: str) -> None:
        when = time.strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{when} published {name} host={hostname()} pid={os.getpid()}\n"
        with contextlib.suppress(OSError), self.layout.build_log.open("a", encoding="utf-8") as f:
            f.write(line)

    def publish_prefix(self, env_dir: Path, prefix: Path) -> None:
        """Move a built environment to a user's `--prefix`, replacing an older envlock environment there."""
        aside: Path | None = None
        if prefix.exists() or prefix.is_symlink():
            from envlock.store.prefix import prefix_problem

            problem = prefix_problem(prefix)  # again: it may have changed while the build ran
            if problem is not None:
                from envlock.errors import UsageError

                raise UsageError(
                    f"--prefix {prefix}: {problem}; envlock replaces only an environment it made there",
                    hint="choose a new or empty directory; nothing was deleted",
                    details={"prefix": str(prefix)},
                )
            aside = prefix.with_name(f".{prefix.name}.old-{new_token(4)}")
            try:
                prefix.rename(aside)
            except OSError as exc:
                raise store_error(exc, prefix, "replace the environment") from exc
        try:
            env_dir.rename(prefix)
        except OSError as exc:
            if aside is not None:
                with contextlib.suppress(OSError):
                    aside.rename(prefix)
            raise store_error(exc, prefix, "publish the environment") from exc
        with contextlib.suppress(OSError):
            seal_root(prefix)
        if aside is not None:
            _rmtree(aside)
