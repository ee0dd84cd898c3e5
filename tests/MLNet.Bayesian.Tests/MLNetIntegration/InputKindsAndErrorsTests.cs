using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

[TestClass]
public sealed class InputKindsAndErrorsTests
{
    static string _train = "", _test = "";

    [ClassInitialize]
    public static void Folders(TestContext _) => (_train, _test) = ImagePipelineTests.WriteFolders();

    static BayesianImageClassificationTrainer.Options Fast(string image = "Image") => new()
    {
        ImageColumnName = image, DeterministicEpochs = 4, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32,
        LearningRate = 3e-3, PredictionSamples = 3, SharedPosterior = { MinMembers = 10, ComponentBudget = 64 },
    };

    static double Accuracy(MLContext ml, ITransformer model, IDataView test)
        => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

    [TestMethod]
    public void RawImageBytesTrainAndScore()
    {
        var ml = new MLContext(seed: 2);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(Fast()));
        using var model = (IDisposable)pipeline.Fit(ImagePipelineTests.Load(ml, _train));
        double accuracy = Accuracy(ml, (ITransformer)model, ImagePipelineTests.Load(ml, _test));
        Assert.IsTrue(accuracy > 0.4, $"accuracy {accuracy:P1}");
    }

    [TestMethod]
    public void ExtractPixelsVectorTrainsAndScores()
    {
        var ml = new MLContext(seed: 3);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("Resized", 28, 28, "Image"))
            .Append(ml.Transforms.ConvertToGrayscale("Gray", "Resized"))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Gray", colorsToExtract: Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28,
                DeterministicEpochs = 4, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, LearningRate = 3e-3, PredictionSamples = 3,
                SharedPosterior = { MinMembers = 10, ComponentBudget = 64 },
            }));
        using var model = (IDisposable)pipeline.Fit(ImagePipelineTests.Load(ml, _train));
        double accuracy = Accuracy(ml, (ITransformer)model, ImagePipelineTests.Load(ml, _test));
        Assert.IsTrue(accuracy > 0.4, $"accuracy {accuracy:P1}");
    }

    [TestMethod]
    public void LabelThatIsNotAKeyNamesTheColumnTypeAndFix()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.LoadImages("Image", null, "ImagePath").Fit(ImagePipelineTests.Load(ml, _test)).Transform(ImagePipelineTests.Load(ml, _test));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(Fast()).Fit(data));
        StringAssert.Contains(e.Message, "'Label'");
        StringAssert.Contains(e.Message, "String");
        StringAssert.Contains(e.Message, "MapValueToKey");
    }

    [TestMethod]
    public void MissingImageColumnIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ImagePipelineTests.Load(ml, _test)).Transform(ImagePipelineTests.Load(ml, _test));
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(Fast("Photo")).Fit(data));
        StringAssert.Contains(e.Message, "'Photo'");
        StringAssert.Contains(e.Message, "ImagePath");
    }

    [TestMethod]
    public void WrongVectorSizeIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var view = TestData.Test.StratifiedHead(3).ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 32; options.ImageWidth = 32;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
        StringAssert.Contains(e.Message, "'Pixels'");
        StringAssert.Contains(e.Message, "784");
        StringAssert.Contains(e.Message, "1024");
    }

    [TestMethod]
    public void CorruptImageFileNamesTheRowAndColumn()
    {
        string folder = TestData.TempFolder();
        ImageFolder.Write(TestData.Test.StratifiedHead(2), folder);
        string victim = Directory.GetFiles(Path.Combine(folder, "Bag")).OrderBy(f => f).First();
        File.WriteAllBytes(victim, new byte[] { 0x89, 0x50, 0x4e, 0x47, 1, 2, 3 });
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(Fast()));
        var e = Assert.Throws<Exception>(() => pipeline.Fit(ImagePipelineTests.Load(ml, folder)));
        string all = e.ToString();
        StringAssert.Contains(all, "Row ");
        StringAssert.Contains(all, "'Image'");
    }

    [TestMethod]
    public void EmptyDataViewIsAClearError()
    {
        var ml = new MLContext(seed: 1);
        var empty = new ImageSet(Array.Empty<float>(), Array.Empty<int>(), 1, 28, 28, FashionMnist.ClassNames).ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.Test.StratifiedHead(1).ToDataView(ml)).Transform(empty);
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 28; options.ImageWidth = 28;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
        StringAssert.Contains(e.Message, "empty");
    }

    [TestMethod]
    public void SingleClassIsAClearError()
    {
        var ml = new MLContext(seed: 1);
        var oneClass = TestData.Train.Select(Enumerable.Range(0, TestData.Train.Count).Where(i => TestData.Train.Labels[i] == 1).Take(10).ToList());
        var view = oneClass.ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 28; options.ImageWidth = 28;
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
        StringAssert.Contains(e.Message, "single class");
        StringAssert.Contains(e.Message, "Trouser");
    }

    [TestMethod]
    public void CudaWithoutFallbackGivesTheDocumentedError()
    {
        if (TorchSharp.torch.cuda.is_available()) Assert.Inconclusive("This machine has CUDA.");
        var ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var view = TestData.Test.StratifiedHead(3).ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 28; options.ImageWidth = 28;
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
        StringAssert.Contains(e.Message, "GpuDeviceId");
        StringAssert.Contains(e.Message, "FallbackToCpu");

        ml.FallbackToCpu = true;
        options.DeterministicEpochs = 1; options.MeanFieldEpochs = 0;
        using var model = ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data);
        Assert.AreEqual("cpu", model.Model.Device.type.ToString().ToLowerInvariant());
    }

    [TestMethod]
    public void CancelExecutionStopsTraining()
    {
        var ml = new MLContext(seed: 1);
        var view = TestData.Train.ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 28; options.ImageWidth = 28; options.DeterministicEpochs = 50;
        var epochs = new List<string>();
        ml.Log += (_, e) =>
        {
            if (!e.Message.Contains("/50")) return;
            epochs.Add(e.Message);
            if (e.Message.Contains("epoch 1/50")) MLNetInternalsProbe.CancelExecution(ml);
        };
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
        Assert.IsFalse(epochs.Any(m => m.Contains("epoch 3/50")), $"stops within the epoch after the request, long before 50: {string.Join(" | ", epochs)}");
    }

    [TestMethod]
    public void CancellationTokenInTheOptionsStopsTraining()
    {
        var ml = new MLContext(seed: 1);
        var view = TestData.Train.ToDataView(ml);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        using var source = new CancellationTokenSource();
        var options = Fast("Pixels");
        options.ImageChannels = 1; options.ImageHeight = 28; options.ImageWidth = 28; options.DeterministicEpochs = 50;
        options.CancellationToken = source.Token;
        ml.Log += (_, e) => { if (e.Message.Contains("epoch 1/50")) source.Cancel(); };
        Assert.ThrowsExactly<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(data));
    }

    [TestMethod]
    public void TheMLContextSettingsAreReachedThroughTheCatalog()
    {
        // Fails loudly if an ML.NET release moves the members MLNetInternals reads.
        var ml = new MLContext(seed: 42) { GpuDeviceId = 3, FallbackToCpu = true };
        var env = MLNetInternalsProbe.Environment(ml.MulticlassClassification.Trainers);
        Assert.AreEqual(42, MLNetInternalsProbe.Seed(env));
        Assert.AreEqual(3, MLNetInternalsProbe.Gpu(env));
        Assert.IsTrue(MLNetInternalsProbe.Fallback(env));
        Assert.IsFalse(MLNetInternalsProbe.Canceled(env));
        MLNetInternalsProbe.CancelExecution(ml);
        Assert.IsTrue(MLNetInternalsProbe.Canceled(env));
        var column = MLNetInternalsProbe.Column("X");
        Assert.AreEqual("X", column.Name);
    }
}
