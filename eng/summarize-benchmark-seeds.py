"""Sums up methods-benchmark runs that differ only in their seed (results.json of `--seed N`): per method the mean
and range of accuracy, NLL, ECE and the OOD AUROCs, then per run whether 2DGBNN's AUROC by mutual information reaches
MC dropout's and the deep ensemble's with accuracy >= deterministic, ECE <= 0.01 and NLL <= deterministic (issue 13's
target, which one run decides). One run's AUROC moves by a few hundredths with the seed alone: compare means.
    python3 eng/summarize-benchmark-seeds.py <dir>/seed-1/results.json <dir>/seed-2/results.json ... [> summary.md]
"""
import json
import statistics
import sys

COLUMNS = [("accuracy", "accuracy", 100, "{:.2f}%"), ("nll", "NLL", 1, "{:.4f}"), ("ece", "ECE", 1, "{:.4f}"),
           ("ood_auroc_mutual_information", "AUROC MI", 1, "{:.3f}"), ("ood_auroc_entropy", "AUROC entropy", 1, "{:.3f}"),
           ("ood_auroc_energy", "AUROC energy", 1, "{:.3f}"), ("ood_auroc_feature_distance", "AUROC feature distance", 1, "{:.3f}")]


def load(path):
    with open(path, encoding="utf-8") as f:
        run = json.load(f)
    return run, {m["method"]: m for m in run["methods"]}


def cell(values, scale, fmt):
    values = [v * scale for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ({fmt.format(min(values))} to {fmt.format(max(values))})"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    runs = [load(p) for p in paths]
    settings = {(r["dataset"], r["architecture"], json.dumps(r["epochs"], sort_keys=True), r["device"]) for r, _ in runs}
    if len(settings) != 1:
        sys.exit(f"The runs differ in more than their seed (data set, architecture, epochs, device): {sorted(settings)}")
    seeds = [r.get("seed") for r, _ in runs]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"Two runs have the same seed: {seeds}")
    first = runs[0][0]
    print(f"{len(runs)} runs of the methods benchmark, seeds {', '.join(map(str, seeds))}: {first['architecture']} on {first['dataset']}, "
          f"epochs {first['epochs']}, device {first['device']}. Each cell: mean (lowest to highest).\n")
    print("| method | " + " | ".join(c[1] for c in COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name in [m["method"] for m in first["methods"]]:
        print(f"| {name} | " + " | ".join(cell([by[name][key] for _, by in runs], scale, fmt) for key, _, scale, fmt in COLUMNS) + " |")

    print("\nPer run: does 2DGBNN's AUROC by mutual information reach MC dropout's and the deep ensemble's, with accuracy >= "
          "deterministic, ECE <= 0.01 and NLL <= deterministic?\n")
    print("| seed | variant | tau | AUROC MI | MC dropout | deep ensemble | accuracy (deterministic) | ECE | NLL (deterministic) | met |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    wins = {}
    for (run, by), seed in zip(runs, seeds):
        det, mcd, ens = by["deterministic"], by["mc_dropout"], by["deep_ensemble"]
        for variant in ("2dgbnn_shared", "2dgbnn_hierarchical"):
            m = by[variant]
            checks = {
                "MI >= MC dropout": m["ood_auroc_mutual_information"] >= mcd["ood_auroc_mutual_information"],
                "MI >= deep ensemble": m["ood_auroc_mutual_information"] >= ens["ood_auroc_mutual_information"],
                "accuracy": m["accuracy"] >= det["accuracy"],
                "ECE": m["ece"] <= 0.01,
                "NLL": m["nll"] <= det["nll"],
            }
            for k, ok in checks.items():
                wins.setdefault(variant, {}).setdefault(k, 0)
                wins[variant][k] += ok
            missed = [k for k, ok in checks.items() if not ok]
            tau = m.get("posterior_scale")   # runs before the posterior scale have none
            print(f"| {seed} | {variant} | {'-' if tau is None else f'{tau:.3g}'} | {m['ood_auroc_mutual_information']:.3f} | {mcd['ood_auroc_mutual_information']:.3f} | "
                  f"{ens['ood_auroc_mutual_information']:.3f} | {100 * m['accuracy']:.2f}% ({100 * det['accuracy']:.2f}%) | {m['ece']:.4f} | "
                  f"{m['nll']:.4f} ({det['nll']:.4f}) | {'yes' if not missed else 'no: ' + ', '.join(missed)} |")
    print()
    for variant, counts in wins.items():
        print(f"{variant}: " + ", ".join(f"{k} in {v} of {len(runs)} runs" for k, v in counts.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
