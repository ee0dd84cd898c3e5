using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

/// <summary>The in-memory model serves like the loaded one: flat memory, no collection forced per row, safe on several threads.</summary>
[TestClass]
public sealed class ServingTests
{
    static MLContext _ml = null!;
    static ITransformer _model = null!;

    public sealed class Input
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
        public string Label { get; set; } = "";
    }

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        var view = TestData.Train.StratifiedHead(30).ToDataView(_ml);
        var keys = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        var classifier = _ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 100, PredictionSamples = 4,
            SharedPosterior = { ComponentBudget = 16, MinMembers = 10 },
        }).Fit(keys.Transform(view));
        _model = keys.Append(classifier);
    }

    [ClassCleanup]
    public static void Dispose() => (_model as IDisposable)?.Dispose();

    static Input Row(int i) => new() { Pixels = TestData.Test.Image(i % TestData.Test.Count).ToArray() };

    [TestMethod]
    public void PredictionEngineKeepsMemoryFlatAndForcesNoCollectionPerRow()
    {
        var engine = _ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(_model);
        for (int i = 0; i < 2_000; i++) engine.Predict(Row(i));
        long before = TestMemory.SettledResidentBytes(), tensorsBefore = TestMemory.LiveTensors();
        int gen2 = GC.CollectionCount(2);
        var clock = Stopwatch.StartNew();
        const int Calls = 10_000;
        for (int i = 0; i < Calls; i++) engine.Predict(Row(i));
        double seconds = clock.Elapsed.TotalSeconds;
        int collections = GC.CollectionCount(2) - gen2;
        long after = TestMemory.SettledResidentBytes();
        double growthMb = (after - before) / 1e6;
        Console.WriteLine($"{Calls:N0} PredictionEngine calls: {Calls / seconds:F0} rows/s, full collections {collections}, resident memory {before / 1e6:F0} -> {after / 1e6:F0} MB");
        Assert.AreEqual(tensorsBefore, TestMemory.LiveTensors(), "every call's tensors are disposed");
        Assert.IsTrue(collections < Calls / 100, $"{collections} full collections in {Calls} calls: a collection is forced per row");
        Assert.IsTrue(growthMb < 40, $"memory grew by {growthMb:F1} MB over {Calls} calls");
    }

    [TestMethod]
    public void FourThreadsScoreLikeOne()
    {
        const int Rows = 200;
        var single = _ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(_model);
        var expected = Enumerable.Range(0, Rows).Select(i => single.Predict(Row(i))).ToArray();
        var actual = new BayesianPrediction[4][];
        var errors = new Exception?[4];
        int[] steps = { 1, 3, 7, 9 };   // coprime with Rows: each thread visits every row once, in its own order
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            try
            {
                var engine = _ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(_model);
                actual[t] = new BayesianPrediction[Rows];
                for (int k = 0; k < Rows; k++)
                {
                    int i = (k * steps[t] + t * 37) % Rows;
                    actual[t][i] = engine.Predict(Row(i));
                }
            }
            catch (Exception e) { errors[t] = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        foreach (var e in errors) if (e is not null) throw new AssertFailedException($"a scoring thread failed: {e}", e);
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < Rows; i++)
            {
                Assert.AreEqual(expected[i].PredictedLabel, actual[t][i].PredictedLabel, $"thread {t}, row {i}");
                for (int c = 0; c < 10; c++) Assert.AreEqual(expected[i].Score[c], actual[t][i].Score[c], 1e-6f, $"thread {t}, row {i}, class {c}");
                Assert.AreEqual(expected[i].MutualInformation, actual[t][i].MutualInformation, 1e-6f, $"thread {t}, row {i}");
            }
    }

}
