"""Where the CLI finds the spec and the lock when the user does not say."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

LOCK_NAME = "envlock.lock"
# How every command but `check` describes -l, so that the default reads the same everywhere.
LOCK_HELP = "the lock file (default: envlock.lock in the current directory)"
SPEC_HELP = "the spec (default: ./envlock.toml or ./pyproject.toml)"


def spec_path(given: str | None) -> Path:
    """The spec named by -s, else envlock.toml / pyproject.toml in the current directory."""
    from envlock.spec.parse import find_spec

    return Path(given) if given else find_spec(Path.cwd())


def spec_text(path: Path) -> str:
    """The text of a spec that `add` / `remove` are about to edit; a usage error when there is none."""
    from envlock.errors import UsageError
    from envlock.inputfile import MAX_SPEC_BYTES, InputFileError, read_input

    try:
        return read_input(path, limit=MAX_SPEC_BYTES, what="spec")
    except FileNotFoundError:
        raise UsageError(
            f"{path}: no such spec file", hint="start one with `envlock init`, or name it with -s"
        ) from None
    except (InputFileError, OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot be read as a spec ({exc})", hint="name the spec with -s") from None


def lock_path_for(spec: Path, given: str | None) -> Path:
    """The lock named by -o/-l, else envlock.lock next to the spec."""
    return Path(given) if given else spec.parent / LOCK_NAME


def existing_lock(given: str | None) -> Path:
    """The lock named by -l, else ./envlock.lock (`load_lock` says so when it does not exist)."""
    return Path(given) if given else Path.cwd() / LOCK_NAME

def add_lock_argument(parser: object, *, flag: str = "-l") -> None:
    """The common `-l/--lock LOCK` option."""
    parser.add_argument(  # type: ignore[attr-defined]  # argparse parser passed untyped by design
        flag, "--lock", dest="lock", metavar="LOCK", help=LOCK_HELP
    )


def add_spec_argument(parser: argparse.ArgumentParser) -> None:
    """The common `-s/--spec SPEC` option of the commands that read a spec."""
    parser.add_argument("-s", "--spec", metavar="SPEC", help=SPEC_HELP)
