using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.Conformal;

/// <summary>FitConformal on the committed Fashion-MNIST subset: a small one-epoch model, 500 calibration and 500 held-out test images.</summary>
[TestClass]
public sealed class ConformalPipelineTests
{
    static MLContext _ml = null!;
    static BayesianImageClassificationTransformer _model = null!;
    static IDataView _calibration = null!, _heldOut = null!;

    public sealed class Input
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
    }

    [ClassInitialize]
    public static void Train(TestContext _)
    {
        _ml = new MLContext(seed: 1);
        var view = TestData.Train.StratifiedHead(30).ToDataView(_ml);
        var keys = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        _model = _ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            // Enough stage-0 steps (30) for a model better than chance: at 3 steps deterministic APS gave every row all ten
            // classes on one machine, and the test of set sizes then measured nothing.
            DeterministicEpochs = 5, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 50, PredictionSamples = 4,
            SharedPosterior = { ComponentBudget = 16, MinMembers = 10 },
        }).Fit(keys.Transform(view));
        var test = TestData.Test;
        _calibration = keys.Transform(test.Select(Enumerable.Range(0, 500).ToArray()).ToDataView(_ml));
        _heldOut = keys.Transform(test.Select(Enumerable.Range(500, 500).ToArray()).ToDataView(_ml));
    }

    [ClassCleanup]
    public static void Dispose() => _model?.Dispose();

    static (List<bool[]> Sets, List<float> Sizes, List<int> Labels) Read(IDataView scored)
    {
        var sets = new List<bool[]>();
        var sizes = new List<float>();
        var labels = new List<int>();
        var columns = new[] { scored.Schema[BayesianColumnNames.PredictionSet], scored.Schema[BayesianColumnNames.PredictionSetSize], scored.Schema["Label"] };
        using var cursor = scored.GetRowCursor(columns);
        var getSet = cursor.GetGetter<VBuffer<bool>>(columns[0]);
        var getSize = cursor.GetGetter<float>(columns[1]);
        var getLabel = cursor.GetGetter<uint>(columns[2]);
        VBuffer<bool> set = default;
        float size = 0;
        uint label = 0;
        while (cursor.MoveNext())
        {
            getSet(ref set); getSize(ref size); getLabel(ref label);
            sets.Add(set.DenseValues().ToArray()); sizes.Add(size); labels.Add((int)label - 1);
        }
        return (sets, sizes, labels);
    }

    // 500 calibration and 500 test rows: standard deviations sqrt(0.09 / 502) and sqrt(0.09 / 500), 0.019 together; four of them.
    const double Tolerance = 4 * 0.019;

    [TestMethod]
    public void SetsOnHeldOutImagesReachTheNominalCoverage()
    {
        Assert.IsNull(_model.GetOutputSchema(_heldOut.Schema).GetColumnOrNull(BayesianColumnNames.PredictionSet), "no calibration, no new columns");
        // LAC (the default) and randomised APS reach the coverage; deterministic APS at least reaches it.
        foreach (var options in new[] { new ConformalCalibration.Options(), new ConformalCalibration.Options { Method = ConformalMethod.Aps, Randomized = true },
                                        new ConformalCalibration.Options { Method = ConformalMethod.Aps } })
        {
            var calibrated = _ml.MulticlassClassification.FitConformal(_model, _calibration, options);
            var (sets, sizes, labels) = Read(calibrated.Transform(_heldOut));
            double coverage = sets.Select((s, i) => s[labels[i]]).Count(x => x) / (double)sets.Count;
            Console.WriteLine($"{options.Method}, randomised {options.Randomized}: coverage {coverage:P1}, mean size {sizes.Average():F2}, threshold {calibrated.Conformal!.Threshold:F4}");
            Assert.AreEqual(options.Method, calibrated.Conformal.Method);
            if (options.Method == ConformalMethod.Lac || options.Randomized) Assert.AreEqual(0.9, coverage, Tolerance);
            else Assert.IsTrue(coverage >= 0.9 - Tolerance, $"deterministic coverage {coverage}");
            for (int i = 0; i < sets.Count; i++) Assert.AreEqual(sets[i].Count(x => x), sizes[i], $"row {i}: PredictionSetSize counts the set");
            Assert.IsTrue(sizes.Average() < 10, "the sets are not all the classes");
        }
    }

    /// <summary>
    /// The guarantee itself, on real scores: over five seeded random splits of the 1,000 scored test images into 500
    /// calibration and 500 held-out rows, LAC's sets fitted on one half cover the other half at the nominal 90% on every
    /// split, and on average over the splits to within three standard errors (the guarantee is about that average).
    /// </summary>
    [TestMethod]
    public void CoverageOnHeldOutRowsHoldsOverSeededSplits()
    {
        var test = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.Test.ToDataView(_ml)).Transform(TestData.Test.ToDataView(_ml));
        var rows = MLNet.Bayesian.MLNetIntegration.UncertaintyEvaluation.ReadScoredRows(_model.Transform(test), "Label", _model.ScoreColumnName);
        int n = rows.Count, classes = rows.Classes;
        var coverages = new List<double>();
        foreach (int seed in new[] { 1, 2, 3, 4, 5 })
        {
            var order = Enumerable.Range(0, n).ToArray();
            new Random(seed).Shuffle(order);
            var calibrate = order[..(n / 2)];
            var heldOut = order[(n / 2)..];
            float[] Probabilities(int[] idx) => idx.SelectMany(i => Enumerable.Range(0, classes).Select(c => rows.Probabilities[i * classes + c])).ToArray();
            int[] Labels(int[] idx) => idx.Select(i => rows.Labels[i]).ToArray();
            var calibration = ConformalCalibration.Fit(Probabilities(calibrate), classes, Labels(calibrate), new ConformalCalibration.Options());
            var onHeldOut = calibration.Evaluate(Probabilities(heldOut), Labels(heldOut));
            Console.WriteLine($"seed {seed}: threshold {calibration.Threshold:F4}, held-out coverage {onHeldOut.Coverage:P1}, mean size {onHeldOut.MeanSetSize:F2}");
            Assert.IsTrue(onHeldOut.Coverage >= 0.9 - Tolerance, $"seed {seed}: coverage {onHeldOut.Coverage:P1} on the held-out half");
            coverages.Add(onHeldOut.Coverage);
        }
        double mean = coverages.Average();
        Assert.AreEqual(0.9, mean, 3 * 0.019 / Math.Sqrt(coverages.Count) + 1.0 / (n / 2 + 1), $"mean held-out coverage over the splits {mean:P1}");
    }

    [TestMethod]
    public void SavedModelGivesTheSameSetsAsTheOneInMemory()
    {
        var calibrated = _ml.MulticlassClassification.FitConformal(_model, _calibration, coverage: 0.9, method: ConformalMethod.Raps);
        string zip = Path.Combine(TestData.TempFolder(), "conformal.zip");
        BayesianModel.Save(_ml, calibrated, _heldOut.Schema, zip);
        var loaded = BayesianModel.Load(new MLContext(seed: 3), zip, out _);
        var memory = calibrated.Transform(_heldOut);
        var saved = loaded.Transform(_heldOut);
        foreach (string name in new[] { BayesianColumnNames.PredictionSet, BayesianColumnNames.PredictionSetSize })
            Assert.AreEqual(memory.Schema[name].Type, saved.Schema[name].Type, name);
        var (a, sizeA, _) = Read(memory);
        var (b, sizeB, _) = Read(saved);
        // Deterministic sets: the two differ only where a score is within float error (about 1e-6) of the threshold.
        int same = a.Zip(b, (x, y) => x.SequenceEqual(y)).Count(x => x);
        Assert.IsTrue(same >= 495, $"{same} of 500 sets identical");
        Assert.IsTrue(sizeA.Zip(sizeB, (x, y) => x == y).Count(x => x) >= 495);

        // PredictionEngine with the set columns, on the loaded model.
        var engine = _ml.Model.CreatePredictionEngine<Input, BayesianSetPrediction>(loaded);
        var row = engine.Predict(new Input { Pixels = TestData.Test.Image(500).ToArray() });
        CollectionAssert.AreEqual(b[0], row.PredictionSet);
        Assert.AreEqual(sizeB[0], row.PredictionSetSize);
    }

    [TestMethod]
    public void MissingLabelColumnOrTooFewRowsGiveAClearError()
    {
        var noLabel = _ml.Transforms.DropColumns("Label").Fit(_calibration).Transform(_calibration);
        var e = Assert.ThrowsExactly<ArgumentException>(() => _ml.MulticlassClassification.FitConformal(_model, noLabel));
        StringAssert.Contains(e.Message, "Label column 'Label'");
        var few = _ml.Data.TakeRows(_calibration, 10);
        var e2 = Assert.ThrowsExactly<ArgumentException>(() => _ml.MulticlassClassification.FitConformal(_model, few, coverage: 0.95));
        StringAssert.Contains(e2.Message, "at least 19 rows");
        var e3 = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => _ml.MulticlassClassification.FitConformal(_model, _calibration, coverage: 1));
        StringAssert.Contains(e3.Message, "Coverage");
    }
}
