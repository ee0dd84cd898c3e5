using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// The baselines of issue 13 in the same run: MC dropout with its rate chosen on validation data, and a deep ensemble
/// of 3 deterministic members, same architecture, data, seed and S (the ensemble's S is its number of members).
/// </summary>
internal sealed partial class MethodsBenchmark
{
    /// <summary>One dropout rate of the search: MC dropout trained on 90% of the training set, scored on the other 10% at S.</summary>
    public sealed record DropoutCandidate(double Rate, int Epochs, double ValidationNll, double ValidationAccuracy, double ValidationEce, double Seconds);

    /// <summary>What the baselines' training produced beyond their results.json rows.</summary>
    public sealed record BaselineRuns(IReadOnlyList<DropoutCandidate> DropoutSearch, double DropoutRate, int FitImages, int ValidationImages,
        TrainingReport McDropoutReport, TrainingReport EnsembleReport);

    /// <summary>The dropout rates searched; quick mode (the CI's run) tries two.</summary>
    public static readonly double[] DropoutGrid = { 0.05, 0.1, 0.2 }, QuickDropoutGrid = { 0.1, 0.2 };

    /// <summary>Members of the deep ensemble (the 3).</summary>
    public const int EnsembleMembers = 3;

    /// <summary>Share of the training set held out (stratified, seeded) to choose the dropout rate.</summary>
    public const double DropoutValidationFraction = 0.1;

    /// <summary>
    /// Chooses p by validation NLL, trains MC dropout with it on the whole training set, trains the ensemble, and
    /// evaluates both with <see cref="Evaluate"/>. The search trains DeterministicEpochs epochs per rate (the final
    /// model DeterministicEpochs + MeanFieldEpochs + SharedEpochs): the shorter search keeps the run's time in bounds.
    /// </summary>
    BaselineRuns RunBaselines(List<Evaluation> evaluations, double deterministicStepMs)
    {
        var factory = ArchitectureFactory.Create(_settings.Architecture);
        var (fit, validation) = _data.Train.StratifiedSplit(DropoutValidationFraction, _settings.Seed);
        var candidates = new List<DropoutCandidate>();
        foreach (double rate in _settings.Quick ? QuickDropoutGrid : DropoutGrid)
        {
            var clock = Stopwatch.StartNew();
            var options = BaselineOptions(BayesianMethod.McDropout, rate);
            options.MeanFieldEpochs = 0;
            options.SharedEpochs = 0;
            options.FeatureFitImages = 0;   // the search compares NLL only
            using var model = new BayesianTrainer(options, line => Console.WriteLine($"  [mc_dropout p = {rate}, search] {line}")).Fit(factory, fit, null, _settings.Device);
            var prediction = model.Predict(validation.Pixels, _settings.Samples, batchSize: 256, seed: _settings.Seed);
            var metrics = ClassificationMetrics.Compute(prediction.Probabilities, validation.Labels, validation.ClassNames.Count);
            candidates.Add(new DropoutCandidate(rate, options.DeterministicEpochs, metrics.Nll, metrics.Accuracy, metrics.Ece, clock.Elapsed.TotalSeconds));
            Console.WriteLine($"dropout search: p = {rate}: validation NLL {metrics.Nll:F4}, accuracy {100 * metrics.Accuracy:F2}%, ECE {metrics.Ece:F4} " +
                              $"({fit.Count} training / {validation.Count} validation images, {options.DeterministicEpochs} epochs, {clock.Elapsed.TotalSeconds:F0} s)");
        }
        double chosen = candidates.MinBy(c => c.ValidationNll)!.Rate;
        Console.WriteLine($"dropout search: p = {chosen} has the lowest validation NLL");

        using var mcDropout = new BayesianTrainer(BaselineOptions(BayesianMethod.McDropout, chosen), line => Console.WriteLine($"  [mc_dropout p = {chosen}] {line}"))
            .Fit(factory, _data.Train, null, _settings.Device);
        evaluations.Add(Evaluate("mc_dropout", mcDropout, _settings.Samples, mcDropout.Report.Stages[^1].TrainableParameters, LastStepMs(mcDropout), deterministicStepMs));

        using var ensemble = new BayesianTrainer(BaselineOptions(BayesianMethod.DeepEnsemble, chosen), line => Console.WriteLine($"  [deep_ensemble] {line}"))
            .Fit(factory, _data.Train, null, _settings.Device);
        evaluations.Add(Evaluate("deep_ensemble", ensemble, ensemble.Network.SampleCount(_settings.Samples), ensemble.Report.Stages[^1].TrainableParameters,
            LastStepMs(ensemble), deterministicStepMs));
        return new BaselineRuns(candidates, chosen, fit.Count, validation.Count, mcDropout.Report, ensemble.Report);
    }

    TrainerOptions BaselineOptions(BayesianMethod method, double dropoutRate) => new()
    {
        Method = method, DropoutRate = dropoutRate, EnsembleMembers = EnsembleMembers,
        DeterministicEpochs = _settings.DeterministicEpochs, MeanFieldEpochs = _settings.MeanFieldEpochs, SharedEpochs = _settings.SharedEpochs,
        BatchSize = _settings.BatchSize, PredictionSamples = _settings.Samples, Seed = _settings.Seed,
    };
}
