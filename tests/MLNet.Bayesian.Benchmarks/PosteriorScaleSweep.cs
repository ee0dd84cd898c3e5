using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// What the posterior scale tau does to a trained 2DGBNN model, both variants: trained (5/2/2 epochs by default,
/// batch 128, seed 1) on 90% of the training set, then scored at each tau on the other 10%, the test set and the
/// 8x8 digits. Shows whether a tau chosen on validation NLL keeps the ranking of unfamiliar images by mutual
/// information (it scales every image's mutual information alike to first order) while it changes calibration.
/// </summary>
internal static class PosteriorScaleSweep
{
    public static readonly double[] Scales = { 1.0, 0.7, 0.5, 0.35, 0.25 };

    public static void Run(BenchmarkData data, int[] epochs, int samples, int batchSize)
    {
        var (fit, validation) = data.Train.StratifiedSplit(0.1, 1);
        var clock = Stopwatch.StartNew();
        TrainerOptions Options(SamplingVariant variant, int meanFieldEpochs) => new()
        {
            DeterministicEpochs = epochs[0], MeanFieldEpochs = meanFieldEpochs, SharedEpochs = epochs[2], PredictionSamples = samples,
            BatchSize = batchSize, Seed = 1, Variant = variant, PosteriorScale = 1,
        };
        var factory = ArchitectureFactory.Create(Architecture.SmallCnn);
        WeightsCopy state;
        using (var deterministic = new BayesianTrainer(Options(SamplingVariant.Shared, 0), Console.WriteLine).Fit(factory, fit))
        {
            state = new WeightsCopy(deterministic.Network);
            var test = deterministic.Predict(data.Test.Pixels, 1, batchSize: 256, seed: 1);
            var m = ClassificationMetrics.Compute(test.Probabilities, data.Test.Labels, deterministic.ClassNames.Count);
            Console.WriteLine($"SWEEP deterministic: test accuracy {m.Accuracy:P2}, ECE {m.Ece:F4}, NLL {m.Nll:F4}");
        }
        foreach (var variant in new[] { SamplingVariant.Hierarchical, SamplingVariant.Shared })
        {
            using var model = new BayesianTrainer(Options(variant, epochs[1]), Console.WriteLine) { DeterministicState = state.State }.Fit(factory, fit);
            foreach (var tau in Scales)
            {
                var t = Stopwatch.StartNew();
                model.Network.PosteriorScale = tau;
                var val = model.Predict(validation.Pixels, samples, batchSize: 256, seed: 1);
                var test = model.Predict(data.Test.Pixels, samples, batchSize: 256, seed: 1);
                var ood = model.Predict(data.Ood.Pixels, samples, batchSize: 256, seed: 1);
                var vm = ClassificationMetrics.Compute(val.Probabilities, validation.Labels, model.ClassNames.Count);
                var m = ClassificationMetrics.Compute(test.Probabilities, data.Test.Labels, model.ClassNames.Count);
                Console.WriteLine($"SWEEP {variant} tau {tau}: validation NLL {vm.Nll:F4} acc {vm.Accuracy:P2} ECE {vm.Ece:F4} | test accuracy {m.Accuracy:P2}, " +
                    $"ECE {m.Ece:F4}, NLL {m.Nll:F4}, MI AUROC {OutOfDistributionMetrics.Compute(test.MutualInformation, ood.MutualInformation).Auroc:F3}, " +
                    $"entropy AUROC {OutOfDistributionMetrics.Compute(test.PredictiveEntropy, ood.PredictiveEntropy).Auroc:F3} ({t.Elapsed.TotalSeconds:F0} s)");
            }
        }
        state.Dispose();
        Console.WriteLine($"SWEEP done in {clock.Elapsed.TotalMinutes:F1} min");
    }
}
