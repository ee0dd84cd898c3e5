// Trainable parameters per stage, and the cost of building the shared posterior, for each architecture,
// from a short run (a few steps of stages 0 and 1 on the committed Fashion-MNIST subset).
//   dotnet run -c Release --project examples/PosteriorScale -- [SmallCnn ResNet20 ResNet18 ResNet50 ResNet101 SmallVit]
//       [--images 64] [--data tests/data/fashion-mnist-subset]
using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;

var names = args.Where(a => !a.StartsWith("--") && Enum.TryParse<Architecture>(a, true, out _)).ToList();
var architectures = names.Count > 0 ? names.Select(n => Enum.Parse<Architecture>(n, true)).ToList() : Enum.GetValues<Architecture>().ToList();
int images = int.Parse(Arg("--images") ?? "64");
string data = Arg("--data") ?? Path.Combine("tests", "data", "fashion-mnist-subset");
var train = FashionMnist.Load(train: true, data).StratifiedHead(Math.Max(1, images / 10));

Console.WriteLine("| architecture | Conv/Linear weights | deterministic | mean-field | 2DGBNN | components | outliers | ellipse | vs deterministic | vs mean-field | build s | run s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
foreach (var architecture in architectures)
{
    var clock = Stopwatch.StartNew();
    var options = new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 1 };
    using var model = new BayesianTrainer(options).Fit(ArchitectureFactory.Create(architecture), train);
    var r = model.Report;
    var p = r.Posterior!;
    Console.WriteLine($"| {architecture} | {r.BayesianWeights:N0} | {r.DeterministicParameters:N0} | {r.MeanFieldParameters:N0} | {r.SharedParameters:N0} | " +
                      $"{p.Components:N0} | {p.Outliers:N0} | {p.EllipseWeights:N0} | {r.CompressionVsDeterministic:F1}x | {r.CompressionVsMeanField:F1}x | " +
                      $"{p.BuildSeconds:F1} | {clock.Elapsed.TotalSeconds:F0} |");
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
