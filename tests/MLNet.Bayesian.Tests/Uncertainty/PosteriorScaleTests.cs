using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Uncertainty;

/// <summary>
/// The posterior scale tau: the search finds the valley of a validation NLL, a scale multiplies the spread of every
/// scoring draw about the posterior's means (and nothing else), and the trainer chooses it on validation data.
/// </summary>
[TestClass]
public sealed class PosteriorScaleTests
{
    // The search's resolution: its last steps are 2^(1/4) apart, so the chosen scale is within 2^(1/8) of a valley's bottom.
    static readonly double Resolution = Math.Log(Math.Pow(2, 0.125)) + 1e-9;

    [TestMethod]
    [DataRow(0.4)]
    [DataRow(0.13)]
    [DataRow(1.5)]
    public void SearchFindsTheValleyOfASmoothNll(double best)
    {
        var fit = PosteriorScaleFit.Fit(scale => 0.3 + Math.Pow(Math.Log(scale / best), 2));
        Assert.IsTrue(Math.Abs(Math.Log(fit.Scale / best)) <= Resolution, $"chose {fit.Scale} for a valley at {best}");
        Assert.AreEqual(0.3 + Math.Pow(Math.Log(best), 2), fit.NllAtOne, 1e-12, "the NLL as trained is the one at 1");
        Assert.AreEqual(fit.Tried.Min(t => t.Nll), fit.Nll, "the lowest NLL tried wins");
        Assert.AreEqual(1.0, fit.Tried[0].Scale, "the search starts as trained");
        // At most the grid from 1 down to 1/16 (9 scales) and two finer ones: each one scoring of the validation set.
        Assert.IsTrue(fit.Tried.Count <= 11, $"{fit.Tried.Count} evaluations");
    }

    [TestMethod]
    public void ScaleStaysAtOneWhenTheTrainedSpreadIsBestAndWithinBoundsOtherwise()
    {
        var atOne = PosteriorScaleFit.Fit(scale => Math.Pow(Math.Log(scale), 2));
        Assert.AreEqual(1.0, atOne.Scale);
        // 1, one step down, one step up, and the two finer steps either side: 5 scorings when training got the spread right.
        Assert.AreEqual(5, atOne.Tried.Count, string.Join(", ", atOne.Tried));

        // Gains within the noise of a validation set keep the posterior as trained, however far they would add up to.
        var flat = PosteriorScaleFit.Fit(scale => 1 + 5e-4 * Math.Abs(Math.Log(scale / 0.05)));
        Assert.AreEqual(1.0, flat.Scale, string.Join(", ", flat.Tried));
        Assert.AreEqual(flat.NllAtOne, flat.Nll);

        var tiny = PosteriorScaleFit.Fit(scale => scale);   // ever lower as the spread vanishes
        Assert.IsTrue(tiny.Scale >= PosteriorScaleFit.MinScale * 0.999 && tiny.Scale < 0.1, $"{tiny.Scale}");
        var huge = PosteriorScaleFit.Fit(scale => -scale);
        Assert.IsTrue(huge.Scale <= PosteriorScaleFit.MaxScale * 1.001 && huge.Scale > 1.5, $"{huge.Scale}");
    }

    [TestMethod]
    public void NanNllIsRefusedWithTheScaleItCameFrom()
    {
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => PosteriorScaleFit.Fit(scale => scale < 0.8 ? double.NaN : 1));
        StringAssert.Contains(e.Message, "0.7071");
        StringAssert.Contains(e.Message, "NaN");
    }

    [TestMethod]
    public void SeededNoiseIsScaledAndNothingElse()
    {
        using var like = zeros(1000);
        using var one = NoiseSource.Seeded(42);
        using var half = NoiseSource.Seeded(42, 0.5);
        var a = one.Normal(like).data<float>().ToArray();
        var b = half.Normal(like).data<float>().ToArray();
        for (int i = 0; i < a.Length; i++) Assert.AreEqual(0.5f * a[i], b[i], 1e-7f);
        using var u1 = one.Uniform(new long[] { 10 }, CPU);
        using var u2 = half.Uniform(new long[] { 10 }, CPU);
        CollectionAssert.AreEqual(u1.data<float>().ToArray(), u2.data<float>().ToArray(), "uniform noise (dropout masks) is not scaled");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NoiseSource.Seeded(1, 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => NoiseSource.Seeded(1, double.NaN));
    }

    /// <summary>A network in the given stage on random weights.</summary>
    static BayesianNetwork Network(BayesianStage stage, SamplingVariant variant)
    {
        random.manual_seed(3);
        var net = new BayesianNetwork(new SmallCnn(1, 28, 28, 5));
        net.ConvertToMeanField(initialSigma: 0.05);
        if (stage == BayesianStage.Shared)
        {
            var plan = SharedPosteriorBuilder.Build(net.PosteriorPoints(null), new SharedPosteriorOptions { ComponentBudget = 16, MinMembers = 5 });
            net.UseSharedPosterior(new SharedPosterior(plan, variant));
        }
        return net;
    }

    static float[] Flat(BayesianNetwork net, int seed, int sample)
    {
        using var scope = NewDisposeScope();
        using var draw = net.Draw(seed, sample);
        return draw.ToArrays().SelectMany(v => v).ToArray();
    }

    [TestMethod]
    [DataRow(BayesianStage.MeanField, SamplingVariant.Shared)]
    [DataRow(BayesianStage.Shared, SamplingVariant.Shared)]
    public void ScaleMultipliesEveryDrawsDistanceFromTheMean(BayesianStage stage, SamplingVariant variant)
    {
        using var net = Network(stage, variant);
        // Both posteriors draw mean + tau * (linear map of the noise): the draws at 1, 1/2 and 1/4 lie on one line, the
        // step from 1/2 to 1/4 half the step from 1 to 1/2.
        var d1 = Flat(net, 7, 2);
        net.PosteriorScale = 0.5;
        var dHalf = Flat(net, 7, 2);
        net.PosteriorScale = 0.25;
        var dQuarter = Flat(net, 7, 2);
        double moved = 0;
        for (int i = 0; i < d1.Length; i++)
        {
            Assert.AreEqual(0.5 * (d1[i] - dHalf[i]), dHalf[i] - dQuarter[i], 1e-5, $"weight {i}");
            moved = Math.Max(moved, Math.Abs(d1[i] - dHalf[i]));
        }
        Assert.IsTrue(moved > 1e-3, "the draws do spread");
    }

    [TestMethod]
    public void HierarchicalDrawsSpreadLessAtASmallerScaleAndTheStageResetsIt()
    {
        using var net = Network(BayesianStage.Shared, SamplingVariant.Hierarchical);
        double Spread(double scale)
        {
            net.PosteriorScale = scale;
            var draws = Enumerable.Range(0, 8).Select(s => Flat(net, 5, s)).ToArray();
            double total = 0;
            for (int i = 0; i < draws[0].Length; i++)
            {
                double mean = draws.Average(d => d[i]);
                total += draws.Sum(d => (d[i] - mean) * (d[i] - mean));
            }
            return total;
        }
        double wide = Spread(1), narrow = Spread(0.25);
        Assert.IsTrue(narrow < 0.15 * wide, $"spread at 1/4: {narrow:G3}, at 1: {wide:G3} (about 1/16 of it)");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => net.PosteriorScale = -1);

        using var meanField = Network(BayesianStage.MeanField, SamplingVariant.Shared);
        meanField.PosteriorScale = 0.3;
        var plan = SharedPosteriorBuilder.Build(meanField.PosteriorPoints(null), new SharedPosteriorOptions { ComponentBudget = 16, MinMembers = 5 });
        meanField.UseSharedPosterior(new SharedPosterior(plan, SamplingVariant.Shared));
        Assert.AreEqual(1.0, meanField.PosteriorScale, "a scale belongs to the posterior it was fitted for");
    }

    [TestMethod]
    public void TrainerChoosesTheScaleOnValidationAndScoresWithIt()
    {
        var train = TestData.Train.StratifiedHead(30);
        var validation = TestData.Test.StratifiedHead(10);
        TrainerOptions Options(double? scale) => new()
        {
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 4, Seed = 3, FeatureFitImages = 0,
            SharedPosterior = { ComponentBudget = 32, MinMembers = 10 }, PosteriorScale = scale, WhenWorseThanStage0 = WorseThanStage0.Warn,
        };
        var log = new List<string>();
        using var fitted = new BayesianTrainer(Options(null), log.Add).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train, validation);
        var fit = fitted.Report.PosteriorScale!;
        Assert.IsNotNull(fit, "a validation set was given");
        Assert.AreEqual(fit.Scale, fitted.Network.PosteriorScale, "the model scores with the chosen scale");
        // The search keeps a step only when it gains MinRelativeGain, so the chosen scale is the lowest NLL tried up to that
        // margin (an exact argmin would depend on the fourth digit, which moves with LibTorch's thread count).
        Assert.IsTrue(fit.Tried.Contains((fit.Scale, fit.Nll)), "the chosen scale was one of those tried");
        Assert.IsTrue(fit.Tried.Min(t => t.Nll) >= fit.Nll * (1 - PosteriorScaleFit.MinRelativeGain), string.Join(", ", fit.Tried));
        Assert.IsTrue(fit.Tried.Count >= 3);
        Assert.IsTrue(log.Any(l => l.StartsWith("posterior scale: ", StringComparison.Ordinal)), string.Join("\n", log));
        // The report's validation rows are the finished model's: the NLL at the chosen scale.
        var rows = fitted.Report.FinalValidation!;
        var again = fitted.Predict(validation.Pixels, 4, seed: 3);
        for (int i = 0; i < validation.Count; i++) Assert.AreEqual(again.MutualInformation[i], rows.Scores[UncertaintyScore.MutualInformation][i], 1e-6, $"row {i}");
        Assert.AreEqual(fit.Nll, ClassificationMetrics.Compute(again.Probabilities, validation.Labels, fitted.ClassNames.Count).Nll, 1e-9);

        using var given = new BayesianTrainer(Options(0.5)).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train, validation);
        Assert.AreEqual(0.5, given.Network.PosteriorScale, "a given scale is used as it is");
        using var none = new BayesianTrainer(Options(null)).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train);
        Assert.AreEqual(1.0, none.Network.PosteriorScale, "no validation set: the posterior as trained");
        Assert.IsNull(none.Report.PosteriorScale);
        var bad = Options(0);
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => bad.Validate());
    }
}
