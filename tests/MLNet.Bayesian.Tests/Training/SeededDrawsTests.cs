using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// Posterior draws are an API: draw s is a function of (seed, s), and running the S draws at once (stacked, as
/// kept draws do) scores like running them one at a time.
/// </summary>
[TestClass]
public sealed class SeededDrawsTests
{
    /// <summary>A network of <paramref name="architecture"/> in the given stage, trained one step per stage on random data.</summary>
    static BayesianImageClassifier Classifier(Architecture architecture, BayesianStage stage, SamplingVariant variant, int size = 28)
    {
        random.manual_seed(1);
        var net = new BayesianNetwork(ArchitectureFactory.Create(architecture)(1, size, size, 5));
        if (stage == BayesianStage.McDropout) net.UseMcDropout(0.2);
        else if (stage != BayesianStage.Deterministic) net.ConvertToMeanField(initialSigma: 0.05);
        if (stage == BayesianStage.Shared)
        {
            var plan = SharedPosteriorBuilder.Build(net.PosteriorPoints(null), new SharedPosteriorOptions { ComponentBudget = 16, MinMembers = 5 });
            net.UseSharedPosterior(new SharedPosterior(plan, variant));
        }
        net.eval();
        // Running statistics that are not 0/1, so that batch norm's evaluation mode is exercised.
        using (no_grad())
            foreach (var (name, buffer) in net.named_buffers())
                if (name.EndsWith("running_mean")) buffer.copy_(randn_like(buffer) * 0.1);
        return new BayesianImageClassifier(net, 1, size, size, Enumerable.Range(0, 5).Select(i => $"c{i}").ToArray(),
            new[] { 0.5f }, new[] { 0.5f }, CPU, new TrainingReport());
    }

    [TestMethod]
    [DataRow(Architecture.SmallCnn, BayesianStage.Shared, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallCnn, BayesianStage.Shared, SamplingVariant.Hierarchical)]
    [DataRow(Architecture.SmallCnn, BayesianStage.MeanField, SamplingVariant.Shared)]
    [DataRow(Architecture.ResNet20, BayesianStage.Shared, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallVit, BayesianStage.MeanField, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallCnn, BayesianStage.Deterministic, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallCnn, BayesianStage.McDropout, SamplingVariant.Shared)]
    [DataRow(Architecture.SmallVit, BayesianStage.McDropout, SamplingVariant.Shared)]
    public void StackedDrawsScoreLikeOneDrawAtATime(Architecture architecture, BayesianStage stage, SamplingVariant variant)
    {
        using var model = Classifier(architecture, stage, variant);
        random.manual_seed(2);
        var pixels = rand(7 * 28 * 28).data<float>().ToArray();
        using var kept = new SeededDraws(model.Network, seed: 3, samples: 6);
        using var drawnEachTime = new SeededDraws(model.Network, seed: 3, samples: 6, cacheBudgetBytes: 0);
        Assert.IsNotNull(kept.Stacked, "the draws fit the budget and are kept stacked");
        if (stage != BayesianStage.Deterministic) Assert.IsNull(drawnEachTime.Stacked, "over the budget they are drawn on use");
        var stacked = model.Predict(pixels, kept, batchSize: 4, keepSamples: true);
        var sequential = model.Predict(pixels, drawnEachTime, batchSize: 4, keepSamples: true);
        Assert.AreEqual(sequential.SampleProbabilities!.Length, stacked.SampleProbabilities!.Length);
        double worst = stacked.SampleProbabilities.Zip(sequential.SampleProbabilities, (a, b) => (double)Math.Abs(a - b)).Max();
        Console.WriteLine($"{architecture} {stage} {variant}: largest per-sample probability difference, stacked vs one at a time: {worst:E2}");
        Assert.IsTrue(worst < 1e-5, $"stacked and sequential draws differ by {worst}");
        if (stage != BayesianStage.Deterministic)
            Assert.IsTrue(stacked.MutualInformation.Max() > 0, "the draws differ from one another");
    }

    [TestMethod]
    public void DrawSDependsOnlyOnSeedAndS()
    {
        using var model = Classifier(Architecture.SmallCnn, BayesianStage.Shared, SamplingVariant.Hierarchical);
        float[][] Draw(int seed, int s)
        {
            using var draw = model.Network.Draw(seed, s);
            return draw.ToArrays();
        }
        var first = Draw(4, 2);
        random.manual_seed(99);   // the global generator plays no part
        using (no_grad()) model.Network.call(rand(2, 1, 28, 28));
        var again = Draw(4, 2);
        for (int l = 0; l < first.Length; l++) CollectionAssert.AreEqual(first[l], again[l], $"layer {l}");
        Assert.IsFalse(first[0].SequenceEqual(Draw(4, 3)[0]), "draw 3 differs from draw 2");
        Assert.IsFalse(first[0].SequenceEqual(Draw(5, 2)[0]), "seed 5 differs from seed 4");

        // A row's scores do not depend on its batch or on the other rows.
        random.manual_seed(6);
        var pixels = rand(5 * 28 * 28).data<float>().ToArray();
        var together = model.Predict(pixels, samples: 4, batchSize: 5, seed: 4);
        var alone = model.Predict(pixels.AsSpan(3 * 784, 784), samples: 4, batchSize: 1, seed: 4);
        for (int c = 0; c < 5; c++) Assert.AreEqual(together.Row(3)[c], alone.Row(0)[c], 1e-6f);
    }
}
