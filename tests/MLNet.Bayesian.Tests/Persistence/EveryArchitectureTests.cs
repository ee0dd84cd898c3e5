using System.Globalization;
using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Tests.MLNetIntegration;
using MLNet.Bayesian.Tests.Onnx;

namespace MLNet.Bayesian.Tests.Persistence;

/// <summary>
/// Every architecture the library offers (issue 29), at a tiny size: one step of every stage through the ML.NET trainer,
/// saved, checked by the ONNX checker, loaded in another process, and scored there as in memory. ResNet-101 is
/// ResNet-50's class with 23 blocks in its third stage instead of 6 (torchvision's layout), so its Bayesian stages take
/// the code ResNet-50's row runs; its own row trains stage 0 only, and the round trip shows that its 101 layers write
/// themselves and load (the full row took 140 s of the suite's 10 minutes, most of it stage 2 on 42 million weights).
/// </summary>
[TestClass]
public sealed class EveryArchitectureTests
{
    static string _train = "", _probe = "";

    [ClassInitialize]
    public static void WriteImages(TestContext _)
    {
        string root = TestData.TempFolder();
        (_train, _probe) = (Path.Combine(root, "train"), Path.Combine(root, "probe"));
        ImageFolder.Write(TestData.Train.StratifiedHead(3), _train);
        ImageFolder.Write(TestData.Test.StratifiedHead(1), _probe);
    }

    [TestMethod]
    public void TheTestCoversEveryArchitecture()
        => CollectionAssert.AreEquivalent(Enum.GetValues<Architecture>(),
            typeof(EveryArchitectureTests).GetMethod(nameof(TrainsSavesAndScoresInAnotherProcessAsInMemory))!.GetCustomAttributes(typeof(DataRowAttribute), false)
                .Select(a => (Architecture)((DataRowAttribute)a).Data[0]!).ToArray());

    [TestMethod]
    [DataRow(Architecture.SmallCnn, 28)]
    [DataRow(Architecture.ResNet20, 28)]
    [DataRow(Architecture.ResNet18, 32)]
    [DataRow(Architecture.ResNet50, 32)]
    [DataRow(Architecture.ResNet101, 32)]
    [DataRow(Architecture.SmallVit, 28)]
    [DataRow(Architecture.Mlp, 28)]
    public void TrainsSavesAndScoresInAnotherProcessAsInMemory(Architecture architecture, int size)
    {
        bool stageZeroOnly = architecture == Architecture.ResNet101;
        var ml = new MLContext(seed: 1);
        var options = new BayesianImageClassificationTrainer.Options
        {
            Architecture = architecture, ImageHeight = size, ImageWidth = size, DeterministicEpochs = 1, MeanFieldEpochs = stageZeroOnly ? 0 : 1, SharedEpochs = 1,
            // One draw for the ImageNet-sized networks: ONNX Runtime takes most of their time building a session for the
            // saved graph, once at save and once at load, and that cost grows with S (2 minutes for ResNet-101 at S = 2 here).
            BatchSize = 32, PredictionSamples = architecture is Architecture.ResNet50 or Architecture.ResNet101 ? 1 : 2, FeatureFitImages = 10, SharedPosterior = { ComponentBudget = 16, MinMembers = 5 },
        };
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var trainData = ImagePipelineTests.Load(ml, _train);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options)).Fit(trainData);
        var classifier = model.LastTransformer;
        Assert.AreEqual(stageZeroOnly ? MLNet.Bayesian.Training.BayesianStage.Deterministic : MLNet.Bayesian.Training.BayesianStage.Shared,
            classifier.Model.Network.Stage, $"{architecture} went through the stages it was asked for");
        double trained = clock.Elapsed.TotalSeconds;

        string folder = TestData.TempFolder();
        string onnx = Path.Combine(folder, "model.onnx");
        classifier.ExportOnnx(onnx);
        double exported = clock.Elapsed.TotalSeconds;
        OnnxChecker.AssertValid(onnx, architecture.ToString());
        double checkedAt = clock.Elapsed.TotalSeconds;
        string zip = Path.Combine(folder, "model.zip");
        BayesianModel.Save(ml, model, trainData.Schema, zip);
        double saved = clock.Elapsed.TotalSeconds;

        var expected = ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(ImagePipelineTests.Load(ml, _probe)), reuseRowObject: false).ToList();
        double scored = clock.Elapsed.TotalSeconds;
        string description = $"{classifier.Report.DeterministicParameters:N0} parameters, {classifier.Report.SharedParameters:N0} trainable in stage 3";
        // The trained network goes before the other process loads the model. For ResNet-101, the two processes together
        // came near this 24 GB machine's memory, and the kernel killed the test host.
        model.Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var (code, stdout, stderr, csv) = LoadCheckProcess.Run(zip, _probe);
        double loaded = clock.Elapsed.TotalSeconds;
        Assert.AreEqual(0, code, $"stdout: {stdout}\nstderr: {stderr}");
        var lines = File.ReadAllLines(csv);
        Assert.AreEqual(expected.Count, lines.Length);
        double worst = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var fields = lines[i].Split(',');
            Assert.AreEqual(expected[i].MutualInformation, float.Parse(fields[4], CultureInfo.InvariantCulture), 1e-4f, $"{architecture}: row {i}");
            for (int c = 0; c < expected[i].Score.Length; c++)
                worst = Math.Max(worst, Math.Abs(expected[i].Score[c] - float.Parse(fields[5 + c], CultureInfo.InvariantCulture)));
        }
        Console.WriteLine($"{architecture} at {size}x{size}: {description}, " +
                          $"zip {new FileInfo(zip).Length:N0} bytes, largest score difference in another process {worst:E2}, trained in {trained:F1} s, " +
                          $"exported {exported - trained:F1} s, checked {checkedAt - exported:F1} s, saved {saved - checkedAt:F1} s, scored in memory {scored - saved:F1} s, " +
                          $"loaded and scored in another process {loaded - scored:F1} s, all in {clock.Elapsed.TotalSeconds:F1} s");
        Assert.IsTrue(worst <= 1e-4, $"{architecture}: {worst:E2}");
        Directory.Delete(folder, recursive: true);
    }
}
