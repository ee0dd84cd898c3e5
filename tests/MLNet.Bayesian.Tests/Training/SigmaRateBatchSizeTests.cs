using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// Issue 29 part 4: the hierarchical batch-64 divergence came from stage 1, whose default scale rate was a fixed distance
/// per step, so half the batch size let log sigma travel twice as far per epoch (see
/// <see cref="TrainerOptions.EffectiveMeanFieldSigmaLearningRate"/>). The default rate now scales with the batch size, and so
/// do stage 3's scale rates (issue 33: scales set per image seen, not per step).
/// </summary>
[TestClass]
public sealed class SigmaRateBatchSizeTests
{
    [TestMethod]
    public void DefaultRateMovesLogSigmaTheSameDistancePerEpochAtEveryBatchSize()
    {
        const int images = 54_000;
        double Travel(int batch)
        {
            var options = new TrainerOptions { BatchSize = batch };
            long steps = (images + batch - 1) / batch;
            return options.EffectiveMeanFieldSigmaLearningRate(steps) * steps;
        }
        // The rate the default was tuned at is unchanged at its batch size.
        Assert.AreEqual(TrainerOptions.DefaultMeanFieldSigmaLearningRate,
            new TrainerOptions { BatchSize = TrainerOptions.SigmaRateReferenceBatchSize }.EffectiveMeanFieldSigmaLearningRate(422), 1e-15);
        double reference = Travel(128);
        foreach (int batch in new[] { 32, 64, 256 })
            Assert.AreEqual(reference, Travel(batch), reference * 0.01, $"batch {batch}: {Travel(batch):F2} nats per epoch against {reference:F2} at batch 128");
        // Options given by the user are used as they are.
        Assert.AreEqual(0.02, new TrainerOptions { BatchSize = 64, MeanFieldSigmaLearningRate = 0.02 }.EffectiveMeanFieldSigmaLearningRate(100));
        Assert.AreEqual(TrainerOptions.MaxSigmaLearningRate, new TrainerOptions { BatchSize = 1 << 20 }.EffectiveMeanFieldSigmaLearningRate(1));
    }

    [TestMethod]
    public void StageThreeScalesTravelTheSameDistancePerEpochAtEveryBatchSize()
    {
        const int images = 54_000;
        foreach (var variant in new[] { MLNet.Bayesian.Posterior.SamplingVariant.Shared, MLNet.Bayesian.Posterior.SamplingVariant.Hierarchical })
        {
            double Travel(int batch) => new TrainerOptions { BatchSize = batch, Variant = variant }.EffectiveSharedScaleLearningRate * ((images + batch - 1) / batch);
            double reference = Travel(TrainerOptions.SigmaRateReferenceBatchSize);
            foreach (int batch in new[] { 32, 64 })
                Assert.AreEqual(reference, Travel(batch), reference * 0.01, $"{variant}, batch {batch}: {Travel(batch):F1} nats per epoch against {reference:F1} at batch 128");
        }
        Assert.AreEqual(TrainerOptions.DefaultSharedVariantScaleLearningRate / 2, new TrainerOptions { BatchSize = 64 }.EffectiveSharedScaleLearningRate, 1e-15);
        Assert.AreEqual(0.3, new TrainerOptions { BatchSize = 64, SharedScaleLearningRate = 0.3 }.EffectiveSharedScaleLearningRate, "a given rate is used as given");
        Assert.AreEqual(TrainerOptions.MaxSigmaLearningRate, new TrainerOptions { BatchSize = 4096 }.EffectiveSharedScaleLearningRate, "capped above the reference batch");
    }

    /// <summary>
    /// The hierarchical variant's log-scale means (m_k[1], the mean of the log scale b that multiplies every member's noise)
    /// train with the scales: how far stage 3 moves them follows the scale rate, not the means' rate. Before, they were in
    /// the means' group, so the scale rate did not change them at all.
    /// </summary>
    [TestMethod]
    public void HierarchicalLogScaleMeansTrainAtTheScaleRate()
    {
        double Moved(double scaleRate)
        {
            var options = new TrainerOptions
            {
                DeterministicEpochs = 2, MeanFieldEpochs = 1, SharedEpochs = 2, BatchSize = 32, Seed = 5, FeatureFitImages = 0, CosineSchedule = false,
                Variant = MLNet.Bayesian.Posterior.SamplingVariant.Hierarchical, WhenWorseThanStage0 = WorseThanStage0.Warn, PosteriorScale = 1,
                SharedScaleLearningRate = scaleRate,
            };
            float[]? start = null;
            var trainer = new BayesianTrainer(options);
            trainer.AfterBackward = network => start ??= network.SharedPosterior?.ComponentsLogScale?.detach().cpu().data<float>().ToArray();
            using var model = trainer.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train.StratifiedHead(30));
            var end = model.Network.SharedPosterior!.ComponentsLogScale!.detach().cpu().data<float>().ToArray();
            Assert.IsNotNull(start, "stage 3 ran");
            return start.Zip(end, (a, b) => Math.Abs(a - b)).Max();
        }
        double meansRate = new TrainerOptions().SharedLearningRate;
        double atMeansRate = Moved(meansRate), atScaleRate = Moved(100 * meansRate);
        Console.WriteLine($"20 stage-3 steps: log-scale means moved up to {atMeansRate:G3} nats at scale rate {meansRate}, {atScaleRate:G3} at {100 * meansRate}");
        Assert.IsTrue(atScaleRate > 5 * atMeansRate, $"a 100x scale rate moved the log-scale means {atScaleRate:G3} nats against {atMeansRate:G3}: they do not train at the scale rate");
    }

    /// <summary>
    /// The same in training: stage 1 on 300 images for 6 epochs at batch 16 and at batch 64 (4x the steps) must widen log sigma
    /// by about the same amount. Before the fix batch 16 moved it about 4x as far.
    /// </summary>
    [TestMethod]
    public void StageOneWidensLogSigmaAboutAsFarAtBatch16AsAtBatch64()
    {
        double Rise(int batch)
        {
            var options = new TrainerOptions
            {
                DeterministicEpochs = 1, MeanFieldEpochs = 6, StopAfterMeanField = true, BatchSize = batch, Seed = 3, FeatureFitImages = 0,
                CosineSchedule = false, FlatLogSigmaThreshold = 0,
            };
            using var model = new BayesianTrainer(options).Fit((c, h, w, k) => new SmallCnn(c, h, w, k), TestData.Train.StratifiedHead(30));
            var sigma = model.Report.MeanFieldSigma!;
            double median = (sigma.LogSigmaP01 + sigma.LogSigmaP99) / 2;
            return median - Math.Log(options.InitialSigma);
        }
        double small = Rise(16), large = Rise(64);
        Console.WriteLine($"log sigma rise: batch 16 {small:F3} nats, batch 64 {large:F3} nats");
        Assert.IsTrue(large > 0.05, $"stage 1 should widen log sigma at all (batch 64: {large:F3} nats)");
        Assert.IsTrue(small < 2 * large && small > 0.5 * large, $"batch 16 widened log sigma by {small:F3} nats, batch 64 by {large:F3}: they should agree within 2x");
    }
}
