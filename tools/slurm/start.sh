#!/bin/sh
# Start a single-node Slurm cluster (munged, slurmctld, slurmd) whose every file lives in STATE_DIR.
# Usage: tools/slurm/start.sh STATE_DIR     then: export SLURM_CONF=STATE_DIR/slurm.conf
# Runs as root (slurmd must). Stop it with tools/slurm/stop.sh STATE_DIR.
set -eu
state=$(realpath -m "${1:?usage: start.sh STATE_DIR}")
mkdir -p "$state/ctld" "$state/spool" "$state/munge" "$state/log"
chmod 700 "$state/munge"
host=$(hostname -s)
cpus=${SLURM_TEST_CPUS:-64}

if [ ! -f "$state/munge/munge.key" ]; then
    dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$state/munge/munge.key"
fi
munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket" \
    --pid-file="$state/munge/munged.pid" --log-file="$state/log/munged.log" \
    --seed-file="$state/munge/munge.seed"

cat > "$state/slurm.conf" <<CONF
ClusterName=envlock-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
SlurmctldPort=${SLURM_TEST_CTLD_PORT:-16817}
SlurmdPort=${SLURM_TEST_SLURMD_PORT:-16818}
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF

export SLURM_CONF="$state/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
# Wait until the node is up.
i=0
until sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "slurm did not come up; logs in $state/log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "$SLURM_CONF"
