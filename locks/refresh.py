"""Re-solve every example in locks/ against the fixture indexes on 127.0.0.1:8765.

Usage: python locks/refresh.py   (then review `git diff locks/` before committing)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envlock.cli.main import main  # noqa: E402  (after the path set-up above)
from fixtures.server import FIXED_PORT, FixtureIndexServer  # noqa: E402


def refresh() -> int:
    with tempfile.TemporaryDirectory(prefix="envlock-fixtures-") as tmp:
        server = FixtureIndexServer(Path(tmp), port=FIXED_PORT)
        server.start()
        try:
            for spec in sorted((ROOT / "locks").glob("*/envlock.toml")):
                code = main(["solve", "-s", str(spec)])
                if code:
                    return code
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(refresh())
