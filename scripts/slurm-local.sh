#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for testing the Snakemake workflow's Slurm
# profile: munged, slurmctld and slurmd from Debian (slurm-wlm 22.05), started by hand
# (no systemd needed), without accounting. Run as root; it installs the packages when
# missing and writes /etc/slurm/slurm.conf (the default path, so sbatch, squeue and the
# Snakemake executor plugin need no SLURM_CONF).
#
#   STATE=<scratch folder> scripts/slurm-local.sh up     # returns once the node is idle
#   STATE=<scratch folder> scripts/slurm-local.sh down   # stops each daemon by its pid
#
# Without accounting `sacct` fails: Snakemake's Slurm executor must poll squeue instead
# (--slurm-status-command squeue). Finished jobs stay visible to squeue and scontrol for
# MinJobAge (300 s), which the plugin needs to be at least 3x its first status check's delay.
set -euo pipefail
STATE=${STATE:?set STATE to a scratch folder for the cluster\'s state, logs and pids}
S=$STATE/slurm

up() {
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
    fi
    mkdir -p "$S/state" "$S/spool" "$S/log"
    local host mem cpus
    host=$(hostname -s)
    mem=$(free -m | awk '/^Mem:/{print $2}')
    cpus=$(nproc)

    # munge: Debian's postinst wrote /etc/munge/munge.key. A running munged is reused (and
    # then not ours to stop).
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    install -d -o munge -g munge -m 0755 /run/munge
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        runuser -u munge -- /usr/sbin/munged # forks; writes /run/munge/munged.pid
        cp /run/munge/munged.pid "$S/munged.pid"
    fi
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done

    cat >/etc/slurm/slurm.conf <<CONF
ClusterName=hapflow-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=300
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pidfile
SlurmdPidFile=$S/slurmd.pidfile
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

    # Both daemons in the foreground (-D), put in the background here, pids kept.
    setsid /usr/sbin/slurmctld -D >"$S/log/slurmctld.out" 2>&1 </dev/null &
    echo $! >"$S/slurmctld.pid"
    setsid /usr/sbin/slurmd -D >"$S/log/slurmd.out" 2>&1 </dev/null &
    echo $! >"$S/slurmd.pid"
    for _ in $(seq 150); do
        [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ] && break
        sleep 0.2
    done
    if [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" != idle ]; then
        tail -n 30 "$S"/log/*.log >&2
        echo "slurm-local: the node did not become idle" >&2
        exit 1
    fi
    sinfo
}

down() {
    local f pid
    for f in slurmd slurmctld munged; do
        [ -s "$S/$f.pid" ] && kill "$(cat "$S/$f.pid")" 2>/dev/null || true
    done
    for f in slurmd slurmctld munged; do
        [ -s "$S/$f.pid" ] || continue
        pid=$(cat "$S/$f.pid")
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm-local: $f (pid $pid) still runs after 10 s; killing it" >&2
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$S/$f.pid"
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
    echo "usage: STATE=<folder> $0 up|down" >&2
    exit 2
    ;;
esac
