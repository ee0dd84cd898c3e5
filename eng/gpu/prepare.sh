#!/usr/bin/env bash
# Builds the GPU check kit on this machine (which has the .NET SDK) into .gpu-kit/ at the repository root (ignored
# by git, carried to the GPU machine with the device tool's `carry`):
#   .gpu-kit/dotnet.tar.xz   the .NET runtime (dotnet host, host/fxr, shared/Microsoft.NETCore.App): the GPU machine has none
#   .gpu-kit/app.tar.xz      framework-dependent publishes, with -p:TorchBackend=system (no LibTorch of their own), of the
#                            test assembly (an executable: Microsoft.Testing.Platform), the benchmark and the
#                            system-LibTorch check, side by side in one folder
# The committed Fashion-MNIST subset travels with the working tree. eng/gpu/run.sh runs the kit there.
#   bash eng/gpu/prepare.sh
# With --full-data the kit is the benchmark alone plus the full Fashion-MNIST from the Debian package as one tar.xz
# (26 MiB), for eng/gpu/benchmark-seeds.sh. With the tracked files that is 60 MiB; ONNX Runtime (the saved model's
# scorer, which saving builds: 8 MiB more) does not fit beside it, so its library goes to .gpu-kit-ort/ for a second
# call while the machine is still warm (README.md, "Seeds on the full data").
#   bash eng/gpu/prepare.sh --full-data
set -euo pipefail
full_data=false
[ "${1:-}" = "--full-data" ] && full_data=true
root=$(cd "$(dirname "$0")/../.." && pwd)
kit="$root/.gpu-kit"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# Publishing with another TorchBackend restores other packages: do it in a copy, so this tree's bin/ and obj/ stay as they are.
echo "== copying the working tree"
mkdir -p "$work/repo"
tar -C "$root" --exclude=.git --exclude=bin --exclude=obj --exclude=.gpu-kit --exclude=artifacts -cf - . | tar -C "$work/repo" -xf -

echo "== publishing (TorchBackend=system, framework-dependent)"
projects="tests/MLNet.Bayesian.Tests tests/MLNet.Bayesian.Benchmarks tests/MLNet.Bayesian.SystemLibTorchCheck"
$full_data && projects=tests/MLNet.Bayesian.Benchmarks
for project in $projects; do
  dotnet publish "$work/repo/$project" -c Release -r linux-x64 --self-contained false -p:TorchBackend=system -p:DebugType=none \
    -o "$work/app" -nologo -v quiet
done
# What the GPU checks do not use and the 64 MiB a device call may carry cannot afford: code-coverage instrumentation
# (MSTest's runner brings it) and native debug symbols.
rm -rf "$work/app/Microsoft.CodeCoverage"
find "$work/app" -name '*.dbg' -delete
if $full_data; then
  rm -rf "$root/.gpu-kit-ort" && mkdir -p "$root/.gpu-kit-ort"
  mv "$work/app/libonnxruntime.so" "$root/.gpu-kit-ort/"
  rm -f "$work/app/"*.xml
fi
if ls "$work/app" | grep -E '^libtorch|^libc10' >/dev/null; then
  echo "error: the publish carries LibTorch natives; the kit must take PyTorch's" >&2
  exit 1
fi

echo "== packing"
rm -rf "$kit"
mkdir -p "$kit"
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
runtime=$(dotnet --list-runtimes | awk '$1 == "Microsoft.NETCore.App" { v = $2 } END { print v }')
tar -C "$dotnet_root" -cf - dotnet host/fxr "shared/Microsoft.NETCore.App/$runtime" | xz -T2 -9 > "$kit/dotnet.tar.xz"
tar -C "$work/app" -cf - . | xz -T2 -9 > "$kit/app.tar.xz"
echo "$runtime" > "$kit/runtime-version"
if $full_data; then
  # gzip -> xz saves the 4 MiB that make the call fit.
  mkdir -p "$work/fashion-mnist"
  for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do gzip -dc "$f" > "$work/fashion-mnist/$(basename "$f" .gz)"; done
  tar -C "$work/fashion-mnist" -cf - . | xz -T2 -9e > "$kit/fashion-mnist.tar.xz"
fi
git -C "$root" rev-parse --short HEAD > "$kit/commit" 2>/dev/null || echo unknown > "$kit/commit"
du -ch "$kit" | sed 's/^/  /'
tracked=$(cd "$root" && git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
echo "kit ready in $kit; with the tracked files the call carries about $(( ($(du -sb "$kit" | cut -f1) + tracked) / 1048576 )) MiB (limit 64 MiB)"
