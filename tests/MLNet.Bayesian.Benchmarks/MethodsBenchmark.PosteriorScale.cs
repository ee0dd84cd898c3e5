using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// The posterior scale of each Gaussian method (mean-field, both 2DGBNN variants), chosen as MC dropout's rate is: the
/// method is trained on the same 90% of the training set, its scale fitted on the other 10% by validation NLL
/// (<see cref="PosteriorScaleFit"/>), and the model trained on the whole set scores with that scale. Every method then
/// has held-out data choose its one uncertainty knob, and none sees the test or OOD images before it is scored.
/// </summary>
internal sealed partial class MethodsBenchmark
{
    /// <summary>The scale each Gaussian method scores with, and how it was chosen.</summary>
    public sealed record ScaleChoices(IReadOnlyDictionary<string, PosteriorScaleFit.Result> Fits, int FitImages, int ValidationImages, double Seconds)
    {
        public double ScaleOf(string method) => Fits.TryGetValue(method, out var fit) ? fit.Scale : 1.0;
    }

    ScaleChoices ChoosePosteriorScales()
    {
        var clock = Stopwatch.StartNew();
        var factory = ArchitectureFactory.Create(_settings.Architecture);
        var (fit, validation) = _data.Train.StratifiedSplit(DropoutValidationFraction, _settings.Seed);
        var fits = new Dictionary<string, PosteriorScaleFit.Result>();
        WeightsCopy? stageZero = null;
        void Log(string method, PosteriorScaleFit.Result f) =>
            Console.WriteLine($"posterior scale search: {method}: {f.Scale:G3} (validation NLL {f.NllAtOne:F4} at 1 -> {f.Nll:F4}; tried " +
                              string.Join(", ", f.Tried.Select(t => $"{t.Scale:G3}")) + ")");
        try
        {
            var first = ScaleSearchTrainer(SamplingVariant.Shared);
            first.StageCompleted = (classifier, stage) =>
            {
                if (stage == BayesianStage.Deterministic)
                    stageZero = new WeightsCopy(classifier.Network);
                else if (stage == BayesianStage.MeanField)
                {
                    var f = classifier.FitPosteriorScale(validation, _settings.Samples, _settings.Seed);
                    classifier.Network.PosteriorScale = 1;
                    fits["mean_field"] = f;
                    Log("mean_field", f);
                }
            };
            foreach (var (method, trainer) in new[] { ("2dgbnn_shared", first), ("2dgbnn_hierarchical", (BayesianTrainer?)null) })
            {
                // The second variant starts from the first's stage-0 weights (stage 1 is seeded alike).
                var t = trainer ?? ScaleSearchTrainer(SamplingVariant.Hierarchical, stageZero?.State);
                using var model = t.Fit(factory, fit, null, _settings.Device);
                var f = model.FitPosteriorScale(validation, _settings.Samples, _settings.Seed);
                fits[method] = f;
                Log(method, f);
            }
        }
        finally
        {
            stageZero?.Dispose();
        }
        Console.WriteLine($"posterior scale search: {fit.Count} training / {validation.Count} validation images, {clock.Elapsed.TotalSeconds:F0} s");
        return new ScaleChoices(fits, fit.Count, validation.Count, clock.Elapsed.TotalSeconds);
    }

    BayesianTrainer ScaleSearchTrainer(SamplingVariant variant, IReadOnlyDictionary<string, Tensor>? stageZero = null)
    {
        var options = Options(variant);
        options.FeatureFitImages = 0;   // the search compares NLL only
        return new BayesianTrainer(options, line => Console.WriteLine($"  [{variant}, scale search] {line}")) { DeterministicState = stageZero };
    }
}
