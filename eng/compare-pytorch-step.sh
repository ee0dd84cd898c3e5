#!/usr/bin/env bash
# The same-machine peer: times the small CNN's training step (batch 128: forward, cross-entropy, backward,
# Adam, on one fixed batch) in this project (TorchSharp) and in PyTorch (Debian's python3-torch, installed
# here when missing), alternating three rounds of 100 steps each, and prints the ratio of the medians.
#   bash eng/compare-pytorch-step.sh [batch-size]
set -euo pipefail
cd "$(dirname "$0")/.."
batch="${1:-128}"
# Debian's python3-torch belongs to the system interpreter (a pyenv or venv python3 on PATH would not see it).
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c "import torch" 2>/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3-torch
fi
dotnet build -c Release tests/MLNet.Bayesian.Benchmarks -v quiet -nologo
bench="dotnet tests/MLNet.Bayesian.Benchmarks/bin/Release/net10.0/MLNet.Bayesian.Benchmarks.dll"
threads="$(nproc)"
ts=() pt=()
# Alternating the two spreads any load from other jobs on a shared machine over both.
for round in 1 2 3; do
  line="$($bench --step-time --batch-size "$batch" | tail -1)"; echo "round $round: $line"; ts+=("${line##* }")
  line="$("$py" eng/pytorch_step_time.py --batch-size "$batch" --threads "$threads" | tail -1)"; echo "round $round: $line"; pt+=("${line##* }")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
"$py" - "$(median "${ts[@]}")" "$(median "${pt[@]}")" "$batch" <<'PY'
import sys
ts, pt, batch = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ratio = ts / pt
print(f"small CNN training step, batch {batch}: TorchSharp {ts:.2f} ms, PyTorch {pt:.2f} ms (medians of 3 rounds)")
print(f"TorchSharp / PyTorch = {ratio:.2f} (target <= 1.2: {'met' if ratio <= 1.2 else 'not met'})")
PY
