// A nightly batch job: score every image in a folder with a saved model, write one CSV row per file
// (unreadable files get an error row, nothing is skipped) and exit with 1 if any row failed.
//   dotnet run --project examples/BatchScoring -- [--model model.zip] [--images <folder>] [--out scores.csv]
// Without a model, one is trained quickly on the sample images first; without a folder, 50 sample images are
// scored (with --with-broken-file, plus one deliberately broken file, which makes the exit code 1).
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Examples;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

string? Option(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
string images = Option("--images") ?? DemoFolder(args.Contains("--with-broken-file"));
string output = Option("--out") ?? Path.Combine(Path.GetTempPath(), "mlnet-bayesian-batch-scores.csv");
string modelPath = Option("--model") ?? Path.Combine(Path.GetTempPath(), "mlnet-bayesian-batch-model.zip");
if (Option("--model") is null)
{
    Console.WriteLine($"training a quick model -> {modelPath}");
    Samples.TrainModel(Samples.Entries(Samples.ImageFolderPath()), modelPath, new[] { 2, 1, 1 });
}

var ml = new MLContext();
var model = BayesianModel.Load(ml, modelPath, out _);
var files = ImageFolder.ListImageFiles(images);

int failed = 0;
using var writer = new StreamWriter(output);
writer.WriteLine("path,predicted_class,confidence,mutual_information,error");
foreach (var chunk in files.Chunk(200))
{
    var readable = new List<string>();
    foreach (string file in chunk)
    {
        // The library's check says what is wrong with a file (not an image, truncated, too large) before it is decoded.
        try { ImageFileCheck.CheckFile(file); readable.Add(file); }
        catch (InvalidDataException e)
        {
            failed++;
            writer.WriteLine($"{file},,,,\"{e.Message.Replace("\"", "'")}\"");
        }
    }
    if (readable.Count == 0) continue;
    var scored = model.Transform(ml.Data.LoadFromEnumerable(readable.Select(f => new ImageFolderEntry { ImagePath = f })));
    var named = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(scored).Transform(scored);
    foreach (var (row, file) in ml.Data.CreateEnumerable<Row>(named, reuseRowObject: false).Zip(readable))
        writer.WriteLine($"{file},{row.PredictedClass},{row.Confidence.ToString(CultureInfo.InvariantCulture)},{row.MutualInformation.ToString(CultureInfo.InvariantCulture)},");
}
Console.WriteLine($"{files.Count} files, {files.Count - failed} scored, {failed} failed -> {output}");
return failed > 0 ? 1 : 0;

static string DemoFolder(bool withBrokenFile)
{
    string folder = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-batch-demo");
    if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    var sample = Samples.Entries(Samples.ImageFolderPath()).Where((_, i) => i % 20 == 0).ToList();
    Directory.CreateDirectory(folder);
    foreach (var e in sample) File.Copy(e.ImagePath, Path.Combine(folder, $"{e.Label}-{Path.GetFileName(e.ImagePath)}"));
    if (withBrokenFile) File.WriteAllText(Path.Combine(folder, "broken.png"), "not a picture");
    return folder;
}

// The library's prediction row plus the class name that MapKeyToValue adds.
sealed class Row : BayesianPrediction
{
    public string PredictedClass { get; set; } = "";
}
