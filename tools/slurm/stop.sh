#!/bin/sh
# Stop the cluster that tools/slurm/start.sh STATE_DIR started: only the processes in its pid files.
set -u
state=$(realpath -m "${1:?usage: stop.sh STATE_DIR}")
for pidfile in "$state/slurmd.pid" "$state/slurmctld.pid" "$state/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    i=0
    while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
done
