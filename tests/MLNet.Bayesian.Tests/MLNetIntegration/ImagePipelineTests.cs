using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

[TestClass]
public sealed class ImagePipelineTests
{
    static string _trainFolder = "", _testFolder = "";
    static MLContext _ml = null!;
    static ITransformer _model = null!;
    static IDataView _test = null!;
    static readonly List<string> Log = new();

    static BayesianImageClassificationTrainer.Options FastOptions() => new()
    {
        DeterministicEpochs = 4, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 4,
        SharedPosterior = { MinMembers = 10, ComponentBudget = 64 },
    };

    internal static (string Train, string Test) WriteFolders(int trainPerClass = 40, int testPerClass = 10)
    {
        string root = TestData.TempFolder();
        string train = Path.Combine(root, "train"), test = Path.Combine(root, "test");
        ImageFolder.Write(TestData.Train.StratifiedHead(trainPerClass), train);
        ImageFolder.Write(TestData.Test.StratifiedHead(testPerClass), test);
        return (train, test);
    }

    /// <summary>The folder's entries with absolute paths, so one LoadImages serves every folder.</summary>
    internal static IDataView Load(MLContext ml, string folder)
        => ml.Data.LoadFromEnumerable(ImageFolder.Read(folder).Select(e => new ImageFolderEntry { ImagePath = Path.Combine(folder, e.ImagePath), Label = e.Label }));

    [ClassInitialize]
    public static void Fit(TestContext _)
    {
        (_trainFolder, _testFolder) = WriteFolders();
        _ml = new MLContext(seed: 1);
        _ml.Log += (_, e) => { lock (Log) Log.Add(e.Message); };
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(_ml.MulticlassClassification.Trainers.BayesianImageClassification(FastOptions()))
            .Append(_ml.Transforms.Conversion.MapKeyToValue("PredictedLabelText", "PredictedLabel"));
        _model = pipeline.Fit(Load(_ml, _trainFolder));
        _test = _model.Transform(Load(_ml, _testFolder));
    }

    [ClassCleanup]
    public static void Cleanup() => (_model as IDisposable)?.Dispose();

    [TestMethod]
    public void FitsFromPngFoldersAndBeatsChance()
    {
        var metrics = _ml.MulticlassClassification.Evaluate(_test);
        Console.WriteLine($"macro accuracy {metrics.MacroAccuracy:P1}, log-loss {metrics.LogLoss:F3}");
        Assert.IsTrue(metrics.MicroAccuracy > 0.4, $"accuracy {metrics.MicroAccuracy:P1} on 10 classes");
        var withUncertainty = _ml.MulticlassClassification.EvaluateWithUncertainty(_test, coverage: 0.5);
        Assert.AreEqual(metrics.MicroAccuracy, withUncertainty.Accuracy, 1e-9);
        Assert.IsTrue(withUncertainty.Ece >= 0 && withUncertainty.Ece <= 1);
        Assert.IsTrue(withUncertainty.Brier > 0 && withUncertainty.Nll > 0);
        var byConfidence = _ml.MulticlassClassification.EvaluateWithUncertainty(_test, uncertaintyColumnName: BayesianColumnNames.Confidence, coverage: 0.5);
        Assert.IsTrue(byConfidence.SelectiveAccuracy >= byConfidence.Accuracy, "the most confident half is at least as accurate as all rows");
    }

    /// <summary>
    /// EvaluateWithUncertainty reads every column it needs (ML.NET's metrics and the uncertainty columns) from one
    /// scoring pass: the images are read, and so scored, once.
    /// </summary>
    [TestMethod]
    public void EvaluationWithUncertaintyScoresEveryRowOnce()
    {
        var input = new CursorCountingView(Load(_ml, _testFolder), "ImagePath");
        var scored = _model.Transform(input);
        var metrics = _ml.MulticlassClassification.EvaluateWithUncertainty(scored, coverage: 0.5);
        Assert.AreEqual(1, input.CursorsReading, "the image paths were read by one cursor: each row was scored once");
        Assert.AreEqual(100, metrics.Multiclass.ConfusionMatrix.Counts.Sum(r => r.Sum()), "every row reached ML.NET's metrics");
        Assert.AreEqual(_ml.MulticlassClassification.Evaluate(_test).MicroAccuracy, metrics.Accuracy, 1e-9);
    }

    [TestMethod]
    public void ReviewRuleIsTunedForACoverageOrAnAccuracy()
    {
        var rows = _ml.Data.CreateEnumerable<ScoredRow>(_test, reuseRowObject: false).ToList();
        var byCoverage = _ml.MulticlassClassification.FitReviewRule(_test, coverage: 0.7);
        int accepted = rows.Count(r => !byCoverage.NeedsReview(r));
        Assert.IsTrue(accepted >= 70 && accepted <= 75, $"{accepted} of 100 rows accepted at 70% coverage (ties may add a few)");
        var overall = _ml.MulticlassClassification.EvaluateWithUncertainty(_test).Accuracy;
        var byAccuracy = _ml.MulticlassClassification.FitReviewRule(_test, targetAccuracy: Math.Min(1, overall + 0.05), uncertaintyColumnName: BayesianColumnNames.PredictiveEntropy);
        if (byAccuracy.Coverage > 0) Assert.IsTrue(byAccuracy.Accuracy >= overall + 0.05 - 1e-9, byAccuracy.ToString());
        Assert.ThrowsExactly<ArgumentException>(() => _ml.MulticlassClassification.FitReviewRule(_test));
    }

    [TestMethod]
    public void OutputColumnsHaveTypesAndAnnotations()
    {
        var schema = _test.Schema;
        var predicted = schema[BayesianColumnNames.PredictedLabel];
        Assert.IsInstanceOfType<KeyDataViewType>(predicted.Type);
        Assert.AreEqual(10UL, ((KeyDataViewType)predicted.Type).Count);
        VBuffer<ReadOnlyMemory<char>> keys = default;
        predicted.GetKeyValues(ref keys);
        CollectionAssert.AreEquivalent(FashionMnist.ClassNames.ToArray(), keys.DenseValues().Select(k => k.ToString()).ToArray());

        var score = schema[BayesianColumnNames.Score];
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 10), score.Type);
        VBuffer<ReadOnlyMemory<char>> slots = default;
        score.GetSlotNames(ref slots);
        CollectionAssert.AreEqual(keys.DenseValues().Select(k => k.ToString()).ToArray(), slots.DenseValues().Select(k => k.ToString()).ToArray());

        foreach (string name in new[] { BayesianColumnNames.Confidence, BayesianColumnNames.PredictiveEntropy, BayesianColumnNames.ExpectedEntropy, BayesianColumnNames.MutualInformation,
                     BayesianColumnNames.FeatureDistance, BayesianColumnNames.Energy })
            Assert.AreEqual(NumberDataViewType.Single, schema[name].Type, name);

        var rows = _ml.Data.CreateEnumerable<ScoredRow>(_test, reuseRowObject: false).ToList();
        Assert.AreEqual(100, rows.Count);
        foreach (var r in rows)
        {
            Assert.AreEqual(1f, r.Score.Sum(), 1e-4f);
            Assert.AreEqual(r.Score.Max(), r.Confidence, 1e-6f);
            // Unclamped, H - E would differ from the clamped mutual information here where it fell below 0 by more than float error.
            Assert.AreEqual(r.PredictiveEntropy, r.ExpectedEntropy + r.MutualInformation, 1e-4f);
            Assert.IsTrue(FashionMnist.ClassNames.Contains(r.PredictedLabelText), $"MapKeyToValue gives folder names, got '{r.PredictedLabelText}'");
        }
        // ">= 0" alone holds for any value (the column is clamped at 0); the draws must also disagree somewhere.
        Assert.IsTrue(rows.Any(r => r.MutualInformation > 1e-6f), "the mutual-information column is 0 on every row: the draws never differ");
    }

    [TestMethod]
    public void ProgressReachesTheMLContextLog()
    {
        lock (Log)
        {
            Assert.IsTrue(Log.Any(m => m.Contains("stage 0 (Deterministic) epoch 1/4")), "per-epoch lines");
            Assert.IsTrue(Log.Any(m => m.Contains("stage 1 (MeanField)") && m.Contains("KL")), "NLL and KL are logged");
            Assert.IsTrue(Log.Any(m => m.Contains("stage 2:") && m.Contains("components")), "stage-2 statistics");
        }
    }

    [TestMethod]
    public void PredictionEngineGivesTheSameScoresAsTransform()
    {
        var engine = _ml.Model.CreatePredictionEngine<ImageInput, ScoredRow>(_model);
        var inputs = ImageFolder.Read(_testFolder).Take(8).ToList();
        var fromTransform = _ml.Data.CreateEnumerable<ScoredRow>(_test, reuseRowObject: false).Take(8).ToList();
        for (int i = 0; i < inputs.Count; i++)
        {
            var single = engine.Predict(new ImageInput { ImagePath = Path.Combine(_testFolder, inputs[i].ImagePath), Label = inputs[i].Label });
            for (int c = 0; c < 10; c++) Assert.AreEqual(fromTransform[i].Score[c], single.Score[c], 1e-5f, $"row {i} class {c}");
            Assert.AreEqual(fromTransform[i].MutualInformation, single.MutualInformation, 1e-5f);
        }
    }

    [TestMethod]
    public void TransformingTwiceGivesTheSameScores()
    {
        var a = _ml.Data.CreateEnumerable<ScoredRow>(_test, reuseRowObject: false).Select(r => r.Score).ToList();
        var b = _ml.Data.CreateEnumerable<ScoredRow>(_test, reuseRowObject: false).Select(r => r.Score).ToList();
        for (int i = 0; i < a.Count; i++) CollectionAssert.AreEqual(a[i], b[i]);
    }

    public sealed class ImageInput
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>The library's prediction row plus the class name that MapKeyToValue adds.</summary>
    public sealed class ScoredRow : BayesianPrediction
    {
        public string PredictedLabelText { get; set; } = "";
    }
}

