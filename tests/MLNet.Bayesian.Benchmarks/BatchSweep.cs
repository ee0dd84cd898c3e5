using System.Globalization;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Issue 29 part 4: both sampling variants at several batch sizes on the same data, with a 10% validation split and
/// <see cref="TrainerOptions.WhenWorseThanStage0"/> = Warn (the Bayesian model as trained, not the guard's stage-0
/// replacement). Per run: stage-0 validation and test accuracy, stage 1's log sigma range, stage 3's last-epoch loss and
/// NLL, the hierarchical draw's log-scale b (how far a draw two standard deviations high multiplies every member's noise)
/// at the start and end of stage 3, and the final test accuracy. Console only.
/// </summary>
internal static class BatchSweep
{
    public static void Run(BenchmarkData data, int[] epochs, int samples, int[] batchSizes, SamplingVariant[] variants, int seed)
    {
        var (train, validation) = data.Train.StratifiedSplit(0.1, seed);
        Console.WriteLine($"batch sweep: SmallCnn on {data.Name}: {train.Count} training, {validation.Count} validation, {data.Test.Count} test images; " +
                          $"epochs {string.Join("/", epochs)}, S = {samples}, seed {seed}");
        var rows = new List<string>
        {
            "| variant | batch | stage-0 val acc | stage-0 test acc | stage-1 log sigma 1-99% | stage-3 loss / NLL (last epoch) | max b+2sd start -> end | final val acc | final test acc | test - stage 0 |",
            "|---|---|---|---|---|---|---|---|---|---|",
        };
        foreach (int batch in batchSizes)
        foreach (var variant in variants)
        {
            var options = new TrainerOptions
            {
                DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2], BatchSize = batch, Variant = variant,
                Seed = seed, PredictionSamples = samples, FeatureFitImages = 0, WhenWorseThanStage0 = WorseThanStage0.Warn,
            };
            string stage3 = "";
            var trainer = new BayesianTrainer(options, line =>
            {
                Console.WriteLine($"  [{variant} {batch}] {line}");
                if (line.StartsWith("stage 3 (Shared) epoch", StringComparison.Ordinal))
                {
                    int colon = line.IndexOf(':'), end = line.IndexOf(", KL", StringComparison.Ordinal);
                    if (colon > 0 && end > colon) stage3 = line[(colon + 2)..end];
                }
            });
            double stage0Test = double.NaN;
            trainer.StageCompleted = (classifier, stage) =>
            {
                if (stage == BayesianStage.Deterministic) stage0Test = Accuracy(classifier, data, 1, seed);
            };
            string bStart = "", bEnd = "";
            long steps = 0;
            trainer.AfterBackward = network =>
            {
                if (network.SharedPosterior is not { Variant: SamplingVariant.Hierarchical } posterior) return;
                string now = LogScaleSummary(posterior);
                if (steps++ == 0) { bStart = now; Console.WriteLine($"  [{variant} {batch}] stage 3 first step: {now}"); }
                bEnd = now;
            };
            using var model = trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train, validation);
            if (bEnd.Length > 0) Console.WriteLine($"  [{variant} {batch}] stage 3 last step: {bEnd}");
            var report = model.Report;
            var s0 = report.Stages.First(s => s.Stage == BayesianStage.Deterministic).Validation!;
            var sigma = report.MeanFieldSigma!;
            var finalValidation = ClassificationMetrics.Compute(model.Predict(validation.Pixels, samples, seed: seed).Probabilities, validation.Labels, validation.ClassNames.Count);
            double finalTest = Accuracy(model, data, samples, seed);
            string b = bStart.Length == 0 ? "-" : $"{MaxFactor(bStart)} -> {MaxFactor(bEnd)}";
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {variant} | {batch} | {s0.Accuracy:P1} | {stage0Test:P1} | [{sigma.LogSigmaP01:F2}, {sigma.LogSigmaP99:F2}] | {stage3} | {b} | " +
                $"{finalValidation.Accuracy:P1} | {finalTest:P1} | {100 * (finalTest - stage0Test):+0.0;-0.0} |"));
            Console.WriteLine(rows[^1]);
        }
        Console.WriteLine();
        rows.ForEach(Console.WriteLine);
    }

    static double Accuracy(BayesianImageClassifier classifier, BenchmarkData data, int samples, int seed) =>
        ClassificationMetrics.Compute(classifier.Predict(data.Test.Pixels, samples, seed: seed).Probabilities, data.Test.Labels, data.Test.ClassNames.Count).Accuracy;

    /// <summary>
    /// The log-scale coordinate b of the components: the largest mean m_b, the largest standard deviation sd_b and the
    /// largest exp(m_b + 2 sd_b), the noise scale of a draw two standard deviations high.
    /// </summary>
    static string LogScaleSummary(SharedPosterior posterior)
    {
        var components = posterior.CurrentComponents();
        double maxMean = components.Max(c => c.My), maxSd = components.Max(c => Math.Sqrt(c.Syy));
        double maxHigh = components.Max(c => c.My + 2 * Math.Sqrt(c.Syy));
        return string.Create(CultureInfo.InvariantCulture, $"max m_b {maxMean:F2}, max sd_b {maxSd:F2}, max exp(m_b + 2 sd_b) {Math.Exp(maxHigh):G3}");
    }

    static string MaxFactor(string summary) => summary[(summary.LastIndexOf(' ') + 1)..];
}
