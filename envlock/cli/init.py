"""Write a new, commented envlock.toml in the current directory (or at -s PATH).

Without --from-node the spec has one CPU-only target for this machine's platform and commented
examples; with --from-node the target is this node: its platform, its GPUs and its driver, read
the way `install --target auto` reads them (NVML, nvidia-smi, /proc; ENVLOCK_GPUS and
ENVLOCK_DRIVER override them).

examples:
  envlock init
  envlock init --from-node --name vit-train
  ENVLOCK_GPUS=H100 ENVLOCK_DRIVER=550.54.15 envlock init --from-node
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from envlock.cli.output import Console


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s", "--spec", metavar="SPEC", help="where to write the spec (default: ./envlock.toml)"
    )
    parser.add_argument(
        "--from-node", action="store_true", help="describe this node's GPUs and driver in the target"
    )
    parser.add_argument("--name", help="the env's name (default: the directory's name)")
    parser.add_argument(
        "--python", metavar="X.Y", help="the Python version (default: the one running envlock)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing spec")


def _env_name(directory: Path) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    return name or "my-env"


def _gpu_word(name: str, sm: str) -> str:
    """A GPU as the spec writes it: its model name when the knowledge base knows it, else sm_XY."""
    from envlock.kb import load_kb

    word = re.sub(r"^nvidia\s+", "", name.strip(), flags=re.IGNORECASE)
    try:
        load_kb(()).resolve_gpu(word)
    except KeyError:
        return sm
    return word


def run(args: argparse.Namespace, console: Console) -> int:
    from envlock.errors import UsageError
    from envlock.platforms import PLATFORMS
    from envlock.spec.edit import InitTarget, render_init
    from envlock.spec.parse import load_spec

    path = Path(args.spec) if args.spec else Path.cwd() / "envlock.toml"
    if path.name == "pyproject.toml":
        raise UsageError(
            "init writes envlock.toml, not pyproject.toml",
            hint="write [tool.envlock.env] and [[tool.envlock.target]] by hand, or init an envlock.toml",
        )
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists", hint="edit it with `envlock add`/`remove`, or pass --force")
    python = args.python or f"{sys.version_info.major}.{sys.version_info.minor}"
    if args.from_node:
        from envlock.node.detect import detect_node

        node = detect_node()
        if node.platform not in PLATFORMS:
            raise UsageError(
                f"this node's platform {node.platform!r} is not one envlock locks for",
                hint="run init without --from-node and set the platform by hand",
            )
        gpus = tuple(dict.fromkeys(_gpu_word(g.name, g.cc.sm) for g in node.gpus))
        if gpus and node.driver is None:
            raise UsageError(
                "GPUs were found but no driver version",
                hint="set ENVLOCK_DRIVER to the Driver Version nvidia-smi prints",
            )
        first = gpus[0].lower() if gpus else "cpu"
        target = InitTarget(
            name=re.sub(r"[^a-z0-9-]+", "-", first).strip("-") or "node",
            platform=node.platform,
            gpus=gpus,
            driver=node.driver if gpus else None,
            glibc=node.glibc,
        )
        for note in node.notes:
            console.info(f"node: {note}")
    else:
        from envlock.platforms import host_platform

        platform = host_platform()
        target = InitTarget(
            name="default",
            platform=platform if platform in PLATFORMS else "linux-x86_64",
            gpus=(),
            driver=None,
            glibc=None,
        )
    text = render_init(
        name=args.name or _env_name(path.parent), python=python, target=target, from_node=args.from_node
    )
    before = path.read_text(encoding="utf-8") if path.exists() else None
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path)  # what init writes must read back; a bad --name or --python says so here
    except Exception:
        if before is None:
            path.unlink()
        else:
            path.write_text(before, encoding="utf-8")
        raise
    gpus_text = f"{', '.join(target.gpus)}, driver {target.driver}" if target.gpus else "CPU only"
    console.info(f"wrote {path} (target {target.name}: {target.platform}, {gpus_text})")
    console.info("next: `envlock add torch`, then `envlock solve`")
    return 0
