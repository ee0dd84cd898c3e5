#!/usr/bin/env bash
# Runs the full methods benchmark (full Fashion-MNIST, 5/2/2 epochs, S = 30) once per seed on a lent GPU, with the kit
# of `bash eng/gpu/prepare.sh --full-data` (the benchmark and the data, left on the machine by a first call, and
# .gpu-kit-ort carried by this one; see README.md), writing under $OUT
# (./gpu-out when OUT is not set) summary.md and seed-<N>.tar (results.json, results.md, benchmark.log, plots). One run's OOD AUROC
# moves by a few hundredths with the seed alone; eng/summarize-benchmark-seeds.py compares the methods over the runs.
# Each run is stopped after the seconds left of the budget, so that what finished comes back.
#   bash eng/gpu/benchmark-seeds.sh [seeds, default 1,2,3] [budget in seconds, default 520] [kit folder, default .gpu-kit]
set -uo pipefail
seeds=${1:-1,2,3}
budget=${2:-520}
kit=${3:-.gpu-kit}
out=${OUT:-$PWD/gpu-out}
start=$(date +%s)
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dotnet" "$work/app" "$work/fashion-mnist"
tar -C "$work/dotnet" -xJf "$kit/dotnet.tar.xz"
tar -C "$work/app" -xJf "$kit/app.tar.xz"
# ONNX Runtime does not fit in the call that carries the kit: prepare.sh leaves it in .gpu-kit-ort/ for this one.
ort=${ORT_DIR:-.gpu-kit-ort}
if [ ! -f "$ort/libonnxruntime.so" ]; then
  echo "error: $ort/libonnxruntime.so is missing: carry .gpu-kit-ort in this call (see eng/gpu/README.md, 'Seeds on the full data')" >&2
  exit 2
fi
cp "$ort/libonnxruntime.so" "$work/app/"
tar -C "$work/fashion-mnist" -xJf "$kit/fashion-mnist.tar.xz"
export DOTNET_ROOT="$work/dotnet" PATH="$work/dotnet:$PATH" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
torchlib=$(python3 -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH="$torchlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu-info.txt"
echo "unpacked in $(( $(date +%s) - start )) s"

status=0
for seed in ${seeds//,/ }; do
  left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 60 ]; then echo "== seed $seed: not started, $left s of the budget left"; status=1; continue; fi
  dir="$out/seed-$seed"
  mkdir -p "$dir"
  echo "== seed $seed (at most $left s)"
  seed_start=$(date +%s)
  timeout "$left" dotnet "$work/app/MLNet.Bayesian.Benchmarks.dll" --epochs 5,2,2 --samples 30 --device cuda --seed "$seed" \
    --fashion-mnist "$work/fashion-mnist" --out "$dir" > "$dir/benchmark.log" 2>&1
  rc=$?
  echo "   exit $rc after $(( $(date +%s) - seed_start )) s"
  grep -E '^  (deterministic|mean_field|2dgbnn_shared|2dgbnn_hierarchical|mc_dropout|deep_ensemble):' "$dir/benchmark.log"
  [ $rc -eq 0 ] || { status=1; tail -n 20 "$dir/benchmark.log"; }
done
# The device tool brings back a limited number of files (three seeds' four files and the plots were too many):
# each run travels as one archive, the comparison over the runs as summary.md.
runs=()
for dir in "$out"/seed-*/; do
  [ -f "$dir/results.json" ] && runs+=("$dir/results.json")
done
[ ${#runs[@]} -gt 0 ] && python3 "$(dirname "$0")/../summarize-benchmark-seeds.py" "${runs[@]}" | tee "$out/summary.md"
for dir in "$out"/seed-*/; do
  name=$(basename "$dir")
  tar -C "$out" -cf "$out/$name.tar" "$name" && rm -rf "$dir"
done
exit $status
