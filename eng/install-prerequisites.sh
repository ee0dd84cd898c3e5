#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for this repository, from apt, only what is missing:
# - dataset-fashion-mnist: the full Fashion-MNIST data set (the main job and the benchmark);
# - python3-onnx: the ONNX project's checker, which the tests run over the exported graph;
# - python3-pil and tuxpaint-stamps-default (160 MB): eng/make-stamps-dataset.py, the colour data set of the main job,
#   the ColourPhotos example and the transfer benchmark;
# - slurm-wlm and munge: the one-node Slurm cluster of the sharded-scoring test (eng/slurm);
# - chromium and chromium-driver: the headless browser of the review page's test (Selenium drives it).
# The .NET SDK 10 must already be installed.
set -euo pipefail
command -v dotnet >/dev/null || { echo "error: the .NET SDK 10 is required (dotnet not found on PATH)" >&2; exit 1; }
missing=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || missing+=(python3-onnx)
/usr/bin/python3 -c 'import PIL' 2>/dev/null || missing+=(python3-pil)
[ -d /usr/share/tuxpaint/stamps/animals ] || missing+=(tuxpaint-stamps-default)
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing with apt: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
