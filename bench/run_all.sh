#!/bin/sh
# Refresh every speed table of bench/README.md in one go (about 20 minutes): solve, install, diff.
# Each script prints its table with the load average before and after its run and writes it to
# bench/results/{solve,install,diff}.md. Run it on a quiet machine; pass --quick to shorten the solve
# benchmark (fewer runs, no pip-compile on the real specs).
#
#     sh bench/run_all.sh [--quick]
set -eu
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-python3}
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" bench/bench_diff.py
"$python" bench/bench_install.py
"$python" bench/bench_solve.py "$@"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tables written to bench/results/diff.md, install.md and solve.md"
