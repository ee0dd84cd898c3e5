#!/usr/bin/env bash
# The main job: installs the data if missing, then with the command-line tool
#   1. colour photos: makes the colour set from Debian's tuxpaint stamps (eng/make-stamps-dataset.py), trains a 2DGBNN
#      head on the pretrained ResNet-18 (--backbone resnet18-imagenet), evaluates it on the held-out photos with the
#      three classes it never saw as unfamiliar images -> artifacts/colour/model.zip, artifacts/colour/report;
#   2. Fashion-MNIST: trains a 2DGBNN small CNN on the full training set from scratch, evaluates it on the test set
#      with scikit-learn's digits as out-of-distribution images -> artifacts/model.zip, artifacts/report.
#   bash eng/run-main-job.sh            both (about 7 minutes on 2 cores; a first run also writes Fashion-MNIST once
#                                       as PNGs under artifacts/data, 84 s)
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
echo "== colour photos: a 2DGBNN head on the pretrained ResNet-18"
/usr/bin/python3 eng/make-stamps-dataset.py artifacts/stamps
$cli train --data artifacts/stamps/train --backbone resnet18-imagenet --validation-fraction 0.2 --out artifacts/colour/model.zip
$cli evaluate --model artifacts/colour/model.zip --data artifacts/stamps/test --ood artifacts/stamps/unseen --report artifacts/colour/report
echo "== Fashion-MNIST from scratch"
$cli train --data fashion-mnist --out artifacts/model.zip --epochs "${EPOCHS:-5,2,2}" --samples 30 --batch-size 128
$cli evaluate --model artifacts/model.zip --data fashion-mnist --ood tests/data/digits/digits.csv.gz --report artifacts/report
echo
echo "main job done in $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s; it wrote:"
du -sh artifacts/colour/model.zip artifacts/colour/report artifacts/model.zip artifacts/report "$MLNET_BAYESIAN_CACHE" 2>/dev/null | sed 's/^/  /'
echo "  ($(find "$MLNET_BAYESIAN_CACHE" -name '*.png' | wc -l) PNG files in $MLNET_BAYESIAN_CACHE: written once, reused by later runs; delete them freely)"
