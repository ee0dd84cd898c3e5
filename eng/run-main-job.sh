#!/usr/bin/env bash
# The main job: installs the data if missing, trains a small CNN through the 2DGBNN stages on the full
# Fashion-MNIST set, and reports test accuracy, NLL, ECE and out-of-distribution uncertainty.
# Extra arguments go to the program (for example --quick, --epochs 5,2,2, --seed 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash eng/install-prerequisites.sh
dotnet run -c Release --project examples/FashionMnistDemo -- --digits tests/data/digits/digits.csv.gz "$@"
