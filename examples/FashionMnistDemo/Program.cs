// The main job: train a small CNN through the 2DGBNN stages on Fashion-MNIST, read through an ML.NET
// IDataView, then report accuracy, NLL and ECE of each stage on the test set and the uncertainty on
// out-of-distribution digits.
//   dotnet run -c Release --project examples/FashionMnistDemo -- [--quick] [--data <dir>] [--digits <csv>]
//       [--epochs d,m,s] [--variant shared|hierarchical] [--seed n]
using System.Diagnostics;
using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

bool quick = args.Contains("--quick");
string dataDir = Arg("--data") ?? FashionMnist.DebianDirectory;
string digitsPath = Arg("--digits") ?? DigitsCsvReader.DebianPath;
int[] epochs = (Arg("--epochs") ?? (quick ? "1,1,1" : "5,2,2")).Split(',').Select(int.Parse).ToArray();
int seed = int.Parse(Arg("--seed") ?? "1");
var variant = Enum.Parse<MLNet.Bayesian.Posterior.SamplingVariant>(Arg("--variant") ?? "Hierarchical", ignoreCase: true);

var ml = new MLContext(seed: seed);
var clock = Stopwatch.StartNew();
ImageSet trainSet = FashionMnist.Load(train: true, dataDir), testSet = FashionMnist.Load(train: false, dataDir);
if (quick) { trainSet = trainSet.StratifiedHead(500); testSet = testSet.StratifiedHead(200); }

// Through ML.NET: the data view a pipeline would hand over, with the label mapped to a key.
IDataView trainView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainSet.ToDataView(ml)).Transform(trainSet.ToDataView(ml));
var train = ImageSetDataView.ToImageSet(trainView, "Label", "Pixels", 1, 28, 28);
Console.WriteLine($"train {train.Count} images, test {testSet.Count}, classes: {string.Join(", ", train.ClassNames)}");
// Key values are ordered by first appearance; map the test labels to the same order.
var testLabels = testSet.Labels.Select(l => train.ClassNames.ToList().IndexOf(testSet.ClassNames[l])).ToArray();
var test = new ImageSet(testSet.Pixels, testLabels, 1, 28, 28, train.ClassNames);

var options = new TrainerOptions
{
    DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2],
    BatchSize = 128, Seed = seed, PredictionSamples = quick ? 10 : 30, Variant = variant,
};
Console.WriteLine($"sampling variant: {variant}");
var trainer = new BayesianTrainer(options, line => Console.WriteLine($"  {line}"));
// The validation images (tau, the stage-0 guard) come from the training set: the test set only measures.
var (fit, validation) = train.StratifiedSplit(0.1, seed);
using var model = trainer.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), fit, validation);

Console.WriteLine();
Console.WriteLine(model.Report);
var final = model.Predict(test, options.PredictionSamples);
var testMetrics = ClassificationMetrics.Compute(final.Probabilities, test.Labels, test.ClassNames.Count);
Console.WriteLine($"test accuracy (2DGBNN, S={options.PredictionSamples}): {testMetrics.Accuracy:P2}, NLL {testMetrics.Nll:F4}, ECE {testMetrics.Ece:F4}");
if (File.Exists(digitsPath))
{
    var digits = DigitsCsvReader.ReadResized(digitsPath, 28);
    var ood = model.Predict(digits, options.PredictionSamples);
    Console.WriteLine($"mean predictive entropy: Fashion-MNIST test {final.PredictiveEntropy.Average():F3}, digits (OOD) {ood.PredictiveEntropy.Average():F3}; " +
                      $"mean mutual information: {final.MutualInformation.Average():F4} vs {ood.MutualInformation.Average():F4}");
}
Console.WriteLine($"total time {clock.Elapsed.TotalSeconds:F0} s");

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
