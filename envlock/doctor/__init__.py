"""`doctor`: will this lock run on this node? Driver, GPUs, glibc, the installed binaries, a smoke run."""

from __future__ import annotations

from envlock.doctor.checks import Check, DoctorReport, diagnose, judge
from envlock.doctor.smoke import SMOKE_WORKER, SmokeResult, run_smoke

__all__ = ["SMOKE_WORKER", "Check", "DoctorReport", "SmokeResult", "diagnose", "judge", "run_smoke"]
