#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests: munged, slurmctld and
# slurmd from Debian's slurm-wlm, all state under one directory, on ports of
# its own, started and stopped by the caller (root: slurmd runs jobs as their
# users).
#   bash scripts/slurm_cluster.sh start DIR   -> prints "export SLURM_CONF=DIR/slurm.conf"
#   bash scripts/slurm_cluster.sh stop DIR
# Exit 77 (with the reason on stderr) where a cluster cannot start here.
set -euo pipefail
action=${1:?start|stop} dir=${2:?state directory}
case $action in
stop)
  for pidfile in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 1
  pkill -f "$dir/slurm.conf" 2>/dev/null || true
  exit 0 ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
for tool in munged mungekey slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || { echo "slurm_cluster: $tool is not installed (Debian: slurm-wlm, munge)" >&2; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "slurm_cluster: needs root (slurmd runs jobs as their users)" >&2; exit 77; }
export PATH=$PATH:/usr/sbin
mkdir -p "$dir"/state "$dir"/spool "$dir"/munge
host=$(hostname -s)
# Free ports: the kernel's choice, released just before the daemons take them.
read -r ctld_port slurmd_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
mungekey --create --keyfile "$dir/munge/munge.key" --force >/dev/null 2>&1 ||
  { dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" 2>/dev/null; }
chmod 0400 "$dir/munge/munge.key"
munged --force --key-file "$dir/munge/munge.key" --socket "$dir/munge/munge.socket" \
  --pid-file "$dir/munged.pid" --log-file "$dir/munged.log" --seed-file "$dir/munge/seed" ||
  { echo "slurm_cluster: munged did not start: $(tail -n 3 "$dir/munged.log" 2>/dev/null)" >&2; exit 77; }
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=llada-eval-test
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF" || { echo "slurm_cluster: slurmctld did not start: $(tail -n 5 "$dir/slurmctld.log")" >&2; exit 77; }
slurmd -f "$SLURM_CONF" || { echo "slurm_cluster: slurmd did not start: $(tail -n 5 "$dir/slurmd.log")" >&2; exit 77; }
for _ in $(seq 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "slurm_cluster: the node did not come up: $(sinfo 2>&1 | tail -n 2); $(tail -n 3 "$dir/slurmd.log")" >&2
exit 77
