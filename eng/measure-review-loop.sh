#!/usr/bin/env bash
# The review loop end to end, measured: a model trained on few images scores images it never saw, a simulated person
# decides the ones its review rule flags (through the review server's HTTP API, as the page does), and a second model
# trains with those decisions. Reports what the person was asked, what the second model gained on the test set and on
# unfamiliar images, and how POST /predict of the same server holds under load (the --predict-load benchmark).
#   eng/measure-review-loop.sh [out folder, default artifacts/review-loop]
#   environment: EPOCHS (default 10,3,3), CLIENTS (4), LOAD_SECONDS (30 per pass, two passes),
#   REVIEW_ENGINES (default: "default", the CLI's own, one engine per processor; a number passes --engines)
# Data (eng/make-review-loop-data.py, deterministic): train/ the first 100 Fashion-MNIST training images per class,
# incoming/fashion/ the next 60 per class, incoming/digits/ 200 scikit-learn digits at 28x28, test/ 100 test images per class.
# Needs the full Fashion-MNIST (apt-get install dataset-fashion-mnist). About 2.5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$(realpath -m "${1:-artifacts/review-loop}")
EPOCHS=${EPOCHS:-10,3,3}
CLIENTS=${CLIENTS:-4}
LOAD_SECONDS=${LOAD_SECONDS:-30}
REVIEW_ENGINES=${REVIEW_ENGINES:-default}
CLI="$ROOT/src/MLNet.Bayesian.Cli/bin/Release/net10.0/MLNet.Bayesian.Cli.dll"
BENCH="$ROOT/tests/MLNet.Bayesian.Benchmarks/bin/Release/net10.0/MLNet.Bayesian.Benchmarks.dll"

# Every figure comes from this run's files: an earlier run's folder is removed, anything else is left alone.
if [ -e "$OUT" ] && [ ! -e "$OUT/.review-loop" ]; then
    echo "$OUT exists and was not written by this script: give another folder, or move it away." >&2
    exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT/logs"
touch "$OUT/.review-loop"
: > "$OUT/timings.tsv"
START=$(date +%s.%N)
# Seconds since a `date +%s.%N` stamp, one decimal.
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Runs one step with its output in logs/<name>.log; LibTorch's NNPACK warnings (one per convolution on CPUs without
# NNPACK support) stay in the log and out of the console. The step's wall time goes to timings.tsv.
step() {
    local name=$1 status=0 t0; shift
    t0=$(date +%s.%N)
    echo "== $name: $*"
    # The status is returned rather than left to set -e, which a caller's `step ... || ...` turns off inside the function.
    "$@" 2>&1 | tee "$OUT/logs/$name.log" | { grep -v 'NNPACK' || true; } || status=$?
    echo -e "$name\t$(since "$t0")" >> "$OUT/timings.tsv"
    return "$status"
}

step build-cli dotnet build -c Release src/MLNet.Bayesian.Cli -v quiet -nologo
step build-benchmarks dotnet build -c Release tests/MLNet.Bayesian.Benchmarks -v quiet -nologo
step data python3 eng/make-review-loop-data.py "$OUT"

cd "$OUT"
step train-before dotnet "$CLI" train --data train --out before.zip --seed 1 --epochs "$EPOCHS"
step evaluate-before dotnet "$CLI" evaluate --model before.zip --data test --ood incoming/digits --report report-before
step score dotnet "$CLI" score --model before.zip --images incoming --out incoming/predictions.csv

# The server, as a user starts it: with more clients than engines (4 against 2 here) the pool makes extra engines under
# load and disposes them when they come back, which is part of what is measured.
ENGINES_FLAG=()
if [ "$REVIEW_ENGINES" != default ]; then ENGINES_FLAG=(--engines "$REVIEW_ENGINES"); fi
echo "== review: dotnet $CLI review --model before.zip --predictions incoming/predictions.csv --images incoming --port 0 --reviewer simulated ${ENGINES_FLAG[*]}"
t0=$(date +%s.%N)
# `dotnet x.dll` is the server process itself (no wrapper), so $! is the pid whose memory the benchmark reads.
dotnet "$CLI" review --model before.zip --predictions incoming/predictions.csv --images incoming --port 0 --reviewer simulated "${ENGINES_FLAG[@]}" \
    > logs/review.log 2>&1 < /dev/null &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
URL=""
for _ in $(seq 1 240); do
    URL=$(sed -n 's/^review: \(http[^ ]*\)$/\1/p' logs/review.log | head -n 1)
    [ -n "$URL" ] && break
    if ! kill -0 "$SERVER" 2>/dev/null; then echo "the review server stopped before printing its URL:" >&2; grep -v NNPACK logs/review.log >&2; exit 1; fi
    sleep 0.5
done
[ -n "$URL" ] || { echo "the review server printed no URL in 120 s:" >&2; grep -v NNPACK logs/review.log >&2; exit 1; }
grep -v NNPACK logs/review.log
echo -e "review-start\t$(since "$t0")" >> timings.tsv

# The load first: the person's decisions do not change what /predict answers, and the benchmark then finds the server
# as a caller would, freshly started. Its failure is reported in the summary rather than ending the loop.
LOAD_STATUS=0
step predict-load dotnet "$BENCH" --predict-load --url "$URL" --images incoming --clients "$CLIENTS" --seconds "$LOAD_SECONDS" \
    --server-pid "$SERVER" --out predict-load || LOAD_STATUS=$?
if [ "$LOAD_STATUS" = 0 ] && [ ! -s predict-load/predict-load.md ]; then LOAD_STATUS=1; fi

# The simulated person: every flagged row gets a decision, from the truth the path carries. A digit is none of the
# classes (unknown); a Fashion-MNIST image is accepted when the model named its folder's class, relabelled otherwise.
step person python3 - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1].split("?")[0].rstrip("/")
state = json.load(urllib.request.urlopen(url + "/api/state"))
classes = set(state["classes"])
counts = {"accept": 0, "relabel": 0, "unknown": 0}
for item in state["items"]:
    if not item["flagged"]:
        continue
    parts = item["path"].replace("\\", "/").split("/")
    if parts[0] == "digits":
        body = {"decision": "unknown"}
    elif parts[0] == "fashion" and parts[1] in classes:
        body = {"decision": "accept"} if item["predicted"] == parts[1] else {"decision": "relabel", "label": parts[1]}
    else:
        raise SystemExit(f"{item['path']}: neither digits/ nor fashion/<class>/")
    body["reviewer"] = "simulated"
    request = urllib.request.Request(f"{url}/api/items/{item['id']}/decision", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    answer = json.load(urllib.request.urlopen(request))
    # The server may turn a relabel to the predicted class into an accept: what it saved is what counts.
    counts[answer["decision"]["decision"]] += 1
state = json.load(urllib.request.urlopen(url + "/api/state"))
undecided = [i["path"] for i in state["items"] if i["flagged"] and not i["decision"]]
if undecided:
    raise SystemExit(f"{len(undecided)} flagged rows have no decision after the person: {undecided[:5]}")
print(json.dumps(counts))
json.dump({"decisions": counts, "decisions_file": state["decisionsFile"]}, open("person.json", "w"), indent=1)
PY
# Each decision was fsynced before its answer: killing the server loses nothing.
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
trap - EXIT
DECISIONS=$(python3 -c 'import json; print(json.load(open("person.json"))["decisions_file"])')

step train-after dotnet "$CLI" train --data train --reviewed "$DECISIONS" --out after.zip --seed 1 --epochs "$EPOCHS"
step evaluate-after dotnet "$CLI" evaluate --model after.zip --data test --ood incoming/digits --report report-after
echo -e "total\t$(since "$START")" >> timings.tsv

python3 - "$OUT" "$EPOCHS" "$LOAD_STATUS" "${ENGINES_FLAG[1]:-the CLI default, one per processor}" <<'PY'
import csv, json, os, sys
out, epochs, load_status, engines = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
os.chdir(out)

def table(log):
    """The rows of the train command's table (measure -> value); a value that wraps continues on the next line."""
    rows, last = {}, None
    for line in open(log, encoding="utf-8"):
        cells = [c.strip() for c in line.rstrip("\n").split("\u2502")]
        if len(cells) != 4:
            continue
        if cells[1]:
            last = cells[1]
            rows[last] = cells[2]
        elif last:
            rows[last] += " " + cells[2]
    return rows

before_table, after_table = table("logs/train-before.log"), table("logs/train-after.log")
metrics = {name: json.load(open(f"report-{name}/metrics.json")) for name in ("before", "after")}
person = json.load(open("person.json"))["decisions"]
with open("incoming/predictions.csv", newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
fashion = [r for r in rows if r["path"].startswith("fashion/")]
digits = [r for r in rows if r["path"].startswith("digits/")]
flagged = lambda rs: [r for r in rs if r["needs_review"] == "true"]
right = lambda rs: sum(r["predicted_label"] == r["path"].split("/")[1] for r in rs)
kept_fashion = [r for r in fashion if r["needs_review"] != "true"]
timings = dict(line.rstrip("\n").split("\t") for line in open("timings.tsv"))

def pct(v):
    return "none" if v is None else f"{100 * v:.1f} %"

def share(n, d):
    return f"{n} of {d} ({100 * n / d:.1f} %)" if d else f"{n} of 0"

lines = [
    "# Review loop, measured",
    "",
    f"Fashion-MNIST, SmallCnn 2DGBNN, epochs {epochs}, seed 1, CLI defaults otherwise; 1,000 training images (100 per class), "
    f"800 incoming (600 Fashion-MNIST never trained on, 200 scikit-learn digits at 28x28), 1,000 test images (100 per class). "
    f"One run on {os.cpu_count()} cores; `eng/measure-review-loop.sh`.",
    "",
    "## What the first model sent to the person",
    "",
    f"- flagged (needs_review): Fashion-MNIST {share(len(flagged(fashion)), len(fashion))}, digits {share(len(flagged(digits)), len(digits))}",
    f"- decisions: accept {person['accept']}, relabel {person['relabel']}, unknown {person['unknown']}",
    f"- old model's accuracy on the flagged Fashion-MNIST images (its label against the person's): {share(right(flagged(fashion)), len(flagged(fashion)))}",
    f"- old model's accuracy on the Fashion-MNIST images it decided alone (not flagged): {share(right(kept_fashion), len(kept_fashion))}",
    "",
    "## train --reviewed",
    "",
    "| measure | before.zip | after.zip |",
    "|---|---|---|",
]
for key in ("validation accuracy", "validation NLL", "validation ECE"):
    lines.append(f"| {key} | {before_table.get(key, '')} | {after_table.get(key, '')} |")
lines += ["", "Each model's validation images are its own 10 % of its training data (after.zip's include some reviewed images): "
          "the two rows are not on the same images.", "", "Rows of the `train --reviewed` table:", ""]
lines += [f"- {k}: {v}" for k, v in after_table.items() if k.startswith(("reviewed images", "unknown images"))]
b, a = metrics["before"], metrics["after"]
lines += [
    "",
    "## Test set and unfamiliar images (evaluate)",
    "",
    "| measure | before.zip | after.zip |",
    "|---|---|---|",
    f"| test accuracy ({b['images']} images) | {pct(b['accuracy'])} | {pct(a['accuracy'])} |",
    f"| test NLL | {b['nll']:.4f} | {a['nll']:.4f} |",
    f"| test ECE | {b['ece']:.4f} | {a['ece']:.4f} |",
    f"| review rule: share of test kept (decided alone) | {pct(b.get('review_rule_kept'))} | {pct(a.get('review_rule_kept'))} |",
    f"| review rule: accuracy of the kept test images | {pct(b.get('review_rule_accuracy_of_kept'))} | {pct(a.get('review_rule_accuracy_of_kept'))} |",
    f"| review rule: digits flagged ({b.get('ood_images')} images) | {pct(b.get('ood_flagged_by_review_rule'))} | {pct(a.get('ood_flagged_by_review_rule'))} |",
]
for score in b.get("ood_auroc", {}):
    lines.append(f"| OOD AUROC test vs digits, {score} | {b['ood_auroc'][score]:.3f} | {a.get('ood_auroc', {}).get(score, float('nan')):.3f} |")
lines += [
    "",
    "The digits of evaluate --ood are the incoming ones: the flagged ones were marked unknown, which keeps them out of "
    "the second model's training data; none of them ever trained either model.",
    "",
    f"## POST /predict under load (the review server of before.zip, --engines: {engines})",
    "",
]
if os.path.exists("predict-load/predict-load.md"):
    lines += [l.rstrip("\n") for l in open("predict-load/predict-load.md")]
if load_status:
    lines += ["", f"**The load benchmark failed (exit {load_status}): see logs/predict-load.log.**"]
lines += ["", "## Wall times (s)", "", "| step | seconds |", "|---|---|"]
lines += [f"| {k} | {float(v):.1f} |" for k, v in timings.items()]
open("summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
echo "summary: $OUT/summary.md"
exit "$LOAD_STATUS"
