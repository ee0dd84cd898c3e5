// Trainable parameters per stage, and the cost of building the shared posterior, for each architecture,
// from a short run (a few steps of stages 0 and 1 on the committed Fashion-MNIST subset).
//   dotnet run -c Release --project examples/PosteriorSize -- [SmallCnn ResNet20 ResNet18 ResNet50 ResNet101 SmallVit]
//       [--images 64] [--epochs 1] [--data tests/data/fashion-mnist-subset]
//       [--outlier-quantile 0.01] [--mu-threshold 0.2] [--gradient-fraction 0.01] [--components 256] [--test-images 0]
// --test-images N scores N test images after stage 0 and after stage 3 (S = 10) and adds both accuracies.
using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;

// Names only: Enum.TryParse also accepts numbers, which would turn "--images 640" into architecture 640.
var names = args.Where(a => Enum.GetNames<Architecture>().Contains(a, StringComparer.OrdinalIgnoreCase)).ToList();
var architectures = names.Count > 0 ? names.Select(n => Enum.Parse<Architecture>(n, true)).ToList() : Enum.GetValues<Architecture>().ToList();
int images = int.Parse(Arg("--images") ?? "64");
int epochs = int.Parse(Arg("--epochs") ?? "1");
int testImages = int.Parse(Arg("--test-images") ?? "0");
string data = Arg("--data") ?? Path.Combine("tests", "data", "fashion-mnist-subset");
var train = FashionMnist.Load(train: true, data).StratifiedHead(Math.Max(1, images / 10));
var test = testImages > 0 ? FashionMnist.Load(train: false, data).StratifiedHead(Math.Max(1, testImages / 10)) : null;

var defaults = new TrainerOptions().SharedPosterior;
double quantile = Number("--outlier-quantile", defaults.OutlierQuantile);
double muThreshold = Number("--mu-threshold", defaults.MuThreshold);
double gradientFraction = Number("--gradient-fraction", defaults.GradientFraction);
int components = (int)Number("--components", defaults.ComponentBudget);
Console.WriteLine($"{train.Count} training images, {epochs} epoch(s) per stage; component budget {components}; outliers: quantile box {quantile}, |mu| >= {muThreshold}, top {gradientFraction} by gradient");

Console.WriteLine("| architecture | Conv/Linear weights | deterministic | mean-field | 2DGBNN | components | outliers | ellipse | vs deterministic | vs mean-field | build s | run s |" +
                  (test is null ? "" : " stage-0 accuracy | 2DGBNN accuracy |"));
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|" + (test is null ? "" : "---|---|"));
foreach (var architecture in architectures)
{
    var clock = Stopwatch.StartNew();
    var options = new TrainerOptions { DeterministicEpochs = epochs, MeanFieldEpochs = epochs, SharedEpochs = epochs, BatchSize = 32, PredictionSamples = 1 };
    options.SharedPosterior.OutlierQuantile = quantile;
    options.SharedPosterior.MuThreshold = muThreshold;
    options.SharedPosterior.GradientFraction = gradientFraction;
    options.SharedPosterior.ComponentBudget = components;
    var trainer = new BayesianTrainer(options);
    double? stage0Accuracy = null;
    if (test is not null)
        trainer.StageCompleted = (classifier, stage) => { if (stage == BayesianStage.Deterministic) stage0Accuracy = classifier.Evaluate(test, 1).Accuracy; };
    using var model = trainer.Fit(ArchitectureFactory.Create(architecture), train);
    double seconds = clock.Elapsed.TotalSeconds;
    var r = model.Report;
    var p = r.Posterior!;
    string accuracy = test is null ? "" : $" {100 * stage0Accuracy:F2}% | {100 * model.Evaluate(test, 10).Accuracy:F2}% |";
    Console.WriteLine($"| {architecture} | {r.BayesianWeights:N0} | {r.DeterministicParameters:N0} | {r.MeanFieldParameters:N0} | {r.SharedParameters:N0} | " +
                      $"{p.Components:N0} | {p.Outliers:N0} | {p.EllipseWeights:N0} | {r.CompressionVsDeterministic:F1}x | {r.CompressionVsMeanField:F1}x | " +
                      $"{p.BuildSeconds:F1} | {seconds:F0} |" + accuracy);
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

double Number(string name, double fallback)
    => Arg(name) is string value ? double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;
