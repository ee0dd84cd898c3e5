#!/usr/bin/env python3
"""Summarises the transfer benchmark's colour-set runs over seeds (issue 33 part 3: det+Energy as the bar on the colour set).

Usage: eng/summarise-colour-seeds.py OUT.md DIR [DIR ...]
Each DIR holds a transfer-colour.json written by
  dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- --transfer --part colour --seed N --out DIR
The unfamiliar images there are the colour set's never-seen classes. Writes mean +- sample sd over the seeds of accuracy,
NLL, ECE and OOD AUROC by score per (network, model), and on how many seeds each 2DGBNN score is above the same network's
deterministic stage 0 by Energy.
"""
import json
import statistics
import sys


def mean_sd(values, fmt="{:.3f}", scale=1.0):
    values = [v * scale for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, dirs = sys.argv[1], sys.argv[2:]
    runs = []
    for d in dirs:
        with open(f"{d}/transfer-colour.json", encoding="utf-8") as f:
            runs.append(json.load(f))
    scores = ["Energy", "FeatureDistance", "PredictiveEntropy", "MutualInformation", "Confidence"]
    # A 2DGBNN row is named after what the stage-0 guard did ("2DGBNN shared" or "2DGBNN -> stage 0 kept"), which
    # differs between seeds: rows are grouped as deterministic or 2DGBNN per network.
    def kind(model):
        return "deterministic (stage 0)" if model.startswith("deterministic") else "2DGBNN shared"

    keys = []
    for r in runs[0]["rows"]:
        keys.append((r["Network"], kind(r["Model"])))

    def rows_of(network, model):
        found = []
        for run in runs:
            found += [r for r in run["rows"] if r["Network"] == network and kind(r["Model"]) == model]
        return found

    def deterministic_energy(run, network):
        for r in run["rows"]:
            if r["Network"] == network and r["Model"].startswith("deterministic"):
                return r["AurocByScore"].get("Energy")
        return None

    lines = [
        "# Colour set over seeds: deterministic stage 0 by Energy against 2DGBNN by each score",
        "",
        f"Written by `eng/summarise-colour-seeds.py` from {', '.join(f'`{d}/transfer-colour.json`' for d in dirs)} "
        f"(seeds {', '.join(str(r['seed']) for r in runs)}; each from "
        "`dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- --transfer --part colour --seed N --out DIR`). "
        "Unfamiliar images: the colour set's never-seen classes. Cells: mean ± sample sd over the seeds; "
        "\"> det+E\": seeds on which the score's AUROC is above the same network's deterministic stage 0 by Energy.",
        "",
        "| network | model | accuracy % | NLL | ECE | " + " | ".join(f"AUROC {s}" for s in scores) + " | "
        + " | ".join(f"{s} > det+E" for s in scores) + " |",
        "|---|---|---|---|---|" + "---|" * (2 * len(scores)),
    ]
    for network, model in keys:
        rs = rows_of(network, model)
        cells = [mean_sd([r["Accuracy"] for r in rs], "{:.1f}", 100), mean_sd([r["Nll"] for r in rs]),
                 mean_sd([r["Ece"] for r in rs])]
        cells += [mean_sd([r["AurocByScore"].get(s) for r in rs]) for s in scores]
        deterministic = model.startswith("deterministic")
        for s in scores:
            if deterministic:
                cells.append("-")
                continue
            won = n = 0
            for run in runs:
                bar = deterministic_energy(run, network)
                mine = [r["AurocByScore"].get(s) for r in run["rows"] if r["Network"] == network and kind(r["Model"]) == model]
                if bar is None or not mine or mine[0] is None:
                    continue
                n += 1
                won += mine[0] > bar
            cells.append(f"{won}/{n}" if n else "-")
        kept = sum("stage 0 kept" in r["Model"] for r in rs)
        label = model + (f" (the guard kept stage 0 on {kept} of {len(rs)} seeds)" if kept else "")
        lines.append(f"| {network} | {label} | " + " | ".join(cells) + " |")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
