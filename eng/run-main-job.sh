#!/usr/bin/env bash
# The main job: installs the data if missing, trains a 2DGBNN small CNN on the full Fashion-MNIST training set
# with the command-line tool, evaluates it on the test set with scikit-learn's digits as out-of-distribution
# images, and writes the report (metrics.json + PNG plots) to artifacts/report.
#   bash eng/run-main-job.sh            full data (about 5 minutes on 2 cores: 5 min 17 s measured on a first run,
#                                       84 s of it writing the data set once as PNGs under artifacts/data)
#   bash eng/run-main-job.sh --quick    the library demo on a 5,000-image subset (about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
bash eng/install-prerequisites.sh
if [ "${1:-}" = "--quick" ]; then
  exec dotnet run -c Release --project examples/FashionMnistDemo -- --quick --digits tests/data/digits/digits.csv.gz
fi
start=$(date +%s)
echo "building the command-line tool (Release) ..."
dotnet build -c Release src/MLNet.Bayesian.Cli -v quiet -nologo
cli="dotnet src/MLNet.Bayesian.Cli/bin/Release/net10.0/MLNet.Bayesian.Cli.dll"
mkdir -p artifacts
# The tool trains from image files (what the saved model reads); the data set is written once as PNGs here, not in
# the home folder, so that everything this job writes is under artifacts/ and goes with it.
export MLNET_BAYESIAN_CACHE="${MLNET_BAYESIAN_CACHE:-$PWD/artifacts/data}"
$cli train --data fashion-mnist --out artifacts/model.zip --epochs "${EPOCHS:-5,2,2}" --samples 30 --batch-size 128
$cli evaluate --model artifacts/model.zip --data fashion-mnist --ood tests/data/digits/digits.csv.gz --report artifacts/report
echo
echo "main job done in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s; it wrote:"
du -sh artifacts/model.zip artifacts/report "$MLNET_BAYESIAN_CACHE" 2>/dev/null | sed 's/^/  /'
echo "  ($(find "$MLNET_BAYESIAN_CACHE" -name '*.png' | wc -l) PNG files in $MLNET_BAYESIAN_CACHE: written once, reused by later runs; delete them freely)"
