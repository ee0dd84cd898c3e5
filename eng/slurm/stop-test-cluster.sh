#!/usr/bin/env bash
# Stops the daemons that start-test-cluster.sh started under DIR (slurmd, slurmctld, munged) and waits for them to end.
set -uo pipefail
dir=$(realpath -m "${1:?usage: stop-test-cluster.sh DIR}")
for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
done
exit 0
