using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Tests.MLNetIntegration;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Reflection;

namespace MLNet.Bayesian.Tests.Persistence;

[TestClass]
public sealed class SaveLoadTests
{
    static string _train = "", _test = "", _zip = "";
    static MLContext _ml = null!;
    static ITransformer _model = null!;
    static IDataView _trainData = null!;

    /// <summary>One model trained on PNG folders and saved with mlContext.Model.Save, shared by the persistence tests.</summary>
    internal static MLContext Context { get { Fixture(); return _ml; } }
    internal static ITransformer Model { get { Fixture(); return _model; } }
    internal static string Zip { get { Fixture(); return _zip; } }

    static readonly object Gate = new();

    static void Fixture()
    {
        lock (Gate)
        {
            if (_model is not null) return;
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
    }

    [ClassInitialize]
    public static void FitAndSave(TestContext _) => Fixture();

    [TestMethod]
    public void LoadedModelScoresLikeTheFittedOne()
    {
        var test = ImagePipelineTests.Load(_ml, _test);
        var expected = _ml.Data.CreateEnumerable<BayesianPrediction>(_model.Transform(test), reuseRowObject: false).ToList();

        var ml2 = new MLContext(seed: 99);
        var loaded = BayesianModel.Load(ml2, _zip, out var inputSchema);
        Assert.IsTrue(inputSchema.GetColumnOrNull("ImagePath").HasValue, "the input schema is saved");
        var scored = loaded.Transform(ImagePipelineTests.Load(ml2, _test));
        var actual = ml2.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false).ToList();

        Assert.AreEqual(expected.Count, actual.Count);
        double maxDiff = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].PredictedLabel, actual[i].PredictedLabel, $"row {i}");
            maxDiff = Math.Max(maxDiff, expected[i].Score.Zip(actual[i].Score, (a, b) => (double)Math.Abs(a - b)).Max());
            Assert.AreEqual(expected[i].MutualInformation, actual[i].MutualInformation, 1e-4f);
            Assert.AreEqual(expected[i].Confidence, actual[i].Confidence, 1e-4f);
            Assert.AreEqual(expected[i].FeatureDistance, actual[i].FeatureDistance, 1e-3f * Math.Max(1, expected[i].FeatureDistance), $"feature distance, row {i}");
            Assert.IsTrue(expected[i].FeatureDistance > 0, "the trained model has a feature fit");
            Assert.AreEqual(expected[i].Energy, actual[i].Energy, 1e-4f * Math.Max(1, Math.Abs(expected[i].Energy)), $"energy, row {i}");
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
        foreach (string name in new[] { "Confidence", "PredictiveEntropy", "ExpectedEntropy", "MutualInformation", "FeatureDistance", "Energy" })
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

    [TestMethod]
    public void AnotherProcessLoadsTheZipAndScoresTheSameImages()
    {
        var (code, stdout, stderr) = RunLoadCheck();
        Assert.AreEqual(0, code, $"stdout: {stdout}\nstderr: {stderr}");
        string csv = LastCsv;

        var lines = File.ReadAllLines(csv);
        var expected = _ml.Data.CreateEnumerable<BayesianPrediction>(_model.Transform(ImagePipelineTests.Load(_ml, _test)), reuseRowObject: false).ToList();
        var keyNames = KeyNames(_model.Transform(ImagePipelineTests.Load(_ml, _test)).Schema["PredictedLabel"]);
        Assert.AreEqual(expected.Count, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            var fields = lines[i].Split(',');
            Assert.AreEqual(keyNames[(int)expected[i].PredictedLabel - 1], fields[0], $"row {i} label");
            Assert.AreEqual(expected[i].MutualInformation, float.Parse(fields[4], CultureInfo.InvariantCulture), 1e-4f);
            for (int c = 0; c < expected[i].Score.Length; c++)
                Assert.AreEqual(expected[i].Score[c], float.Parse(fields[5 + c], CultureInfo.InvariantCulture), 1e-4f, $"row {i} class {c}");
        }
    }

    static IReadOnlyList<string> KeyNames(DataViewSchema.Column column)
        => ImageSetDataView.KeyNames(column, (int)((KeyDataViewType)column.Type).Count);

    [TestMethod]
    public void FlippedBytesOrAMissingEntryGiveAClearError()
    {
        string folder = TestData.TempFolder();
        string flipped = Path.Combine(folder, "flipped.zip");
        var bytes = File.ReadAllBytes(_zip);
        for (int i = bytes.Length / 3; i < bytes.Length / 3 + 64; i++) bytes[i] ^= 0xFF;
        File.WriteAllBytes(flipped, bytes);
        var e1 = Assert.ThrowsExactly<InvalidDataException>(() => BayesianModel.Load(new MLContext(), flipped, out _));
        StringAssert.Contains(e1.Message, flipped);

        string missing = Path.Combine(folder, "missing.zip");
        File.Copy(_zip, missing);
        using (var archive = ZipFile.Open(missing, ZipArchiveMode.Update))
        {
            var onnxEntry = archive.Entries.First(en => en.FullName.Contains("Onnx", StringComparison.OrdinalIgnoreCase) || en.FullName.EndsWith("Model.key"));
            onnxEntry.Delete();
        }
        var e2 = Assert.ThrowsExactly<InvalidDataException>(() => BayesianModel.Load(new MLContext(), missing, out _));
        StringAssert.Contains(e2.Message, missing);

        var e3 = Assert.ThrowsExactly<FileNotFoundException>(() => BayesianModel.Load(new MLContext(), Path.Combine(folder, "nope.zip"), out _));
        StringAssert.Contains(e3.Message, "nope.zip");
    }

    [TestMethod]
    public void PlainModelLoadWorksInAFreshProcessThatUsesTheLibrary()
    {
        // mlContext.Model.Load finds the CustomMapping once this library's assembly is loaded in the process.
        var (code, stdout, stderr) = RunLoadCheck("--plain-load");
        Assert.AreEqual(0, code, $"stdout: {stdout}\nstderr: {stderr}");
        Assert.AreEqual(100, File.ReadAllLines(LastCsv).Length);
    }

    static (int Code, string Stdout, string Stderr) RunLoadCheck(params string[] extra)
    {
        var (code, stdout, stderr, csv) = LoadCheckProcess.Run(_zip, _test, extra);
        LastCsv = csv;
        return (code, stdout, stderr);
    }

    static string LastCsv = "";

    [TestMethod]
    public void PixelVectorModelRoundTripsAndAWrongSizeNamesTheColumn()
    {
        var ml = new MLContext(seed: 2);
        var view = TestData.Train.StratifiedHead(20).ToDataView(ml);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        using var model = ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 4,
            SharedPosterior = { MinMembers = 10, ComponentBudget = 32 },
        }).Fit(keys.Transform(view));
        string zip = Path.Combine(TestData.TempFolder(), "vector.zip");
        ml.Model.Save(model, view.Schema, zip);
        var probe = TestData.Test.StratifiedHead(3).ToDataView(ml);
        var expected = ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(probe), reuseRowObject: false).ToList();
        var loaded = BayesianModel.Load(new MLContext(), zip, out _);
        var actual = ml.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(probe), reuseRowObject: false).ToList();
        for (int i = 0; i < expected.Count; i++)
            for (int c = 0; c < 10; c++) Assert.AreEqual(expected[i].Score[c], actual[i].Score[c], 1e-4f);

        var small = new ImageSet(new float[3 * 64], new[] { 0, 1, 2 }, 1, 8, 8, MLNet.Bayesian.Data.FashionMnist.ClassNames).ToDataView(ml);
        var e = Assert.Throws<Exception>(() => loaded.Transform(small));
        StringAssert.Contains(e.Message, "'Pixels'");
        StringAssert.Contains(e.Message, "1,1,28,28");

        string onnx = Path.Combine(TestData.TempFolder(), "bare.onnx");
        model.ExportOnnx(onnx);
        Tests.Onnx.OnnxChecker.AssertValid(onnx, "ExportOnnx of a vector-input model");
        Assert.AreEqual("4", MLNet.Bayesian.Persistence.BayesianOnnxExport.ReadMetadata(File.ReadAllBytes(onnx))["samples"]);
    }

    [TestMethod]
    public void LoadingForAGpuFallsBackToTheCpuWhereThereIsNone()
    {
        // ML.NET's OnnxTransformer takes the context's GPU settings when it loads a model.
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = true };
        var loaded = BayesianModel.Load(ml, Zip, out _);
        var scores = ml.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(ImagePipelineTests.Load(ml, _test)), reuseRowObject: false).ToList();
        var expected = Context.Data.CreateEnumerable<BayesianPrediction>(BayesianModel.Load(new MLContext(), Zip, out _).Transform(ImagePipelineTests.Load(Context, _test)), reuseRowObject: false).ToList();
        Assert.AreEqual(expected.Count, scores.Count);
        for (int i = 0; i < scores.Count; i++) CollectionAssert.AreEqual(expected[i].Score, scores[i].Score, $"row {i}");
        Assert.AreEqual(0, ml.GpuDeviceId, "the context keeps its settings");

        if (Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider")) return;
        var strict = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => BayesianModel.Load(strict, Zip, out _));
        StringAssert.Contains(e.Message, "OnnxRuntimeBackend=gpu");
        StringAssert.Contains(e.Message, "FallbackToCpu");
    }
}
