// Usage: MLNet.Bayesian.SystemLibTorchCheck [--expect-missing] [--device cpu|cuda]
// Built with -p:TorchBackend=system: it carries no LibTorch and takes the machine's (MLNET_BAYESIAN_LIBTORCH, else
// python3's PyTorch). Trains a small model through all stages on the committed Fashion-MNIST subset and scores it.
// --expect-missing: succeeds only if no LibTorch is found and the error says both ways to fix it.
// --expect-too-old: succeeds only if the LibTorch found is refused as too old, with both versions and the variable named.
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

if (args.Contains("--expect-too-old"))
{
    try
    {
        Console.WriteLine($"unexpectedly accepted: {LibTorchRuntime.Description}");
        return 1;
    }
    catch (InvalidOperationException e) when (e.Message.Contains("1.13.1") && e.Message.Contains("2.10") && e.Message.Contains(LibTorchRuntime.FolderVariable))
    {
        Console.WriteLine($"an old LibTorch refused, as expected; the message: {e.Message}");
        return 0;
    }
}

if (args.Contains("--expect-missing"))
{
    try
    {
        Console.WriteLine($"unexpectedly found: {LibTorchRuntime.Description}");
        return 1;
    }
    catch (InvalidOperationException e) when (e.Message.Contains(LibTorchRuntime.FolderVariable) && e.Message.Contains("pip install torch"))
    {
        Console.WriteLine($"no LibTorch, as expected; the message: {e.Message}");
        return 0;
    }
}

Console.WriteLine(LibTorchRuntime.Description);
string deviceName = args.SkipWhile(a => a != "--device").Skip(1).FirstOrDefault() ?? "cpu";
var device = deviceName == "cuda" ? CUDA : CPU;
if (deviceName == "cuda" && !cuda.is_available())
{
    Console.Error.WriteLine("--device cuda: CUDA is not available with this LibTorch.");
    return 1;
}
string subset = Path.Combine(AppContext.BaseDirectory, "data", "fashion-mnist-subset");
var train = FashionMnist.Load(train: true, subset).StratifiedHead(40);
var test = FashionMnist.Load(train: false, subset).StratifiedHead(20);
var trainer = new BayesianTrainer(new TrainerOptions
{
    DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 4, Seed = 1,
    SharedPosterior = { ComponentBudget = 32, MinMembers = 10 },
}, Console.WriteLine);
using var model = trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train, device: device);
var prediction = model.Predict(test.Pixels, samples: 4, seed: 1);
var metrics = ClassificationMetrics.Compute(prediction.Probabilities, test.Labels, test.ClassNames.Count);
Console.WriteLine($"trained on {device}: test {metrics}, mean mutual information {prediction.MutualInformation.Average():F4}");
return metrics.Accuracy > 0.3 ? 0 : 1;
