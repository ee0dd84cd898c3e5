using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Tests.MLNetIntegration;

namespace MLNet.Bayesian.Tests.Persistence;

[TestClass]
public sealed class SaveLoadTests
{
    static string _train = "", _test = "", _zip = "";
    static MLContext _ml = null!;
    static ITransformer _model = null!;
    static IDataView _trainData = null!;

    [ClassInitialize]
    public static void FitAndSave(TestContext _)
    {
        (_train, _test) = ImagePipelineTests.WriteFolders();
        _ml = new MLContext(seed: 5);
        _trainData = ImagePipelineTests.Load(_ml, _train);
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(_ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 8,
                Variant = MLNet.Bayesian.Posterior.SamplingVariant.Shared, SharedPosterior = { MinMembers = 10, ComponentBudget = 64 },
            }));
        _model = pipeline.Fit(_trainData);
        _zip = Path.Combine(TestData.TempFolder(), "model.zip");
        _ml.Model.Save(_model, _trainData.Schema, _zip);
    }

    [ClassCleanup]
    public static void Cleanup() => (_model as IDisposable)?.Dispose();

    internal sealed class Scored
    {
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
        public float Confidence { get; set; }
        public float PredictiveEntropy { get; set; }
        public float ExpectedEntropy { get; set; }
        public float MutualInformation { get; set; }
    }

    [TestMethod]
    public void LoadedModelScoresLikeTheFittedOne()
    {
        var test = ImagePipelineTests.Load(_ml, _test);
        var expected = _ml.Data.CreateEnumerable<Scored>(_model.Transform(test), reuseRowObject: false).ToList();

        var ml2 = new MLContext(seed: 99);
        var loaded = BayesianModel.Load(ml2, _zip, out var inputSchema);
        Assert.IsTrue(inputSchema.GetColumnOrNull("ImagePath").HasValue, "the input schema is saved");
        var scored = loaded.Transform(ImagePipelineTests.Load(ml2, _test));
        var actual = ml2.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false).ToList();

        Assert.AreEqual(expected.Count, actual.Count);
        double maxDiff = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].PredictedLabel, actual[i].PredictedLabel, $"row {i}");
            maxDiff = Math.Max(maxDiff, expected[i].Score.Zip(actual[i].Score, (a, b) => (double)Math.Abs(a - b)).Max());
            Assert.AreEqual(expected[i].MutualInformation, actual[i].MutualInformation, 1e-4f);
            Assert.AreEqual(expected[i].Confidence, actual[i].Confidence, 1e-4f);
        }
        Console.WriteLine($"max score difference after save/load: {maxDiff:E2}");
        Assert.IsTrue(maxDiff <= 1e-4);

        var schema = scored.Schema;
        Assert.IsInstanceOfType<KeyDataViewType>(schema["PredictedLabel"].Type);
        VBuffer<ReadOnlyMemory<char>> keys = default, originalKeys = default;
        schema["PredictedLabel"].GetKeyValues(ref keys);
        _model.Transform(test).Schema["PredictedLabel"].GetKeyValues(ref originalKeys);
        CollectionAssert.AreEqual(originalKeys.DenseValues().Select(k => k.ToString()).ToArray(), keys.DenseValues().Select(k => k.ToString()).ToArray());
        Assert.AreEqual(new VectorDataViewType(NumberDataViewType.Single, 10), schema["Score"].Type);
        foreach (string name in new[] { "Confidence", "PredictiveEntropy", "ExpectedEntropy", "MutualInformation" })
            Assert.AreEqual(NumberDataViewType.Single, schema[name].Type, name);
        Assert.IsFalse(schema.Any(c => c.Name.StartsWith("__mlnb")), "intermediate columns are dropped");
        var metrics = ml2.MulticlassClassification.Evaluate(scored);
        Assert.IsTrue(metrics.MicroAccuracy > 0.3);
    }

    [TestMethod]
    public void SavedZipIsSmallAgainstMeanField()
    {
        var transformer = ((IEnumerable<ITransformer>)_model).OfType<BayesianImageClassificationTransformer>().Single();
        long weights = transformer.Report.BayesianWeights;
        long zip = new FileInfo(_zip).Length;
        long meanField = 2L * 4 * weights, deterministic = 4L * weights;
        Console.WriteLine($"saved zip {zip:N0} bytes; deterministic float32 weights {deterministic:N0}; mean-field {meanField:N0} ({100.0 * zip / meanField:F1}%)");
        Assert.IsTrue(zip <= 0.3 * meanField, $"zip {zip} bytes is more than 30% of {meanField}");
    }
}
