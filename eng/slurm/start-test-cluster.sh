#!/usr/bin/env bash
# Starts a one-node Slurm cluster (munged + slurmctld + slurmd) under DIR, for tests and measurements on one machine:
#   bash eng/slurm/start-test-cluster.sh DIR [CPUS]      then: export SLURM_CONF=DIR/slurm.conf
#   bash eng/slurm/stop-test-cluster.sh DIR              stops every daemon it started
# Needs root and Debian's slurm-wlm and munge (apt-get install slurm-wlm munge). Its own munge key and socket and
# free ports, so that it neither needs nor disturbs a munged or Slurm already on the machine. Exit code 2 when Slurm
# or munge is not installed, 1 when the cluster did not come up (the daemons' logs are printed).
set -euo pipefail
dir=$(realpath -m "${1:?usage: start-test-cluster.sh DIR [CPUS]}")
cpus=${2:-4}
here=$(dirname "$(realpath "$0")")
for tool in munged mungekey slurmctld slurmd sbatch sinfo; do
  command -v "$tool" >/dev/null || { echo "Slurm is not installed: '$tool' is missing (apt-get install slurm-wlm munge)" >&2; exit 2; }
done
[ "$(id -u)" -eq 0 ] || { echo "the test cluster runs its daemons as root; run as root" >&2; exit 2; }
mkdir -p "$dir"/{munge,state,spool,log}
chmod 700 "$dir/munge"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=$(free_port)
slurmd_port=$(free_port)
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
host=$(hostname -s)
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
    -e "s|@CPUS@|$cpus|g" "$here/slurm.conf.template" > "$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"

show_logs() { for f in "$dir"/log/*.log; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done; }

[ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
chmod 400 "$dir/munge/munge.key"
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
slurmctld -c -f "$SLURM_CONF" || { show_logs; exit 1; }
slurmd -f "$SLURM_CONF" || { show_logs; exit 1; }

# Up when the node takes jobs.
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)
  case "$state" in
    idle|mix|alloc) echo "Slurm test cluster up: node $host, $cpus CPUs, SLURM_CONF=$SLURM_CONF"; exit 0 ;;
  esac
  sleep 0.5
done
echo "the Slurm test cluster did not come up within 30 s (node state: '${state:-none}')" >&2
show_logs
exit 1
