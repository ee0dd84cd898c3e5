#!/usr/bin/env bash
# Scores a folder of images as a Slurm array job and merges the result into one CSV:
#   bash eng/slurm/score-array.sh --model model.zip --images incoming/ --out results/predictions.csv --tasks 8 \
#        [--retries 1] [--cli "mlnet-bayesian"] [--sbatch "--partition=cpu --cpus-per-task=2"] [-- <more score options>]
# Task K of --tasks N runs 'score --shards N' (K from SLURM_ARRAY_TASK_ID) and writes results/predictions.part-K-of-N.csv;
# the script waits for the array, runs 'merge', and submits again the shards that merge names as incomplete (a task
# killed, a node lost; each resumes its part), up to --retries times. Exit code: merge's (0 when every image has
# exactly one row in --out, 1 otherwise, with the list in <out>.problems.txt).
# On a real cluster the model, the images, the output folder and the tool must be on a filesystem every node sees.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
repo=$(realpath "$here/../..")
model="" images="" out="" tasks="" retries=1 cli="" sbatch_options="" poll=2
score_options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --retries) retries=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    --sbatch) sbatch_options=$2; shift 2 ;;
    --) shift; score_options=("$@"); break ;;
    *) echo "score-array.sh: unknown option '$1' (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
for name in model images out tasks; do
  [ -n "${!name}" ] || { echo "score-array.sh: --$name is required" >&2; exit 2; }
done
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || { echo "score-array.sh: --tasks must be a whole number >= 1, not '$tasks'" >&2; exit 2; }
command -v sbatch >/dev/null || { echo "score-array.sh: sbatch not found: this needs a Slurm cluster (or eng/slurm/start-test-cluster.sh)" >&2; exit 2; }
model=$(realpath "$model"); images=$(realpath "$images"); out=$(realpath -m "$out")
mkdir -p "$(dirname "$out")"

# The tool: --cli, else the installed dotnet tool, else this repository's Release build (built once here).
if [ -z "$cli" ]; then
  if command -v mlnet-bayesian >/dev/null; then cli="mlnet-bayesian"
  else
    dll="$repo/src/MLNet.Bayesian.Cli/bin/Release/net10.0/MLNet.Bayesian.Cli.dll"
    [ -f "$dll" ] || dotnet build "$repo/src/MLNet.Bayesian.Cli" -c Release -nologo -v quiet >&2
    cli="dotnet $dll"
  fi
fi

# The batch script every task runs; exec, so that a signal to the task reaches the scorer itself.
logs="$(dirname "$out")/slurm-logs"
mkdir -p "$logs"
job_script="$out.sbatch.sh"
{
  echo '#!/usr/bin/env bash'
  printf 'exec %s score --model %q --images %q --out %q --shards %q' "$cli" "$model" "$images" "$out" "$tasks"
  for option in "${score_options[@]+"${score_options[@]}"}"; do printf ' %q' "$option"; done
  echo
} > "$job_script"

submit() {  # $1: the array's task list, e.g. 0-7 or 2,5
  local id
  # shellcheck disable=SC2086  # --sbatch holds several options on purpose
  id=$(sbatch --parsable --array="$1" --job-name="score-$(basename "$out" .csv)" --output="$logs/%A_%a.out" $sbatch_options "$job_script")
  id=${id%%;*}
  echo "submitted array job $id (tasks $1 of $tasks); logs: $logs/${id}_K.out"
  while squeue -h -j "$id" 2>/dev/null | grep -q .; do sleep "$poll"; done
  echo "array job $id finished"
}

start=$(date +%s.%N)
submit "0-$((tasks - 1))"
for attempt in $(seq 0 "$retries"); do
  set +e
  merged=$($cli merge --images "$images" --out "$out" --shards "$tasks" 2>&1)
  rc=$?
  set -e
  echo "$merged"
  [ "$rc" -eq 0 ] && break
  rerun=$(echo "$merged" | sed -n 's/^shards to run again: //p')
  if [ -z "$rerun" ] || [ "$attempt" -eq "$retries" ]; then break; fi
  echo "running again: shards ${rerun// /,} (attempt $((attempt + 1)) of $retries)"
  submit "${rerun// /,}"
done
echo "$(basename "$0"): $tasks tasks, $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }") s from the first submission to the merge, exit $rc"
exit "$rc"
