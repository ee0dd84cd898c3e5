using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;
using TorchSharp.Modules;

namespace MLNet.Bayesian.Tests.Ood;

/// <summary>The FeatureDistance column of a trained classifier: which features it reads, what it tells apart, and that it is safe to score from several threads.</summary>
[TestClass]
public sealed class FeatureDistanceScoringTests
{
    static BayesianImageClassifier? s_model;

    static BayesianImageClassifier Model => s_model ??= new BayesianTrainer(new TrainerOptions
    {
        DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 4, Seed = 5,
        SharedPosterior = { ComponentBudget = 64, MinMembers = 10 },
    }).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), TestData.Train.StratifiedHead(50));

    [ClassCleanup]
    public static void Cleanup() => s_model?.Dispose();

    [TestMethod]
    public void TheFitReadsTheInputOfTheLastLinearLayer()
    {
        var model = Model;
        Assert.AreEqual(BayesianStage.Shared, model.Network.Stage);
        var fit = model.FeatureGaussians!.Single();
        Assert.AreEqual(64, fit.Dimension, "the small CNN's classifier head takes 64 features");
        Assert.AreEqual(500, fit.FitCount, "every training image (fewer than FeatureFitImages)");
        Assert.AreEqual(10, fit.FittedClasses.Length);
        var tapped = model.FeatureTaps!.Layers.Single();
        Assert.IsInstanceOfType<MLNet.Bayesian.Layers.BayesianLinear>(tapped);
        Assert.AreEqual(64, ((MLNet.Bayesian.Layers.BayesianLinear)tapped).WeightShape[1]);
    }

    /// <summary>Uniform noise is nothing like clothing: its features lie far from every class, whatever class the softmax picks.</summary>
    [TestMethod]
    public void NoiseImagesLieFartherThanTestImages()
    {
        var test = TestData.Test.StratifiedHead(20);
        var rng = new Random(2);
        var noise = new ImageSet(Enumerable.Range(0, 200 * 784).Select(_ => (float)rng.NextDouble()).ToArray(), new int[200], 1, 28, 28, test.ClassNames);
        var inDistribution = Model.Predict(test.Pixels, 4, seed: 1).FeatureDistance;
        var outOfDistribution = Model.Predict(noise.Pixels, 4, seed: 1).FeatureDistance;
        double auroc = outOfDistribution.Average(o => inDistribution.Average(i => o > i ? 1.0 : o == i ? 0.5 : 0));
        Console.WriteLine($"median distance: test {Median(inDistribution):F2}, noise {Median(outOfDistribution):F2}; AUROC {auroc:F3}");
        Assert.IsTrue(auroc > 0.95, $"AUROC {auroc}");
        Assert.IsTrue(inDistribution.All(float.IsFinite) && inDistribution.All(d => d > 0));
    }

    /// <summary>Features are captured per thread: two threads scoring different images at once get what each gets alone.</summary>
    [TestMethod]
    public void ScoringFromTwoThreadsAtOnceGivesTheSameDistances()
    {
        var a = TestData.Test.StratifiedHead(8);
        var b = TestData.Train.StratifiedHead(8);
        var aloneA = Model.Predict(a.Pixels, 4, batchSize: 4, seed: 3).FeatureDistance;
        var aloneB = Model.Predict(b.Pixels, 4, batchSize: 4, seed: 3).FeatureDistance;
        for (int round = 0; round < 3; round++)
        {
            var ta = Task.Run(() => Model.Predict(a.Pixels, 4, batchSize: 4, seed: 3).FeatureDistance);
            var tb = Task.Run(() => Model.Predict(b.Pixels, 4, batchSize: 4, seed: 3).FeatureDistance);
            CollectionAssert.AreEqual(aloneA, ta.Result, $"round {round}, thread A");
            CollectionAssert.AreEqual(aloneB, tb.Result, $"round {round}, thread B");
        }
        // A row's distance does not depend on its batch.
        var oneByOne = Enumerable.Range(0, a.Count).Select(i => Model.Predict(a.Image(i), 4, seed: 3).FeatureDistance[0]).ToArray();
        for (int i = 0; i < a.Count; i++) Assert.AreEqual(aloneA[i], oneByOne[i], 1e-4 * Math.Max(1, aloneA[i]), $"row {i}");
    }

    /// <summary>A fit made on stage 0 (as the benchmark does for its deterministic row) goes stale when the layers are converted, and the final fit taps the new ones.</summary>
    [TestMethod]
    public void AFitOfAnEarlierStageGoesStaleAndTheFinalFitTapsTheNewLayers()
    {
        var train = TestData.Train.StratifiedHead(10);
        int? stage0Dimension = null;
        var trainer = new BayesianTrainer(new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 0, StopAfterMeanField = true, BatchSize = 50, PredictionSamples = 2 });
        trainer.StageCompleted = (classifier, stage) =>
        {
            if (stage != BayesianStage.Deterministic) return;
            classifier.FitFeatureGaussians(train, 1, seed: 0);
            stage0Dimension = classifier.FeatureGaussians!.Single().Dimension;
        };
        using var model = trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train, TestData.Test.StratifiedHead(2));
        Assert.AreEqual(64, stage0Dimension);
        Assert.AreEqual(BayesianStage.MeanField, model.Network.Stage);
        Assert.IsInstanceOfType<MLNet.Bayesian.Layers.BayesianLinear>(model.FeatureTaps!.Layers.Single(), "the final fit taps the converted layer");
        var distances = model.Predict(TestData.Test.StratifiedHead(3).Pixels, 2, seed: 1).FeatureDistance;
        Assert.IsTrue(distances.All(d => d > 0 && float.IsFinite(d)));
    }

    [TestMethod]
    public void FeatureFitImagesZeroLeavesTheColumnAtZero()
    {
        using var model = new BayesianTrainer(new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 0, BatchSize = 50, FeatureFitImages = 0 })
            .Fit(ArchitectureFactory.Create(Architecture.SmallCnn), TestData.Train.StratifiedHead(10));
        Assert.IsNull(model.FeatureGaussians);
        Assert.IsTrue(model.Predict(TestData.Test.StratifiedHead(2).Pixels, 1).FeatureDistance.All(d => d == 0));
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new TrainerOptions { FeatureFitImages = -1 }.Validate());
        StringAssert.Contains(e.Message, nameof(TrainerOptions.FeatureFitImages));
        // One image is refused before any training, not after every stage has run.
        e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => new BayesianTrainer(new TrainerOptions { FeatureFitImages = 1 })
            .Fit(ArchitectureFactory.Create(Architecture.SmallCnn), TestData.Train.StratifiedHead(10)));
        StringAssert.Contains(e.Message, "FeatureFitImages is 1");
    }

    /// <summary>Energy is -log sum exp of each seeded draw's logits, averaged over the draws.</summary>
    [TestMethod]
    public void EnergyIsTheMeanFreeEnergyOfTheDrawsLogits()
    {
        var images = TestData.Test.StratifiedHead(3);
        var energy = Model.Predict(images.Pixels, 4, seed: 9).Energy;
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var x = Model.ToInput(images.Pixels, images.Count);
        var expected = new double[images.Count];
        for (int s = 0; s < 4; s++)
        {
            using var draw = Model.Network.Draw(9, s);
            var logits = Model.Network.Forward(x, draw).to(TorchSharp.torch.float64).data<double>().ToArray();
            for (int i = 0; i < images.Count; i++)
            {
                var row = logits.AsSpan(i * 10, 10).ToArray();
                double max = row.Max();
                expected[i] += -(max + Math.Log(row.Sum(v => Math.Exp(v - max)))) / 4;
            }
        }
        for (int i = 0; i < images.Count; i++) Assert.AreEqual(expected[i], energy[i], 1e-4 * Math.Max(1, Math.Abs(expected[i])), $"row {i}");
    }

    static float Median(float[] values) => values.Order().ElementAt(values.Length / 2);
}
