#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for this repository: the full Fashion-MNIST data set
# (Debian package dataset-fashion-mnist). The .NET SDK 10 must already be installed.
set -euo pipefail
command -v dotnet >/dev/null || { echo "error: the .NET SDK 10 is required (dotnet not found on PATH)" >&2; exit 1; }
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
