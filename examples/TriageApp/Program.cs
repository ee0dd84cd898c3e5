// A triage app: decide confident images automatically, route uncertain ones to a review folder for a person,
// and report the accuracy of the decided ones. The review threshold is tuned on held-out labelled images.
//   dotnet run --project examples/TriageApp -- [<labelled image folder>] [--coverage 0.8] [--out <folder>] [--quick]
using Microsoft.ML;
using MLNet.Bayesian.Examples;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
bool quick = args.Contains("--quick");
var positional = args.Where((a, i) => !a.StartsWith("--") && (i == 0 || !args[i - 1].StartsWith("--") || args[i - 1] == "--quick")).ToList();
string folder = positional.FirstOrDefault() ?? Samples.ImageFolderPath();
double coverage = double.Parse(Option("--coverage") ?? "0.8", System.Globalization.CultureInfo.InvariantCulture);
string outRoot = Option("--out") ?? Path.Combine(Path.GetTempPath(), "mlnet-bayesian-triage");

// Three parts: training, tuning the threshold, and the "incoming" images the app triages.
var entries = Samples.Entries(folder).OrderBy(e => e.ImagePath.GetHashCode(StringComparison.Ordinal)).ToList();
int n = entries.Count;
var train = entries.Take(n * 6 / 10).ToList();
var tune = entries.Skip(n * 6 / 10).Take(n * 2 / 10).ToList();
var incoming = entries.Skip(n * 8 / 10).ToList();

string zip = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-triage-model.zip");
Console.WriteLine($"training on {train.Count} images");
Samples.TrainModel(train, zip, quick ? new[] { 2, 1, 1 } : new[] { 6, 2, 1 });
var ml = new MLContext();
var model = BayesianModel.Load(ml, zip, out _);
var rule = ml.MulticlassClassification.FitReviewRule(model.Transform(ml.Data.LoadFromEnumerable(tune)), coverage: coverage);
Console.WriteLine($"review rule: {rule}");

if (Directory.Exists(outRoot)) Directory.Delete(outRoot, recursive: true);
var scored = model.Transform(ml.Data.LoadFromEnumerable(incoming));
var named = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(scored).Transform(scored);
int accepted = 0, acceptedCorrect = 0, allCorrect = 0;
foreach (var (row, entry) in ml.Data.CreateEnumerable<Row>(named, reuseRowObject: false).Zip(incoming))
{
    bool correct = row.PredictedClass == entry.Label;
    if (correct) allCorrect++;
    bool review = rule.NeedsReview(row);   // any of the rule's scores (entropy, mutual information) past its threshold
    string target = review ? Path.Combine(outRoot, "review") : Path.Combine(outRoot, "accepted", row.PredictedClass);
    if (!review) { accepted++; if (correct) acceptedCorrect++; }
    Directory.CreateDirectory(target);
    File.Copy(entry.ImagePath, Path.Combine(target, $"{entry.Label}-{Path.GetFileName(entry.ImagePath)}"));
}
Console.WriteLine($"incoming {incoming.Count}: {accepted} decided automatically at {(double)acceptedCorrect / Math.Max(accepted, 1):P1} accuracy, " +
                  $"{incoming.Count - accepted} sent to {Path.Combine(outRoot, "review")}; accuracy if every image were decided: {(double)allCorrect / incoming.Count:P1}");

// The library's prediction row plus the class name that MapKeyToValue adds.
sealed class Row : BayesianPrediction
{
    public string PredictedClass { get; set; } = "";
}
