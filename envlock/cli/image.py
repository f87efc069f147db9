"""Build a lock target as an OCI image (or one layer) without a container daemon, bit for bit reproducible.

--base and -o take skopeo's transport syntax: oci:DIR[:TAG], oci-archive:FILE[:TAG],
docker://HOST[:PORT]/REPO[:TAG|@sha256:...]; `--base scratch` only with --layer-only. A base given
by tag is pinned by its digest, which the image records (org.opencontainers.image.base.digest).
The environment is the one `envlock install` builds (same files, same hashes), at
/opt/envlock/<env>-<target> inside the image, run by the base image's Python, which must be the
lock's Python X.Y (checked before any work, as are platform and glibc: exit 1 with the reason).
Building needs an interpreter of that X.Y on this machine too (uv makes the venv with it).

Large packages (torch, triton, each nvidia-* library) get layers of their own; layers are kept in
the store by digest and reused. With --layer-only, -o DIR receives layer.tar.gz and layer.json
(diff_id, digest, prefix, environment) to put on a base with another tool.
Registries: --tls-verify=false for plain HTTP, --creds USER:PASS or the auth files podman and
docker use (REGISTRY_AUTH_FILE, ~/.docker/config.json); credentials are never printed.
See docs/image.md for running the image with podman, docker, Kubernetes, Slurm and Apptainer.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envlock.cli.output import Console


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-l",
        "--lock",
        type=Path,
        default=Path("envlock.lock"),
        help="the lock file (default: ./envlock.lock)",
    )
    parser.add_argument("--target", required=True, metavar="NAME", help="the lock target to put in the image")
    parser.add_argument(
        "--base",
        default=None,
        metavar="REF",
        help="base image (default: the lock's [image] base; scratch with --layer-only)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DEST",
        help="where the image goes (a directory with --layer-only)",
    )
    parser.add_argument("--tag", default=None, help="tag (default: torch<ver>-<variant>-py<X.Y>-<hash8>)")
    parser.add_argument("--layer-only", action="store_true", help="write one layer instead of an image")
    parser.add_argument(
        "--user", default=None, metavar="UID:GID", help="the image's user (default 1000:1000)"
    )
    parser.add_argument(
        "--tls-verify",
        type=_bool,
        default=True,
        metavar="BOOL",
        help="require HTTPS for registries (default true)",
    )
    parser.add_argument(
        "--creds",
        default=None,
        metavar="USER:PASS",
        help="registry credentials; ENVLOCK_REGISTRY_CREDS or an auth file keeps them out of `ps`",
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="store root (default: $ENVLOCK_STORE or XDG data dir)"
    )
    parser.add_argument("--offline", action="store_true", help="never download artifacts")
    parser.add_argument(
        "--bundle", type=Path, default=None, help="take artifacts from a bundle of `envlock fetch`"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.errors import UsageError
    from envlock.image.build import ImageRequest, build_image
    from envlock.image.config import DEFAULT_USER
    from envlock.image.ref import ImageRef, parse_ref
    from envlock.index.registry import RegistryAccess
    from envlock.lock.read import load_lock
    from envlock.store.layout import StoreLayout, default_store_root

    # references first: a malformed one is a usage error whatever the lock holds
    explicit = parse_ref(args.base, option="--base", allow_scratch=args.layer_only) if args.base else None
    dest: ImageRef | Path
    if args.layer_only:
        if ":" in args.output.split("/", 1)[0]:
            raise UsageError(
                f"-o {args.output}: --layer-only writes a directory (layer.tar.gz, layer.json), not an image",
                hint="give a directory path, or drop --layer-only to write an image",
            )
        dest = Path(args.output)
    else:
        dest = parse_ref(args.output, option="-o")
    lock = load_lock(args.lock)
    settings = lock.inputs.image
    if explicit is not None:
        base = explicit
    elif settings is not None and settings.base is not None:
        base = parse_ref(settings.base, option="--base", allow_scratch=args.layer_only)
    else:
        raise UsageError(
            f"no base image: give --base REF, or set [image] base in the spec of {args.lock} and re-solve",
            hint="for example --base docker://nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04",
        )
    target = lock.target(args.target)
    if target is None:
        raise UsageError(
            f"{args.lock}: no target named {args.target!r}",
            hint="targets: " + ", ".join(t.name for t in lock.targets),
        )
    layout = StoreLayout(root=(args.store or default_store_root()).absolute())
    request = ImageRequest(
        lock=lock,
        target=target,
        store=layout,
        base=base,
        dest=dest,
        tag=args.tag,
        access=RegistryAccess(
            tls_verify=args.tls_verify, creds=args.creds or os.environ.get("ENVLOCK_REGISTRY_CREDS") or None
        ),
        user=args.user or (settings.user if settings is not None else None) or DEFAULT_USER,
    )

    def install_env() -> Path:
        from envlock.cli.install import _apply
        from envlock.install.plan import plan_install

        plan = plan_install(lock_path=args.lock, lock=lock, target=target, store=layout, prefix=None)
        if not plan.hit:
            console.step(f"installing target {target.name} into {plan.path}")
        return _apply(plan, args, console, args.bundle, None).path

    result = build_image(request, install_env=install_env, progress=console, layer_only=args.layer_only)
    if base.transport == "docker" and base.digest is None:
        pinned = ImageRef(transport="docker", host=base.host, repo=base.repo, digest=result.base_digest)
        console.warn(f"the base {base} is not pinned by digest; write {pinned} to rebuild this image exactly")
    layers = [
        {
            "name": layer.plan_name,
            "packages": list(layer.packages),
            "digest": layer.digest,
            "diff-id": layer.diff_id,
            "size": layer.size,
            "reused": layer.reused,
        }
        for layer in result.layers
    ]
    if args.json:
        from envlock.cli.output import print_json

        doc: dict[str, object] = {
            "dest": result.dest,
            "tag": result.tag,
            "manifest-digest": result.manifest_digest,
            "config-digest": result.config_digest,
            "base": {"reference": result.base_reference, "digest": result.base_digest or None},
            "python": result.python,
            "prefix": result.prefix,
            "layers": layers,
            "labels": result.labels,
        }
        if result.pushed is not None:
            doc["pushed"] = {"uploaded": len(result.pushed.uploaded), "skipped": len(result.pushed.skipped)}
        print_json(doc)
        return 0
    reused = sum(1 for layer in result.layers if layer.reused)
    console.info(
        f"{len(result.layers)} layer(s), {reused} reused from the store"
        + (f"; base {result.base_reference} pinned at {result.base_digest}" if result.base_digest else "")
    )
    if result.pushed is not None:
        console.info(
            f"pushed: {len(result.pushed.uploaded)} blob(s) uploaded, "
            f"{len(result.pushed.skipped)} already there"
        )
    print(result.dest if result.manifest_digest is None else f"{result.dest}@{result.manifest_digest}")
    return 0
