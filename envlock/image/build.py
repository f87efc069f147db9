"""Build an image (or one layer) of a lock target: plan -> resolve and check the base -> install the
environment into the store -> layers (built once, kept by digest) -> config and manifest -> DEST.

The store holds, beside environments and artifacts:
    v1/oci/blobs/sha256/<hex>     layer blobs, by digest
    v1/oci/layers/<key>.json      layer key (its packages' locked files, prefix, format) -> blob
    v1/oci/bases/<hex>/           registry and oci-archive bases, one OCI layout per base digest
    v1/oci/facts/<hex>.json       what a base holds (platform, Pythons, glibc), by base digest
Blobs and records are written in the store's scratch area and renamed into place, so a killed
build leaves only scratch (which `envlock gc` clears). A build holds a lease (`v1/leases/image-*`)
while it runs, and `envlock gc` removes nothing under `v1/oci/` while one is alive; otherwise gc keeps
a layer while every file it was built from is used by a live environment, and removes base copies.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envlock.errors import IncompatibleNodeError, StoreError, UsageError
from envlock.image import config as cfg
from envlock.image.base import (
    OCI_ARCH,
    Base,
    cached_facts,
    check_fit,
    load_base_from_layout,
    read_facts,
    scratch_base,
)
from envlock.image.layers import (
    BuiltLayer,
    Entry,
    LayerPlan,
    layer_mtime,
    owners,
    plan_layers,
    scan_env,
    write_layer,
)
from envlock.image.layout import (
    CONFIG,
    DOCKER_LIST,
    INDEX,
    LAYER_GZIP,
    MANIFEST,
    Descriptor,
    LayoutWriter,
    blob_path,
    canonical_json,
    copy_blobs,
    digest_of,
    find_manifest,
)
from envlock.image.ref import ImageRef
from envlock.index.registry import PushResult, RegistryAccess
from envlock.install.wheels import choose_artifacts
from envlock.lock.model import Lock, LockedTarget
from envlock.progress import Progress
from envlock.store.layout import StoreLayout, new_token
from envlock.userfiles import write_atomic

if TYPE_CHECKING:
    from envlock.store.lease import Lease
    from envlock.store.trust import Trust

# Docker's layer media types and their OCI names (a base read from a Docker-format source).
_OCI_LAYER_TYPES = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": LAYER_GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRequest:
    lock: Lock
    target: LockedTarget
    store: StoreLayout
    base: ImageRef
    dest: ImageRef | Path  # a Path: the directory of --layer-only
    tag: str | None
    access: RegistryAccess
    user: str = cfg.DEFAULT_USER


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageResult:
    dest: str
    tag: str | None
    manifest_digest: str | None
    config_digest: str | None
    base_reference: str
    base_digest: str
    python: str
    prefix: str
    layers: tuple[BuiltLayer, ...]
    labels: dict[str, str]
    pushed: PushResult | None


def _oci_dir(store: StoreLayout) -> Path:
    return store.base / "oci"


def _scratch(store: StoreLayout, what: str) -> Path:
    store.ensure()
    from envlock.store.trust import Trust, check_directories

    check_directories(Trust.of(store.root), store.base, store.scratch)
    path = store.scratch / f"image-{what}-{new_token(8)}"
    path.mkdir(mode=0o700)  # nobody else may change what is put together here
    return path


def _platform_of(target: LockedTarget) -> tuple[str, str]:
    arch = OCI_ARCH.get(target.platform)
    if arch is None:
        raise IncompatibleNodeError(
            f"target {target.name} is locked for {target.platform}; images are built for Linux targets only",
            hint="image a linux-x86_64 or linux-aarch64 target",
        )
    return "linux", arch


def _pick_from_index(doc: dict[str, Any], target: LockedTarget, what: str) -> str:
    os_name, arch = _platform_of(target)
    for entry in doc.get("manifests") or []:
        plat = entry.get("platform") or {}
        if plat.get("os") == os_name and plat.get("architecture") == arch:
            return str(entry["digest"])
    have = sorted(
        f"{(e.get('platform') or {}).get('os')}/{(e.get('platform') or {}).get('architecture')}"
        for e in doc.get("manifests") or []
    )
    raise IncompatibleNodeError(
        f"target {target.name} does not fit the base {what}: it has no {os_name}/{arch} image "
        f"(it has {', '.join(have) or 'none'})",
        hint=f"use a base image for {target.platform}",
    )


def resolve_base(req: ImageRequest, progress: Progress) -> Base:
    """Find the base, fetch it into the store when it is remote, and pin it by digest."""
    ref = req.base
    if ref.transport == "scratch":
        return scratch_base()
    if ref.transport == "oci":
        root = Path(ref.path)
        desc = find_manifest(root, ref.tag, what="--base")
        digest = desc.digest
        if desc.media_type in (INDEX, DOCKER_LIST):
            from envlock.image.layout import read_json_blob

            digest = _pick_from_index(read_json_blob(root, desc.digest), req.target, str(ref))
            desc = Descriptor(media_type=MANIFEST, digest=digest, size=0)
        return load_base_from_layout(root, desc, reference=str(ref), name="", digest=digest)
    from envlock.index.registry import copy_image, fetch_manifest

    bases = _oci_dir(req.store) / "bases"
    if ref.transport == "docker":
        if ref.digest is not None and (_cached_base(req.store, ref.digest) / "index.json").is_file():
            digest = ref.digest  # pinned and already fetched: no network needed
        else:
            progress.step(f"resolving {ref}")
            raw, digest = fetch_manifest(str(ref), ref.host, req.access)
            doc = json.loads(raw)
            if doc.get("mediaType") in (INDEX, DOCKER_LIST) or "manifests" in doc:
                digest = _pick_from_index(doc, req.target, str(ref))
        pinned = ImageRef(transport="docker", host=ref.host, repo=ref.repo, digest=digest)
        name = ref.name
        source = str(pinned)
    else:
        digest = ""
        name = ""
        source = str(ref)
    root = _cached_base(req.store, digest) if digest else bases / f"archive-{new_token(8)}"
    if not (digest and (root / "index.json").is_file()):
        progress.step(f"fetching base {ref}")
        tmp = _scratch(req.store, "base")
        try:
            copy_image(
                source,
                f"oci:{tmp / 'layout'}:base",
                host=ref.host,
                access=req.access,
                src_remote=ref.transport == "docker",
                dest_remote=False,
            )
            if not digest:  # an oci-archive: pinned by the digest of the manifest it holds
                digest = find_manifest(tmp / "layout", "base", what="--base").digest
                root = _cached_base(req.store, digest)
            root = _place_base(req.store, root, tmp / "layout")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    desc = find_manifest(root, "base", what="--base")
    return load_base_from_layout(root, desc, reference=str(ref), name=name, digest=digest)


def _cached_base(store: StoreLayout, digest: str) -> Path:
    """Where the base image `digest` is kept in the store's image cache: `oci/bases/<hex>`, unless a
    user this one does not trust holds that (the name follows from the digest, and the manifest the
    layout holds is what the image is built on), then this user's private `<hex>-u<uid>`. A base
    this user fetched before, when files had the umask's group write bit, is sealed first."""
    from envlock.store.modes import seal_tree
    from envlock.store.trust import Trust, check_directories, check_private, current_uid, private_name

    oci = _oci_dir(store)
    bases = oci / "bases"
    with contextlib.suppress(OSError):
        bases.mkdir(parents=True, exist_ok=True)
    trust = Trust.of(store.root)
    check_directories(trust, store.base, oci, bases)
    shared = bases / digest.split(":", 1)[1]
    why = _base_problem(shared, trust)
    if why is not None and why != "missing":
        with contextlib.suppress(OSError):
            if shared.lstat().st_uid == current_uid():
                seal_tree(shared, keep_root_writable=False)  # this user's own, written before sealing
                why = _base_problem(shared, trust)
    if why is None or why == "missing":
        return shared
    private = bases / private_name(shared.name)
    check_private(private, shared=shared, why=why)
    return private


def _place_base(store: StoreLayout, root: Path, fetched: Path) -> Path:
    """Publish the base layout just `fetched` at `root` (sealed read-only first) and return where the
    base now is: `root`, unless someone else put a layout there while this one was fetched that is
    not fit to build on (another user's, or one they may write), then this user's private copy."""
    from envlock.store.modes import remove_tree, seal_root, seal_tree
    from envlock.store.trust import Trust, check_private, private_name

    trust = Trust.of(store.root)
    seal_tree(fetched, keep_root_writable=True)  # read-only before it is shared
    private = root.with_name(private_name(root.name.removesuffix(private_name(""))))
    why = "missing"
    for place in dict.fromkeys((root, private)):
        if place == private:
            check_private(private, shared=root, why=why)
        if not (place / "index.json").is_file():
            place.parent.mkdir(parents=True, exist_ok=True)
            remove_tree(place)  # this user's own leftover (another's stays, in the sticky bases/)
            with contextlib.suppress(OSError):
                fetched.rename(place)
                seal_root(place)
        why = _base_problem(place, trust) or ""
        if not why:
            return place
    raise StoreError(
        f"store: the base image could not be put in the image cache: {root} is {why}",
        hint="ask the store's admin to remove it, or use a store of your own (--store / ENVLOCK_STORE)",
        details={"path": str(root)},
    )


def _base_problem(root: Path, trust: Trust) -> str | None:
    """Why the cached base layout at `root` is not to be built on ("missing" when there is none):
    every directory and file in it must be a trusted user's and writable by nobody else."""
    import stat

    from envlock.store.trust import entry_problem

    why = entry_problem(root, trust, marker="index.json")
    if why is not None:
        return why
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                return f"{path.relative_to(root)} is not a regular file or directory"
            if not trust.trusts(st.st_uid) or st.st_mode & 0o022:
                return f"{path.relative_to(root)} may be written by a user this one does not trust"
    return None


def check_base(req: ImageRequest, base: Base) -> tuple[Base, str]:
    """The base with its facts, and the path of the Python the environment uses inside the image.
    Raises IncompatibleNodeError (exit 1) before any build work when the target cannot run there."""
    _platform_of(req.target)
    python_default = f"/usr/bin/python{req.target.python.rstrip('t')}"
    if base.root is None:
        return base, python_default
    from dataclasses import replace

    root = base.root
    facts = cached_facts(
        _oci_dir(req.store) / "facts", base.digest, lambda: read_facts(root, base.config, base.layers)
    )
    artifacts = [a for _p, a in choose_artifacts(req.target)]
    python = check_fit(req.target, facts, artifacts, base.reference)
    return replace(base, facts=facts), python


def _venv_entries(env_dir: Path, python_path: str, python: str) -> list[Entry]:
    """The venv's own files, rewritten to run inside the image from its base Python."""
    home = python_path.rsplit("/", 1)[0] or "/"
    pyvenv = (
        f"home = {home}\nimplementation = CPython\nversion_info = {python}\n"
        "include-system-site-packages = false\nrelocatable = true\n"
    ).encode()
    entries = [
        Entry(path="pyvenv.cfg", kind="file", data=pyvenv, size=len(pyvenv)),
        Entry(path="bin/python", kind="symlink", link=python_path, mode=0o777),
    ]
    record_path = env_dir / "envlock-env.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["interpreter"] = python_path
        record["interpreter-version"] = python
        data = (json.dumps(record, indent=2) + "\n").encode()
        entries.append(Entry(path="envlock-env.json", kind="file", data=data, size=len(data)))
    return entries


def _check_layer_cache(store: StoreLayout) -> None:
    """The layer cache's directories, made where missing, must be such that nobody this user does not
    trust can rename what is in them (`store/trust.py`): a layer is written there and then copied
    into the image by path, and a cached one is reused without hashing it again. StoreError if not;
    a store this user cannot write is left to the first layer write to report."""
    from envlock.store.trust import Trust, check_directories

    oci = _oci_dir(store)
    blobs, layers = oci / "blobs" / "sha256", oci / "layers"
    for made in (blobs, layers):
        with contextlib.suppress(OSError):
            made.mkdir(parents=True, exist_ok=True)
    trust = Trust.of(store.root)
    check_directories(trust, store.base, oci, oci / "blobs", blobs)
    check_directories(trust, store.base, oci, layers)


def _layer_record(store: StoreLayout, key: str) -> Path:
    return _oci_dir(store) / "layers" / f"{key}.json"


def _cached_layer(store: StoreLayout, plan: LayerPlan) -> BuiltLayer | None:
    if plan.key is None:
        return None
    from envlock.store.safe_read import read_store_text
    from envlock.store.trust import Trust

    record = _layer_record(store, plan.key)
    trust = Trust.of(store.root)
    try:
        doc = json.loads(read_store_text(record))
        path = blob_path(_oci_dir(store), str(doc["digest"]))
        if path.stat().st_size != int(doc["size"]):
            return None
        # a layer is reused without hashing its blob again (it can be gigabytes): only when the record
        # and the blob belong to users this one trusts (store/trust.py) and nobody else may write them
        for made in (record.lstat(), path.lstat()):
            if not trust.trusts(made.st_uid) or made.st_mode & 0o022:
                return None
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return None
    return BuiltLayer(
        plan_name=plan.name,
        packages=plan.packages,
        diff_id=str(doc["diff-id"]),
        digest=str(doc["digest"]),
        size=int(doc["size"]),
        path=path,
        reused=True,
    )


def _build_layer(store: StoreLayout, plan: LayerPlan, prefix: str) -> BuiltLayer:
    try:
        return _build_layer_unchecked(store, plan, prefix)
    except OSError as exc:
        from envlock.store.errors import store_error

        raise store_error(exc, Path(exc.filename or store.scratch), f"write the layer {plan.name}") from exc


def _build_layer_unchecked(store: StoreLayout, plan: LayerPlan, prefix: str) -> BuiltLayer:
    tmp = store.scratch / f"image-layer-{new_token(8)}.tmp"
    try:
        # this user's alone while it is written, read-only for all once it is a blob (nobody changes
        # a blob that images are copied or linked from)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            diff_id, digest, size = write_layer(plan, prefix, out)
        from envlock.store.modes import artifact_mode

        tmp.chmod(artifact_mode())
        final = blob_path(_oci_dir(store), digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)
    if plan.key is not None:
        record = {
            "diff-id": diff_id,
            "digest": digest,
            "size": size,
            "packages": list(plan.packages),
            # what `envlock gc` keeps the layer for: every one of these files in use by a live environment
            "artifacts": list(plan.artifacts),
        }
        write_atomic(_layer_record(store, plan.key), json.dumps(record).encode())
    return BuiltLayer(
        plan_name=plan.name,
        packages=plan.packages,
        diff_id=diff_id,
        digest=digest,
        size=size,
        path=final,
        reused=False,
    )


def build_layers(
    req: ImageRequest, env_dir: Path, python_path: str, progress: Progress, *, single: bool
) -> tuple[str, tuple[BuiltLayer, ...]]:
    """The image prefix and the layers of the environment at `env_dir`, built or found in the store."""
    from envlock.resolvers.uv import uv_version
    from envlock.store.artifacts import in_threads

    python = req.target.python.rstrip("t")
    prefix = cfg.image_prefix(req.lock.inputs.name, req.target.name)
    site = f"lib/python{python}/site-packages"
    chosen = choose_artifacts(req.target)
    entries = scan_env(env_dir)
    plans = plan_layers(
        entries=entries,
        owned=owners(env_dir, site, [p for p, _a in chosen]),
        chosen=chosen,
        prefix=prefix,
        python=python,
        installer=f"uv {uv_version()}",
        venv_entries=_venv_entries(env_dir, python_path, python),
        venv_mtime=layer_mtime(a for _p, a in chosen),
        single=single,
    )
    _check_layer_cache(req.store)
    found = {p.name: _cached_layer(req.store, p) for p in plans}
    todo = [p for p in plans if found[p.name] is None]
    for plan in todo:
        progress.step(f"writing layer {plan.name} ({plan.size / 1e6:.1f} MB)")
    built = in_threads(
        [functools.partial(_build_layer, req.store, p, prefix) for p in todo],
        threads=4,
        weights=[p.size for p in todo],
    )
    by_name = {b.plan_name: b for b in built}
    layers = tuple(found[p.name] or by_name[p.name] for p in plans)
    return prefix, layers


def build_image(
    req: ImageRequest,
    *,
    install_env: Callable[[], Path],
    progress: Progress,
    layer_only: bool,
) -> ImageResult:
    """Build the image (or layer) `req` asks for; `install_env()` builds or finds the store environment.

    The build holds a lease of its own in the store, so that `envlock gc` removes nothing of the
    image cache (`v1/oci/`) meanwhile.
    """
    with contextlib.ExitStack() as held:
        lease = _image_lease(req.store)
        if lease is not None:
            held.enter_context(lease)
        return _build_image(req, install_env=install_env, progress=progress, layer_only=layer_only)


def _image_lease(store: StoreLayout) -> Lease | None:
    """A lease of this build alone; None where the store cannot hold one (a store this user cannot
    write, which the build then reports when it writes its first layer)."""
    from envlock.errors import StoreError
    from envlock.store.gc import IMAGE_LEASE_PREFIX
    from envlock.store.lease import acquire_lease, stale_seconds_from_env

    try:
        store.ensure()
        return acquire_lease(
            store.lease_path(f"{IMAGE_LEASE_PREFIX}{new_token(8)}"),
            info={"image": True},
            stale_seconds=stale_seconds_from_env(),
            done=lambda: False,
        )
    except StoreError:
        return None


def _build_image(
    req: ImageRequest,
    *,
    install_env: Callable[[], Path],
    progress: Progress,
    layer_only: bool,
) -> ImageResult:
    base = resolve_base(req, progress)
    base, python_path = check_base(req, base)
    env_dir = install_env()
    prefix, layers = build_layers(req, env_dir, python_path, progress, single=layer_only)
    created_epoch = layer_mtime(a for _p, a in choose_artifacts(req.target))
    created = cfg.created_at(created_epoch)
    tag = (
        req.tag
        or (req.dest.tag if isinstance(req.dest, ImageRef) else None)
        or cfg.default_tag(req.lock, req.target)
    )
    labels = cfg.labels(
        req.lock,
        req.target,
        prefix=prefix,
        base_name=base.name,
        base_digest=base.digest,
        created=created,
        tag=tag,
    )

    def result(**fields: Any) -> ImageResult:
        return ImageResult(
            base_reference=base.reference,
            base_digest=base.digest,
            python=python_path,
            prefix=prefix,
            layers=layers,
            labels=labels,
            **fields,
        )

    if layer_only:
        assert isinstance(req.dest, Path)
        with _writing(req.dest, req.dest, "a directory"):
            _write_layer_only(req.dest, layers[0], prefix, labels, req.target)
        return result(dest=str(req.dest), tag=None, manifest_digest=None, config_digest=None, pushed=None)
    assert isinstance(req.dest, ImageRef)
    config_doc = cfg.image_config(
        base_config=base.config,
        target=req.target,
        prefix=prefix,
        diff_ids=[layer.diff_id for layer in layers],
        history=[
            {
                "created": created,
                "created_by": f"envlock image: {layer.plan_name}",
                "comment": " ".join(layer.packages),
            }
            for layer in layers
        ],
        labels=labels,
        created=created,
        user=req.user,
        settings=req.lock.inputs.image,
    )
    config_bytes = canonical_json(config_doc)
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": digest_of(config_bytes), "size": len(config_bytes)},
        "layers": [
            *(
                {
                    "mediaType": _OCI_LAYER_TYPES.get(d.media_type, d.media_type),
                    "digest": d.digest,
                    "size": d.size,
                }
                for d in base.layers
            ),
            *(
                {
                    "mediaType": LAYER_GZIP,
                    "digest": layer.digest,
                    "size": layer.size,
                    "annotations": {cfg.LABEL + "layer": layer.plan_name},
                }
                for layer in layers
            ),
        ],
        "annotations": labels,
    }
    manifest_bytes = canonical_json(manifest_doc)
    manifest = Descriptor(media_type=MANIFEST, digest=digest_of(manifest_bytes), size=len(manifest_bytes))
    with _writing(req.dest, req.dest.path, "a destination"):
        pushed = _write_dest(req, base, layers, config_bytes, manifest_bytes, manifest, tag, progress)
    return result(
        dest=str(req.dest.with_tag(tag)) if req.dest.digest is None else str(req.dest),
        tag=tag,
        manifest_digest=manifest.digest,
        config_digest=digest_of(config_bytes),
        pushed=pushed,
    )


def _fill(
    writer: LayoutWriter, base: Base, layers: tuple[BuiltLayer, ...], config: bytes, manifest: bytes
) -> None:
    if base.root is not None:
        copy_blobs(base.root, (d.digest for d in base.layers), writer)
    for layer in layers:
        writer.add_file(layer.path, layer.digest)
    writer.add_bytes(config)
    writer.add_bytes(manifest)


@contextlib.contextmanager
def _writing(dest: object, path: object, choose: str) -> Iterator[None]:
    """An OSError while writing `-o dest` (at `path`) is the user's to fix: a UsageError naming the file."""
    try:
        yield
    except OSError as exc:
        raise UsageError(
            f"-o {dest}: cannot write {exc.filename or path}: {exc.strerror or exc}",
            hint=f"choose {choose} this user can write, on a filesystem with space",
            details={"path": str(exc.filename or path)},
        ) from exc


def _write_dest(
    req: ImageRequest,
    base: Base,
    layers: tuple[BuiltLayer, ...],
    config: bytes,
    manifest_bytes: bytes,
    manifest: Descriptor,
    tag: str,
    progress: Progress,
) -> PushResult | None:
    dest = req.dest
    assert isinstance(dest, ImageRef)
    if dest.transport == "oci":
        writer = LayoutWriter(Path(dest.path))
        try:
            _fill(writer, base, layers, config, manifest_bytes)
            writer.commit(manifest, tag)
        except BaseException:
            writer.abort()
            raise
        return None
    tmp = _scratch(req.store, "out")
    try:
        writer = LayoutWriter(tmp / "layout")
        _fill(writer, base, layers, config, manifest_bytes)
        writer.commit(manifest, tag)
        if dest.transport == "oci-archive":
            _write_archive(tmp / "layout", Path(dest.path))
            return None
        from envlock.index.registry import copy_image

        progress.step(f"pushing to {dest.host}")
        target = dest.with_tag(tag) if dest.digest is None else dest
        return copy_image(
            f"oci:{tmp / 'layout'}:{tag}",
            str(target),
            host=dest.host,
            access=req.access,
            src_remote=False,
            dest_remote=True,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_archive(layout: Path, dest: Path) -> None:
    """`oci-archive:` is a plain tar of a layout; written beside `dest` and renamed into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.envlock-{new_token(6)}")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for path in sorted(layout.rglob("*")):
                rel = path.relative_to(layout).as_posix()
                info = tar.gettarinfo(str(path), arcname=rel)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o755 if path.is_dir() else 0o644
                if path.is_file():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
        from envlock.image.layout import _pause_for_tests

        _pause_for_tests()
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def _write_layer_only(
    dest: Path, layer: BuiltLayer, prefix: str, labels: dict[str, str], target: LockedTarget
) -> None:
    """`DIR/layer.tar.gz` and `DIR/layer.json` (diff_id, digest, size, the config entries the layer needs)."""
    if dest.exists() and (
        not dest.is_dir() or any(p.name not in ("layer.tar.gz", "layer.json") for p in dest.iterdir())
    ):
        raise UsageError(
            f"-o {dest}: exists and is not a layer directory of `envlock image --layer-only`",
            hint="choose a new or empty directory",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.envlock-{new_token(6)}"
    tmp.mkdir()
    try:
        shutil.copyfile(layer.path, tmp / "layer.tar.gz")
        env = {"PATH": f"{prefix}/bin:$PATH", "VIRTUAL_ENV": prefix}
        env |= cfg.toolkit_env(target, prefix, "$PATH")
        require = cfg.nvidia_require_cuda(target)
        if require:
            env["NVIDIA_REQUIRE_CUDA"] = require
        doc = {
            "mediaType": LAYER_GZIP,
            "file": "layer.tar.gz",
            "digest": layer.digest,
            "diff-id": layer.diff_id,
            "size": layer.size,
            "prefix": prefix,
            "env": env,
            "labels": labels,
        }
        (tmp / "layer.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
