using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// Issue 29 part 4: the hierarchical batch-64 divergence came from stage 1, whose default scale rate was a fixed distance
/// per step, so half the batch size let log sigma travel twice as far per epoch (see
/// <see cref="TrainerOptions.EffectiveMeanFieldSigmaLearningRate"/>). The default rate now scales with the batch size.
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
