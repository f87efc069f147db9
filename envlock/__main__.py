"""Allows `python -m envlock`."""

from envlock.cli.main import entry

raise SystemExit(entry())
