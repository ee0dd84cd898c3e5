#!/usr/bin/env bash
# Measures batch-scoring throughput as a Slurm array job with 1, 2, 4 ... tasks on the cluster of SLURM_CONF (without
# one, a one-node test cluster under a temporary folder, stopped at the end) and prints a Markdown table:
#   bash eng/slurm/measure-efficiency.sh --model model.zip --images DIR [--tasks "1 2 4"] [--cli "..."]
# Throughput = images / seconds from the first submission to the merged CSV (scheduling and the merge included);
# parallel efficiency with N tasks = throughput(N) / (N x throughput(1)).
set -euo pipefail
here=$(dirname "$(realpath "$0")")
model="" images="" tasks_list="1 2 4" cli_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --tasks) tasks_list=$2; shift 2 ;;
    --cli) cli_args=(--cli "$2"); shift 2 ;;
    *) echo "measure-efficiency.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$model" ] && [ -n "$images" ] || { echo "measure-efficiency.sh: --model and --images are required" >&2; exit 2; }
work=$(mktemp -d)
if [ -z "${SLURM_CONF:-}" ]; then
  max=$(for n in $tasks_list; do echo "$n"; done | sort -n | tail -n 1)
  bash "$here/start-test-cluster.sh" "$work/cluster" "$max" >&2
  export SLURM_CONF="$work/cluster/slurm.conf"
  trap 'bash "$here/stop-test-cluster.sh" "$work/cluster"; rm -rf "$work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
echo "| tasks | seconds | images/s | parallel efficiency |"
echo "|---|---|---|---|"
base=""
for n in $tasks_list; do
  output=$(bash "$here/score-array.sh" --model "$model" --images "$images" --out "$work/run-$n/predictions.csv" --tasks "$n" "${cli_args[@]}")
  line=$(echo "$output" | tail -n 1)
  echo "$line" | grep -q 'exit 0$' || { echo "the run with $n tasks failed: $line" >&2; exit 1; }
  seconds=$(echo "$line" | sed -n 's/.* \([0-9.]*\) s from the first submission.*/\1/p')
  # The image count as merge found it (the tool's own idea of an image file).
  count=$(echo "$output" | sed -n 's/^\([0-9]*\) images, one row each.*/\1/p' | tail -n 1)
  rate=$(awk "BEGIN { printf \"%.0f\", $count / $seconds }")
  [ -z "$base" ] && base=$rate
  efficiency=$(awk "BEGIN { printf \"%.2f\", $rate / ($n * $base) }")
  echo "| $n | $seconds | $rate | $efficiency |"
done
echo
echo "$count images; $(nproc) cores; model $(basename "$model")"
