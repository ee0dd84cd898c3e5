#!/usr/bin/env bash
# On the GPU machine (called by eng/gpu/run.sh): the deterministic training step (batch 128, Adam) of the small CNN
# and of ResNet-18 on cuda:0, TorchSharp (the kit's benchmark) against PyTorch (the python3 on PATH), three
# alternating rounds of 100 steps each, and the ratio of the medians.
#   bash eng/gpu/step-vs-pytorch.sh <MLNet.Bayesian.Benchmarks.dll>
set -uo pipefail
bench=$1
dir=$(cd "$(dirname "$0")/.." && pwd)
status=0
for arch in SmallCnn ResNet18; do
  py_arch=$(echo "$arch" | tr '[:upper:]' '[:lower:]')
  ts=() pt=()
  for round in 1 2 3; do
    line=$(dotnet "$bench" --step-time --architecture "$arch" --device cuda --batch-size 128 2>&1 | tail -1); echo "round $round: $line"; ts+=("${line##* }")
    line=$(python3 "$dir/pytorch_step_time.py" --architecture "$py_arch" --device cuda --batch-size 128 2>&1 | tail -1); echo "round $round: $line"; pt+=("${line##* }")
  done
  python3 - "$arch" "${ts[@]}" "${pt[@]}" <<'PY' || status=1
import statistics, sys
arch, values = sys.argv[1], sys.argv[2:]
ts, pt = [float(v) for v in values[:3]], [float(v) for v in values[3:]]
t, p = statistics.median(ts), statistics.median(pt)
print(f"{arch} training step on cuda, batch 128: TorchSharp {t:.2f} ms, PyTorch {p:.2f} ms (medians of 3 rounds); TorchSharp / PyTorch = {t / p:.2f}")
PY
done
exit $status
