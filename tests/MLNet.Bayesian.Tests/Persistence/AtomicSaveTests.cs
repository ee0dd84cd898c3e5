using Microsoft.ML;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Tests.MLNetIntegration;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Persistence;

/// <summary>A save that fails leaves the file it would have replaced as it was; a network that could not be saved is refused before training.</summary>
[TestClass]
public sealed class AtomicSaveTests
{
    [TestMethod]
    public void AFailedSaveLeavesTheEarlierModelIntactAndNoTemporaryFile()
    {
        // A good model at the target, then a pipeline whose save throws half way: trained on raw image bytes, which no
        // public ML.NET transform can decode, so its classifier refuses to save after ML.NET has started writing the zip.
        string folder = TestData.TempFolder();
        string target = Path.Combine(folder, "keep.zip");
        File.Copy(SaveLoadTests.Zip, target);
        byte[] before = File.ReadAllBytes(target);

        var (train, _) = ImagePipelineTests.WriteFolders();
        var ml = new MLContext(seed: 1);
        var data = ImagePipelineTests.Load(ml, train);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = 1, MeanFieldEpochs = 0, BatchSize = 64, FeatureFitImages = 0,
            })).Fit(data);
        var e = Assert.Throws<Exception>(() => BayesianModel.Save(ml, model, data.Schema, target));
        StringAssert.Contains(e.ToString(), "raw image bytes");
        CollectionAssert.AreEqual(before, File.ReadAllBytes(target), "the earlier model is byte for byte as it was");
        CollectionAssert.AreEqual(new[] { "keep.zip" }, Directory.GetFiles(folder).Select(Path.GetFileName).ToArray(), "no temporary file is left beside it");
        Assert.IsTrue(BayesianModel.Inspect(target).Labels.Count > 0, "and it still reads as a model");
    }

    sealed class Unexportable : nn.Module<Tensor, Tensor>
    {
        readonly nn.Module<Tensor, Tensor> layer;
        public Unexportable(long inputs, int classes) : base(nameof(Unexportable)) { layer = nn.Linear(inputs, classes); RegisterComponents(); }
        public override Tensor forward(Tensor x) => layer.call(x.flatten(1).sin());
    }

    [TestMethod]
    public void ANetworkThatCouldNotBeSavedIsRefusedBeforeTraining()
    {
        var (train, _) = ImagePipelineTests.WriteFolders();
        var ml = new MLContext(seed: 1);
        int batches = 0;
        var options = new BayesianImageClassificationTrainer.Options
        {
            NetworkFactory = (c, h, w, k) => new Unexportable((long)c * h * w, k), DeterministicEpochs = 1, MeanFieldEpochs = 0,
            Progress = _ => batches++,
        };
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options));
        var e = Assert.ThrowsExactly<ArgumentException>(() => pipeline.Fit(ImagePipelineTests.Load(ml, train)));
        StringAssert.Contains(e.Message, "Unexportable");
        StringAssert.Contains(e.Message, "refused before");
        Assert.AreEqual(0, batches, "no batch was trained");
    }
}
