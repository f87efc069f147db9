"""Allows `python -m envlock`."""

from envlock.cli.main import main

raise SystemExit(main())
