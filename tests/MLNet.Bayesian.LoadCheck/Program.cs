// Usage: MLNet.Bayesian.LoadCheck <model.zip> <image folder> <output.csv> [--plain-load]
// Loads a saved pipeline in a fresh process and writes, per image of the class-per-folder tree (sorted by
// path), the predicted label and every score column, with round-trip float formatting.
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

if (args.Length is < 3 or > 4)
{
    Console.Error.WriteLine("usage: MLNet.Bayesian.LoadCheck <model.zip> <image folder> <output.csv> [--plain-load]");
    return 2;
}
var ml = new MLContext(seed: 123);
// --plain-load: mlContext.Model.Load without BayesianModel's registration, to show what a user sees then.
var model = args.Length == 4 ? ml.Model.Load(args[0], out _) : BayesianModel.Load(ml, args[0], out _);
string root = args[1];
var rows = Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal)
    .SelectMany(d => Directory.GetFiles(d).OrderBy(f => f, StringComparer.Ordinal).Select(f => new ImageFolderEntry { ImagePath = f, Label = Path.GetFileName(d) }))
    .ToList();
var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
var predicted = scored.Schema[BayesianColumnNames.PredictedLabel];
var names = ImageSetDataView.KeyNames(predicted, (int)((KeyDataViewType)predicted.Type).Count);
using var writer = new StreamWriter(args[2]);
foreach (var r in ml.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false))
    writer.WriteLine(string.Join(",", new[] { names[(int)r.PredictedLabel - 1], R(r.Confidence), R(r.PredictiveEntropy), R(r.ExpectedEntropy), R(r.MutualInformation) }
        .Concat(r.Score.Select(R))));
Console.WriteLine($"scored {rows.Count} images");
return 0;

static string R(float v) => v.ToString("R", CultureInfo.InvariantCulture);
