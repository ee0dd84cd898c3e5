"""Checks a methods-benchmark results.json: the exact keys, one object per method, numbers that are finite
and in range, and null only where a key may be null. Exit 1 with the reasons otherwise.
    python3 eng/check-benchmark-results.py <dir>/results.json
"""
import json
import math
import sys

TOP = {"dataset", "architecture", "epochs", "quick", "commit", "date", "threads", "device", "seed", "methods"}
METHOD = ["method", "accuracy", "nll", "ece", "brier", "aurc", "ood_auroc_entropy", "ood_auroc_mutual_information",
          "ood_auroc_confidence", "ood_auroc_feature_distance", "ood_auroc_energy", "shift_rotate30_accuracy", "shift_rotate30_ece", "shift_noise_accuracy", "shift_noise_ece",
          "trainable_parameters", "model_bytes", "train_step_ms", "train_step_ratio_vs_deterministic",
          "predict_images_per_s", "predict_images_per_s_mlnet", "posterior_build_seconds", "posterior_scale", "samples"]
UNIT = {"accuracy", "ece", "aurc", "ood_auroc_entropy", "ood_auroc_mutual_information", "ood_auroc_confidence", "ood_auroc_feature_distance",
        "ood_auroc_energy",
        "shift_rotate30_accuracy", "shift_rotate30_ece", "shift_noise_accuracy", "shift_noise_ece"}
# The methods with a Gaussian posterior: each scores with a posterior scale chosen on validation.
GAUSSIAN = {"mean_field", "2dgbnn_shared", "2dgbnn_hierarchical"}
METHODS = {"deterministic", "mean_field", "2dgbnn_shared", "2dgbnn_hierarchical", "mc_dropout", "deep_ensemble"}

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    results = json.load(f)
errors = []
if results.get("device") not in ("cpu", "cuda"):
    errors.append(f"device {results.get('device')!r} is not cpu or cuda")
if set(results) != TOP:
    errors.append(f"top-level keys {sorted(results)} differ from {sorted(TOP)}")
names = [m.get("method") for m in results.get("methods", [])]
if set(names) != METHODS or len(names) != len(METHODS):
    errors.append(f"methods {names}, expected one each of {sorted(METHODS)}")
for m in results.get("methods", []):
    name = m.get("method")
    if list(m) != METHOD:
        errors.append(f"{name}: keys {list(m)} differ from {METHOD}")
    for key in METHOD[1:]:
        value = m.get(key)
        if value is None:
            if key == "posterior_build_seconds" and not name.startswith("2dgbnn"):
                continue
            if key == "posterior_scale" and name not in GAUSSIAN:
                continue
            if not (key == "ood_auroc_mutual_information" and name == "deterministic"):
                errors.append(f"{name}: {key} is null")
            continue
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            errors.append(f"{name}: {key} = {value!r} is not a finite non-negative number")
        elif key in UNIT and value > 1:
            errors.append(f"{name}: {key} = {value} is above 1")
    if name == "deterministic" and m.get("ood_auroc_mutual_information") is not None:
        errors.append("deterministic: ood_auroc_mutual_information must be null (one sample has no mutual information)")
    if name and name.startswith("2dgbnn") and m.get("posterior_build_seconds") is None:
        errors.append(f"{name}: posterior_build_seconds is null (2DGBNN builds its posterior in stage 2)")
    if name and not name.startswith("2dgbnn") and m.get("posterior_build_seconds") is not None:
        errors.append(f"{name}: posterior_build_seconds must be null (the method has no stage 2)")
    if name and name not in GAUSSIAN and m.get("posterior_scale") is not None:
        errors.append(f"{name}: posterior_scale must be null (the method has no Gaussian posterior to scale)")
    if name and name != "deterministic" and m.get("samples", 0) < 2:
        errors.append(f"{name}: samples {m.get('samples')} (a Bayesian method averages several)")
for e in errors:
    print(f"{path}: {e}")
print(f"{path}: {'ok' if not errors else f'{len(errors)} problem(s)'} ({len(names)} methods)")
sys.exit(1 if errors else 0)
