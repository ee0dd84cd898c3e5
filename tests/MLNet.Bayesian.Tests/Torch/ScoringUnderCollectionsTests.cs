using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// Scoring skips the garbage-collection pause for networks made only of modules that pass LibTorch no temporary Scalar
/// (<c>GcPause.IsScalarSafe</c>). These tests hold the library to that claim: they score the library's own networks while
/// another thread collects and finalizes without pause, and expect the same scores every time.
/// </summary>
[TestClass]
public sealed class ScoringUnderCollectionsTests
{
    [TestMethod]
    [DataRow(Architecture.SmallCnn, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallCnn, SamplingVariant.Hierarchical)]
    [DataRow(Architecture.SmallVit, SamplingVariant.Shared)]
    [DataRow(Architecture.Mlp, SamplingVariant.Shared)]
    public void ScoresStayTheSameWhileAnotherThreadCollects(Architecture architecture, SamplingVariant variant)
    {
        var options = new TrainerOptions
        {
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, Variant = variant,
            SharedPosterior = { ComponentBudget = 64, MinMembers = 10 },
        };
        using var model = new BayesianTrainer(options).Fit(ArchitectureFactory.Create(architecture), TestData.Train.StratifiedHead(10));
        Assert.IsTrue(model.Network.ScalarSafeForward, $"{architecture} is scored without a collection pause");
        var probe = TestData.Test.StratifiedHead(3);
        var expected = model.Predict(probe.Pixels, 4, seed: 3).Probabilities;

        using var collector = new BackgroundCollector();
        var deadline = DateTime.UtcNow.AddSeconds(3);
        int rounds = 0;
        while (DateTime.UtcNow < deadline)
        {
            var scores = model.Predict(probe.Pixels, 4, seed: 3).Probabilities;
            CollectionAssert.AreEqual(expected, scores, $"{architecture}/{variant}: scores changed in round {rounds}");
            rounds++;
        }
        Assert.IsTrue(rounds > 3, $"only {rounds} rounds ran");
    }
}
