#!/usr/bin/env bash
# Scores a folder of images as a Slurm array job and merges the result into one CSV:
#   bash eng/slurm/score-array.sh --model model.zip --images incoming/ --out results/predictions.csv --tasks 8 \
#        [--retries 1] [--cli "mlnet-bayesian"] [--sbatch "--partition=cpu --cpus-per-task=2"] [-- <more score options>]
# Task K of --tasks N runs 'score --shards N' (K from SLURM_ARRAY_TASK_ID) and writes results/predictions.part-K-of-N.csv;
# the script waits for the array, runs 'merge', and submits again the shards that merge names as incomplete (a task
# killed, a node lost; each resumes its part), up to --retries times. Exit code: merge's (0 when every image has
# exactly one row in --out, 1 otherwise, with the list in <out>.problems.txt); 2 for arguments it cannot use.
# On a real cluster the model, the images, the output folder and the tool must be on a filesystem every node sees.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
repo=$(realpath "$here/../..")
model="" images="" out="" tasks="" retries=1 cli="" sbatch_options="" poll=2
score_options=()
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "score-array.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --model|--images|--out|--tasks|--retries|--cli|--sbatch)
      [ $# -ge 2 ] || fail "$1 needs a value (--help shows the options)"
      case "$1" in
        --model) model=$2 ;; --images) images=$2 ;; --out) out=$2 ;; --tasks) tasks=$2 ;;
        --retries) retries=$2 ;; --cli) cli=$2 ;; --sbatch) sbatch_options=$2 ;;
      esac
      shift 2 ;;
    --) shift; score_options=("$@"); break ;;
    *) fail "unknown option '$1' (--help shows the options)" ;;
  esac
done
for name in model images out tasks; do
  [ -n "${!name}" ] || fail "--$name is required (--help shows the options)"
done
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || fail "--tasks must be a whole number >= 1, not '$tasks'"
[[ "$retries" =~ ^[0-9]+$ ]] || fail "--retries must be a whole number >= 0, not '$retries'"
[ -f "$model" ] || fail "--model: file '$model' does not exist"
[ -d "$images" ] || fail "--images: folder '$images' does not exist"
command -v sbatch >/dev/null || fail "sbatch not found: this needs a Slurm cluster (or eng/slurm/start-test-cluster.sh)"
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

# When merge still finds shards to run, the end of their task logs usually says why (a crash, a bad model, a full disk).
show_task_logs() {
  for k in $1; do
    log=$(ls -t "$logs"/*_"$k".out 2>/dev/null | head -n 1)
    [ -n "$log" ] && { echo "--- last lines of $log (shard $k):"; tail -n 5 "$log"; }
  done
}

start=$(date +%s.%N)
rc=1
submit "0-$((tasks - 1))"
for attempt in $(seq 0 "$retries"); do
  set +e
  merged=$($cli merge --images "$images" --out "$out" --shards "$tasks" 2>&1)
  rc=$?
  set -e
  echo "$merged"
  [ "$rc" -eq 0 ] && break
  rerun=$(echo "$merged" | sed -n 's/^shards to run again: //p')
  [ -n "$rerun" ] && show_task_logs "$rerun"
  if [ -z "$rerun" ] || [ "$attempt" -eq "$retries" ]; then break; fi
  echo "running again: shards ${rerun// /,} (attempt $((attempt + 1)) of $retries)"
  submit "${rerun// /,}"
done
echo "$(basename "$0"): $tasks tasks, $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }") s from the first submission to the merge, exit $rc"
exit "$rc"
