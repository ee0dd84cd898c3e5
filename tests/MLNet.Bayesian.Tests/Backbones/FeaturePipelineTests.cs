using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Tests.MLNetIntegration;

namespace MLNet.Bayesian.Tests.Backbones;

/// <summary>
/// The trainer on features: a pretrained backbone's (images in, the head trained on their ResNet-18 features, the saved
/// model scoring images), and a float-vector column's (tabular data: the 64 pixel counts of scikit-learn's digits).
/// </summary>
[TestClass]
public sealed class FeaturePipelineTests
{
    static BayesianImageClassificationTrainer.Options Fast() => new()
    {
        DeterministicEpochs = 15, MeanFieldEpochs = 2, SharedEpochs = 2, BatchSize = 32, PredictionSamples = 8, Seed = 3,
        SharedPosterior = { ComponentBudget = 64, MinMembers = 10 },
    };

    static void AssertSameScores(List<BayesianPrediction> expected, List<BayesianPrediction> actual, string what)
    {
        Assert.AreEqual(expected.Count, actual.Count);
        double worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.AreEqual(expected[i].PredictedLabel, actual[i].PredictedLabel, $"{what}: row {i}");
            worst = Math.Max(worst, expected[i].Score.Zip(actual[i].Score, (a, b) => (double)Math.Abs(a - b)).Max());
            Assert.AreEqual(expected[i].MutualInformation, actual[i].MutualInformation, 1e-4f, $"{what}: row {i}");
            Assert.AreEqual(expected[i].Energy, actual[i].Energy, 1e-4f * Math.Max(1, Math.Abs(expected[i].Energy)), $"{what}: energy, row {i}");
            Assert.AreEqual(expected[i].FeatureDistance, actual[i].FeatureDistance, 1e-3f * Math.Max(1, expected[i].FeatureDistance), $"{what}: feature distance, row {i}");
        }
        Console.WriteLine($"{what}: largest score difference after save and load {worst:E2}");
        Assert.IsTrue(worst <= 1e-4, $"{what}: {worst:E2}");
    }

    [TestMethod]
    public void ABackboneTrainsTheHeadOnItsFeaturesAndTheSavedModelScoresImages()
    {
        var (train, test) = ImagePipelineTests.WriteFolders(12, 4);
        string root = Path.GetDirectoryName(train)!;
        var ml = new MLContext(seed: 1);
        var log = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains("BayesianImageClassification")) lock (log) log.Add(e.Message); };
        var options = Fast();
        options.Backbone = Backbone.ResNet18ImageNet;
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options));
        var trainData = ImagePipelineTests.Load(ml, train);
        using var model = pipeline.Fit(trainData);
        var classifier = model.LastTransformer;
        Assert.AreEqual(Backbone.ResNet18ImageNet, classifier.Backbone);
        Assert.AreEqual(512, classifier.Model.Channels, "the head sees the 512 features");
        Assert.AreEqual((3, 224, 224), (classifier.Input.Channels, classifier.Input.Height, classifier.Input.Width), "the model takes RGB images at the backbone's size");
        Assert.IsTrue(log.Any(l => l.Contains("backbone resnet18-imagenet")), string.Join("\n", log));

        var testData = ImagePipelineTests.Load(ml, test);
        var scored = model.Transform(testData);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Console.WriteLine($"backbone head on 120 Fashion-MNIST images: test accuracy {metrics.MicroAccuracy:P1} on 40");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.5, $"accuracy {metrics.MicroAccuracy:P1} on 10 classes from 12 images each");
        var expected = ml.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false).ToList();

        string zip = Path.Combine(root, "model.zip");
        BayesianModel.Save(ml, model, trainData.Schema, zip);
        Assert.AreEqual("[3,224,224]", BayesianModel.Inspect(zip).InputShape);
        var ml2 = new MLContext(seed: 9);
        var loaded = BayesianModel.Load(ml2, zip, out _);
        var actual = ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(ImagePipelineTests.Load(ml2, test)), reuseRowObject: false).ToList();
        AssertSameScores(expected, actual, "backbone");
        Directory.Delete(root, recursive: true);
    }

    [TestMethod]
    public void FineTuningTheLastStageMakesItBayesianAndTheSavedModelScoresLikeTheTrainedOne()
    {
        // 32 x 32 images keep it small: the last stage then works on 2 x 2 activations.
        var (train, test) = ImagePipelineTests.WriteFolders(5, 2);
        string root = Path.GetDirectoryName(train)!;
        var ml = new MLContext(seed: 1);
        var options = Fast();
        (options.DeterministicEpochs, options.MeanFieldEpochs, options.SharedEpochs, options.PredictionSamples) = (2, 1, 1, 4);
        (options.Backbone, options.BackboneTraining, options.ImageHeight, options.ImageWidth) = (Backbone.ResNet18ImageNet, BackboneTraining.LastStage, 32, 32);
        var trainData = ImagePipelineTests.Load(ml, train);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options)).Fit(trainData);
        var classifier = model.LastTransformer;
        Assert.AreEqual((256, 2, 2), (classifier.Model.Channels, classifier.Model.Height, classifier.Model.Width), "the network starts where the last stage does");
        var network = classifier.Model.Network;
        Assert.IsInstanceOfType<BackboneTail>(network.Network);
        Assert.IsTrue(network.Layers.Count(l => l.Layer is MLNet.Bayesian.Layers.BayesianConv2d) >= 6, $"the last stage's convolutions are Bayesian ({network.Layers.Count} layers)");
        Assert.IsTrue(network.Stage is MLNet.Bayesian.Training.BayesianStage.Shared or MLNet.Bayesian.Training.BayesianStage.Deterministic);
        var expected = ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(ImagePipelineTests.Load(ml, test)), reuseRowObject: false).ToList();

        string zip = Path.Combine(root, "finetuned.zip");
        BayesianModel.Save(ml, model, trainData.Schema, zip);
        var ml2 = new MLContext(seed: 9);
        var loaded = BayesianModel.Load(ml2, zip, out _);
        AssertSameScores(expected, ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(ImagePipelineTests.Load(ml2, test)), reuseRowObject: false).ToList(), "fine-tuned");
        Directory.Delete(root, recursive: true);
    }

    [TestMethod]
    public void MLNetsOwnDnnFeaturizeImageFeedsTheTrainerAndTheWholePipelineSaves()
    {
        // The ML.NET convention for transfer learning: LoadImages, ResizeImages(224), ExtractPixels, DnnFeaturizeImage(ResNet18);
        // the trainer then reads the float-vector column it writes.
        var (train, test) = ImagePipelineTests.WriteFolders(12, 3);
        var ml = new MLContext(seed: 1);
        var options = Fast();
        options.FeatureColumnName = "Features";
        var trainData = ImagePipelineTests.Load(ml, train);
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("ImageObject", imageFolder: null, "ImagePath"))
            .Append(ml.Transforms.ResizeImages("ImageObject", 224, 224))
            .Append(ml.Transforms.ExtractPixels("Pixels", "ImageObject"))
            .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options)).Fit(trainData);
        Assert.AreEqual(512, model.LastTransformer.Model.Channels, "the trainer sees DnnFeaturizeImage's 512 features");
        var scored = model.Transform(ImagePipelineTests.Load(ml, test));
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Console.WriteLine($"DnnFeaturizeImage + the Bayesian head: test accuracy {metrics.MicroAccuracy:P1} on 30");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.4, $"accuracy {metrics.MicroAccuracy:P1}");

        string zip = Path.Combine(Path.GetDirectoryName(train)!, "dnn-featurizer.zip");
        BayesianModel.Save(ml, model, trainData.Schema, zip);
        var ml2 = new MLContext(seed: 9);
        var loaded = BayesianModel.Load(ml2, zip, out _);
        AssertSameScores(ml.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false).ToList(),
            ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(ImagePipelineTests.Load(ml2, test)), reuseRowObject: false).ToList(), "DnnFeaturizeImage pipeline");
    }

    sealed class DigitRow
    {
        [VectorType(64)] public float[] Features { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    [TestMethod]
    public void AFloatVectorColumnTrainsTabularDataAndSavesIt()
    {
        var digits = DigitsCsvReader.Read(TestData.DigitsCsv);
        var (rest, held) = digits.StratifiedSplit(0.2, seed: 1);
        IEnumerable<DigitRow> Rows(ImageSet set) => Enumerable.Range(0, set.Count)
            .Select(i => new DigitRow { Features = set.Image(i).ToArray().Select(v => v * 16).ToArray(), Label = set.ClassNames[set.Labels[i]] });
        var ml = new MLContext(seed: 1);
        var trainData = ml.Data.LoadFromEnumerable(Rows(rest));
        var testData = ml.Data.LoadFromEnumerable(Rows(held));
        var options = Fast();
        options.FeatureColumnName = "Features";
        using var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options)).Fit(trainData);
        var classifier = model.LastTransformer;
        Assert.AreEqual((64, 1, 1), (classifier.Model.Channels, classifier.Model.Height, classifier.Model.Width));
        Assert.IsInstanceOfType<FeatureHead>(classifier.Model.Network.Network, "features train the MLP head");
        var scored = model.Transform(testData);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        Console.WriteLine($"digits as 64 features: test accuracy {metrics.MicroAccuracy:P1} on {held.Count}");
        Assert.IsTrue(metrics.MicroAccuracy >= 0.9, $"accuracy {metrics.MicroAccuracy:P1}");
        // The features were standardised with their training means and deviations, not the pixels' 0.5.
        Assert.AreEqual(64, classifier.Model.NormalizeMean.Length);
        Assert.IsTrue(classifier.Model.NormalizeStd.All(s => s > 0));

        string zip = Path.Combine(TestData.TempFolder(), "tabular.zip");
        BayesianModel.Save(ml, model, trainData.Schema, zip);
        var ml2 = new MLContext(seed: 9);
        var loaded = BayesianModel.Load(ml2, zip, out _);
        AssertSameScores(ml.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false).ToList(),
            ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(ml2.Data.LoadFromEnumerable(Rows(held))), reuseRowObject: false).ToList(), "tabular");
    }

    [TestMethod]
    public void MisusedFeatureSettingsAreRefusedWithTheirNames()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new DigitRow { Features = new float[64], Label = "a" }, new DigitRow { Features = new float[64], Label = "b" } });
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);

        var both = Fast();
        both.FeatureColumnName = "Features";
        both.Backbone = Backbone.ResNet18ImageNet;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => both.Validate()).Message, "both make the features");

        var convolutional = Fast();
        convolutional.FeatureColumnName = "Features";
        convolutional.Architecture = Architecture.ResNet20;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => convolutional.Validate()).Message, "Mlp");

        var missing = Fast();
        missing.FeatureColumnName = "Nope";
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(missing).Fit(keyed)).Message, "'Nope'");

        var notVector = Fast();
        notVector.FeatureColumnName = "Label";
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(notVector).Fit(keyed)).Message, "Feature column 'Label'");

        var oddSize = Fast();
        oddSize.Backbone = Backbone.ResNet18ImageNet;
        oddSize.ImageHeight = 224;
        oddSize.ImageWidth = 160;
        StringAssert.Contains(Assert.ThrowsExactly<ArgumentException>(() => oddSize.Validate()).Message, "square");
    }
}
