// Photos in, ModelInput / ModelOutput out: a folder of colour images of any size (one sub-folder per class) trains a
// 2DGBNN head on a pretrained ResNet-18; the saved zip classifies photos and says which ones a person should look at.
//   dotnet run -c Release --project examples/ColourPhotos -- [<train folder> [<test folder>]] [--quick]
// Without folders it uses the colour set of eng/make-stamps-dataset.py (artifacts/stamps), making it first if needed.
using System.Diagnostics;
using ColourPhotos;
using MLNet.Bayesian.Data;

bool quick = args.Contains("--quick");
var folders = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
string train = folders.ElementAtOrDefault(0) ?? Path.Combine("artifacts", "stamps", "train");
string? test = folders.ElementAtOrDefault(1) ?? (folders.Count == 0 ? Path.Combine("artifacts", "stamps", "test") : null);
if (folders.Count == 0 && !Directory.Exists(train))
{
    Console.WriteLine("making the colour set: /usr/bin/python3 eng/make-stamps-dataset.py artifacts/stamps");
    using var make = Process.Start("/usr/bin/python3", new[] { Path.Combine("eng", "make-stamps-dataset.py"), Path.Combine("artifacts", "stamps") })!;
    make.WaitForExit();
    if (make.ExitCode != 0) { Console.Error.WriteLine("eng/make-stamps-dataset.py failed (it needs apt-get install tuxpaint-stamps-default python3-pil)."); return 1; }
}
if (!Directory.Exists(train)) { Console.Error.WriteLine($"'{train}' does not exist: give a folder with one sub-folder of photos per class."); return 1; }

PhotoClassifierModel.ModelPath = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-colour-photos.zip");
var clock = Stopwatch.StartNew();
PhotoClassifierModel.Train(train, quick ? new[] { 10, 1, 1 } : new[] { 30, 5, 5 });
Console.WriteLine($"trained on {ImageFolder.Read(train).Count} photos from {train} in {clock.Elapsed.TotalSeconds:F0} s -> {PhotoClassifierModel.ModelPath} " +
                  $"({new FileInfo(PhotoClassifierModel.ModelPath).Length / 1e6:F0} MB, the backbone included)");
if (test is null) return 0;

int right = 0, decided = 0, decidedRight = 0, n = 0;
foreach (var entry in ImageFolder.Read(test))
{
    var (output, review) = PhotoClassifierModel.Predict(new ModelInput { ImagePath = Path.Combine(test, entry.ImagePath) });
    bool correct = output.PredictedClass == entry.Label;
    right += correct ? 1 : 0;
    if (!review) { decided++; decidedRight += correct ? 1 : 0; }
    if (n++ % 8 == 0)
        Console.WriteLine($"{entry.ImagePath}: {output.PredictedClass} (confidence {output.Confidence:F2}, feature distance {output.FeatureDistance:F1}){(review ? ", to a person" : "")}; true {entry.Label}");
}
Console.WriteLine($"test: {right}/{n} right ({100.0 * right / n:F1}%); decided automatically {decided} ({100.0 * decided / n:F0}%) at {100.0 * decidedRight / Math.Max(1, decided):F1}% accuracy, " +
                  $"{n - decided} sent to a person");
return 0;
