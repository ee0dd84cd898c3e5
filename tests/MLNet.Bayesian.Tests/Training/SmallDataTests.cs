using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// A few hundred images must not be worse off for the Bayesian stages (issue 28): stage 1 learns sigma however few its
/// steps are, and a finished model worse than its own stage 0 is replaced by it, with a warning that says why.
/// </summary>
[TestClass]
public sealed class SmallDataTests
{
    [TestMethod]
    public void TheStageOneScaleRateCoversTheSameDistanceWhateverTheSteps()
    {
        var options = new TrainerOptions();
        Assert.AreEqual(TrainerOptions.DefaultMeanFieldSigmaLearningRate * options.BatchSize / TrainerOptions.SigmaRateReferenceBatchSize,
            options.EffectiveMeanFieldSigmaLearningRate(7), 1e-15, "by default a rate per step, scaled by the batch size");
        Assert.AreEqual(TrainerOptions.DefaultMeanFieldSigmaLearningRate, new TrainerOptions { BatchSize = 128 }.EffectiveMeanFieldSigmaLearningRate(7),
            "the tuned rate at the batch size it was tuned at");
        options.MeanFieldSigmaTravel = 6.3;
        Assert.AreEqual(0.015, options.EffectiveMeanFieldSigmaLearningRate(844), 1e-4, "the full-data run the default was chosen on");
        Assert.AreEqual(options.EffectiveMeanFieldSigmaLearningRate(844) / 2, options.EffectiveMeanFieldSigmaLearningRate(1688), 1e-12, "half the batch size, twice the steps, half the rate");
        Assert.AreEqual(TrainerOptions.MaxSigmaLearningRate, options.EffectiveMeanFieldSigmaLearningRate(3), "a stage of a few steps is capped");
        options.CosineSchedule = false;
        Assert.AreEqual(6.3 / 844, options.EffectiveMeanFieldSigmaLearningRate(844), 1e-12, "without the cosine, the full rate every step");
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TrainerOptions { MeanFieldSigmaTravel = 0 }.Validate());
        options.MeanFieldSigmaLearningRate = 0.02;
        Assert.AreEqual(0.02, options.EffectiveMeanFieldSigmaLearningRate(7), "a given rate is used as given");
    }

    [TestMethod]
    public void OnTwoHundredImagesTheSigmaStageTwoBuildsFromFollowsTheCurvature()
    {
        // 200 images, one stage-1 epoch of 7 steps: log sigma moves about 0.05 nats and comes out flat. The Laplace fallback
        // with the layers' own scale as the prior then spreads it by the curvature; with the flat sigma as the prior (its
        // first version) it stayed flat.
        var log = new List<string>();
        var options = new TrainerOptions { DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, Seed = 2, FeatureFitImages = 0 };
        using var model = new BayesianTrainer(options, log.Add).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train.StratifiedHead(20));
        var sigma = model.Report.MeanFieldSigma!;
        Console.WriteLine(string.Join("\n", log.Where(l => l.StartsWith("stage 1", StringComparison.Ordinal) || l.StartsWith("warning", StringComparison.Ordinal))));
        Assert.IsTrue(model.Report.FlatSigmaFallbackUsed, "stage 1 left sigma flat (the test's premise)");
        Assert.IsTrue(sigma.LogSigmaSd > options.FlatLogSigmaThreshold, $"log sigma sd {sigma.LogSigmaSd:G3} nats after the fallback: no longer flat");
        Assert.IsTrue(sigma.SpearmanWithFisher < -0.5, $"sigma is smaller where the loss is curved: Spearman {sigma.SpearmanWithFisher:F2}");
        Assert.IsTrue(model.Report.Posterior!.Components > 1, "stage 2 finds more than one component on that plane");
    }

    [TestMethod]
    public void WithATravelStageOneMovesSigmaAsFarOnTwoHundredImagesAsOnTheFullSet()
    {
        var log = new List<string>();
        var options = new TrainerOptions
        {
            DeterministicEpochs = 3, MeanFieldEpochs = 1, StopAfterMeanField = true, BatchSize = 32, Seed = 2, FeatureFitImages = 0, MeanFieldSigmaTravel = 6.3,
        };
        using var model = new BayesianTrainer(options, log.Add).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train.StratifiedHead(20));
        var sigma = model.Report.MeanFieldSigma!;
        Assert.IsFalse(model.Report.FlatSigmaFallbackUsed, "sigma was not flat");
        Assert.IsTrue(sigma.LogSigmaP01 > Math.Log(options.InitialSigma) + 1, $"sigma grew from its initial {options.InitialSigma}: 1% quantile of log sigma {sigma.LogSigmaP01:F2}");
        Assert.IsTrue(log.Any(l => l.Contains("6.3 nats over 7 steps")), "the log says how the rate was set");
    }

    static (BayesianImageClassifier Model, List<string> Log) Collapse(WorseThanStage0 guard)
    {
        // A stage-1 rate no one should use: the scales blow up and the mean-field model loses most of its accuracy.
        var options = new TrainerOptions
        {
            DeterministicEpochs = 3, MeanFieldEpochs = 2, StopAfterMeanField = true, BatchSize = 32, Seed = 4, FeatureFitImages = 0,
            MeanFieldSigmaLearningRate = 1.0, BayesianLearningRate = 3e-2, PosteriorScale = 1, WhenWorseThanStage0 = guard,
        };
        var log = new List<string>();
        var model = new BayesianTrainer(options, log.Add).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train.StratifiedHead(30), TestData.Test.StratifiedHead(10));
        return (model, log);
    }

    [TestMethod]
    public void AModelWorseThanItsStageZeroIsReplacedByItWithAWarning()
    {
        var validation = TestData.Test.StratifiedHead(10);
        var (kept, keptLog) = Collapse(WorseThanStage0.KeepStage0);
        var (warned, warnedLog) = Collapse(WorseThanStage0.Warn);
        using (kept)
        using (warned)
        {
            var stage0 = kept.Report.Stages.First(s => s.Stage == BayesianStage.Deterministic).Validation!;
            var bayesian = warned.Evaluate(validation, 8);
            Console.WriteLine($"stage 0 {stage0}; collapsed mean-field {bayesian}");
            Assert.IsTrue(bayesian.Accuracy < stage0.Accuracy - 0.1, "the setting collapses the Bayesian stage (the test's premise)");

            Assert.AreEqual(BayesianStage.Deterministic, kept.Network.Stage, "the kept model is stage 0's");
            Assert.IsNotNull(kept.Report.KeptStage0Because);
            Assert.IsTrue(keptLog.Any(l => l.StartsWith("warning: the finished MeanField model is worse", StringComparison.Ordinal) && l.Contains("KeepStage0")),
                string.Join("\n", keptLog));
            var again = kept.Evaluate(validation, 8);
            Assert.AreEqual(stage0.Accuracy, again.Accuracy, 1e-9, "it scores as stage 0 did");
            Assert.AreEqual(stage0.Nll, again.Nll, 1e-4);
            // The report's validation rows, which the review rule is fitted on, are the kept model's.
            var rows = kept.Report.FinalValidation!;
            Assert.AreEqual(stage0.Nll, ClassificationMetrics.Compute(rows.Probabilities, rows.Labels, rows.Classes).Nll, 1e-4);

            Assert.AreEqual(BayesianStage.MeanField, warned.Network.Stage, "Warn keeps the Bayesian model");
            Assert.IsNull(warned.Report.KeptStage0Because);
            Assert.IsTrue(warnedLog.Any(l => l.StartsWith("warning: the finished MeanField model is worse", StringComparison.Ordinal) && l.Contains("Kept as it is")));
        }
    }
}
