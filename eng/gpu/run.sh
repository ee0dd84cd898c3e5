#!/usr/bin/env bash
# Runs the GPU check kit on a machine with an NVIDIA GPU, PyTorch with CUDA in the python3 on PATH, no .NET and no
# network, from the repository root, writing everything under $OUT (./gpu-out when OUT is not set):
#   gpu-info.txt             nvidia-smi, the PyTorch version and what CUDA it sees
#   system-check.log         a small model trained through all stages on cuda:0 with PyTorch's LibTorch
#   gpu-tests.log, *.trx     the tests of category Gpu (MSTest, through the test executable)
#   benchmark/               the methods benchmark in quick mode at S = 30 on --device cuda (results.json with "device": "cuda";
#                            the plots packed in plots.tar)
#   step-vs-pytorch.txt      the deterministic training step of the small CNN and ResNet-18, TorchSharp against PyTorch
#   serving/                 in-memory (CUDA) against loaded (ONNX Runtime, CPU) serving
# Exit code: 0 when every step passed.
#   bash eng/gpu/run.sh [kit folder, default .gpu-kit]
set -uo pipefail
kit=${1:-.gpu-kit}
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
work=$(mktemp -d)
status=0
step() { echo "== $1"; shift; if "$@"; then echo "   ok"; else echo "   FAILED (exit $?)"; status=1; fi; }

mkdir -p "$work/dotnet" "$work/app"
tar -C "$work/dotnet" -xJf "$kit/dotnet.tar.xz"
tar -C "$work/app" -xJf "$kit/app.tar.xz"
export DOTNET_ROOT="$work/dotnet" PATH="$work/dotnet:$PATH" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# The library loads LibTorch from python3's PyTorch itself; the path also lets its CUDA libraries find one another.
torchlib=$(python3 -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH="$torchlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

{
  nvidia-smi
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
  echo "kit commit $(cat "$kit/commit" 2>/dev/null), .NET $(cat "$kit/runtime-version" 2>/dev/null)"
} > "$out/gpu-info.txt" 2>&1
cat "$out/gpu-info.txt"

step "system LibTorch: train through all stages on cuda:0" \
  bash -c "dotnet '$work/app/MLNet.Bayesian.SystemLibTorchCheck.dll' --device cuda 2>&1 | tee '$out/system-check.log'; exit \${PIPESTATUS[0]}"
step "tests of category Gpu" \
  bash -c "cd '$work/app' && dotnet MLNet.Bayesian.Tests.dll --filter 'TestCategory=Gpu' --report-trx --report-trx-filename gpu-tests.trx --results-directory '$out' 2>&1 | tee '$out/gpu-tests.log'; exit \${PIPESTATUS[0]}"
step "methods benchmark, quick, --device cuda" \
  bash -c "dotnet '$work/app/MLNet.Bayesian.Benchmarks.dll' --quick --samples 30 --device cuda --out '$out/benchmark' > '$out/benchmark.log' 2>&1; rc=\$?; tail -n 40 '$out/benchmark.log'; exit \$rc"
step "training step, TorchSharp against PyTorch, small CNN and ResNet-18 on cuda" \
  bash -c "bash '$(dirname "$0")/step-vs-pytorch.sh' '$work/app/MLNet.Bayesian.Benchmarks.dll' 2>&1 | tee '$out/step-vs-pytorch.txt'; exit \${PIPESTATUS[0]}"
step "serving, --device cuda" \
  bash -c "dotnet '$work/app/MLNet.Bayesian.Benchmarks.dll' --serving --quick --device cuda --out '$out/serving' > '$out/serving.log' 2>&1; rc=\$?; tail -n 12 '$out/serving.log'; exit \$rc"
# The device tool brings back a limited number of files: the plots travel as one archive, so that results.json and
# results.md always come back.
for dir in "$out/benchmark" "$out/serving"; do
  if ls "$dir"/*.png >/dev/null 2>&1; then tar -C "$dir" -cf "$dir/plots.tar" $(cd "$dir" && ls *.png) && rm -f "$dir"/*.png; fi
done
rm -rf "$work"
echo "gpu kit: $([ $status -eq 0 ] && echo 'all steps passed' || echo 'some steps FAILED'); results in $out"
exit $status
