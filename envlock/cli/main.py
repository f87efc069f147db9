"""Entry point: find the command, build only its parser, run it, map errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from envlock import __version__

# name -> (module under envlock.cli, one-line summary). Modules are imported only when used,
# so that `envlock --help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "solve": ("solve", "resolve the spec into a hashed, multi-target lockfile"),
    "check": ("check", "exit 0 if the lock is fresh for its spec, 1 with the reasons if not"),
    "show": ("show", "print what the lock holds"),
    "export": ("export", "write one target as pylock.toml or requirements.txt"),
    "install": ("install", "materialize a lock target into the store or a prefix"),
    "fetch": ("fetch", "download everything a lock needs into a bundle for offline installs"),
    "run": ("run", "run a command inside the installed environment of a lock target"),
    "shell": ("shell", "print the activation line of an installed environment"),
    "diff": ("diff", "review the difference between two lockfiles"),
    "doctor": ("doctor", "check whether this node can run a lock target"),
    "inspect": ("inspect", "list SASS and PTX architectures inside CUDA binaries"),
    "gc": ("gc", "remove store paths that no root holds"),
    "init": ("init", "write a new, commented envlock.toml (--from-node: this node's GPUs and driver)"),
    "add": ("add", "add requirements to the spec's dependencies, keeping its comments"),
    "remove": ("remove", "remove packages from the spec's dependencies, keeping its comments"),
    "verify": ("verify", "re-hash installed environments against their records and the lock"),
    "image": ("image", "build a lock target as a reproducible OCI image or layer, and push it"),
}

EPILOG = """\
exit codes: 0 success; 1 the inputs are the reason (unsatisfiable, stale, incompatible node,
integrity failure, differences with --exit-code); 2 usage or spec error; 3 network or index
failure a retry may cure; 4 internal error.

node overrides (install, run, shell, doctor): ENVLOCK_GPUS=H100,H100 (GPU names or compute
capabilities, one per GPU; none: no GPUs), ENVLOCK_DRIVER=580.65.06 (MAJOR.MINOR[.PATCH]; none: no
driver), ENVLOCK_GLIBC=2.28 (MAJOR.MINOR); a malformed value is exit 2.

Start with `envlock solve` next to an envlock.toml, then `envlock show`.
"""


def _root_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envlock",
        description="Reproducible environment lockfiles for GPU Python stacks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"envlock {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and more detail")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors and data")
    return parser


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser with every command listed, and the full arguments of `command` only."""
    parser = _root_parser()
    # -v / -q work after the command too (`envlock show -v`); SUPPRESS keeps the root's value
    # when they are not repeated there.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and more detail",
    )
    common.add_argument(
        "-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print only errors and data"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if name == command:
            mod = importlib.import_module(f"envlock.cli.{module}")
            cmd_parser = sub.add_parser(
                name,
                parents=[common],
                help=summary,
                description=mod.__doc__,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
            mod.add_arguments(cmd_parser)
            cmd_parser.set_defaults(_run=mod.run)
        else:
            sub.add_parser(name, help=summary)
    return parser


def _find_command(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if arg in COMMANDS:
            return arg
        if arg == "--":
            return None
    return None


def entry() -> int:
    """The `envlock` command (and `python -m envlock`): `main()` in a process of its own.

    httpcore, under envlock's index client, imports trio when it is installed (0.1 s of start-up
    on every command that makes an HTTP client), for an async API envlock never uses; a process
    that is only envlock marks it absent first. `main()` itself leaves the import system alone, so
    a program or test that calls it keeps its own trio."""
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]  # `import trio` now raises ImportError
    return main()


def main(argv: Sequence[str] | None = None) -> int:
    """Run envlock with `argv` (default: sys.argv[1:]) and return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_find_command(args_list))
    args = parser.parse_args(args_list)
    # Only after parsing: `--help` and usage errors exit without the error tree's dataclasses or json.
    from envlock.errors import EnvlockError, ExitCode, InternalError

    if not getattr(args, "command", None):
        parser.print_help()
        return ExitCode.USAGE
    from envlock.cli.output import Console, error_document, print_json

    console = Console(verbose=args.verbose, quiet=args.quiet)
    want_json = bool(getattr(args, "json", False))
    try:
        code: int = args._run(args, console)
        return code
    except EnvlockError as err:
        if want_json:
            print_json(error_document(err))
        else:
            console.error(err)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return err.exit_code
    except KeyboardInterrupt:
        console.info("interrupted")
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (`envlock show | head`): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug: say so plainly, traceback only with -v
        bug = InternalError(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="this is a bug in envlock; rerun with -v for the traceback and report it",
        )
        if want_json:
            print_json(error_document(bug))
        else:
            console.error(bug)
        if args.verbose:
            import traceback

            traceback.print_exc()
        return ExitCode.INTERNAL
