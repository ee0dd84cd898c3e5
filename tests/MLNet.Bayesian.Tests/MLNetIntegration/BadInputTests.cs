using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using SkiaSharp;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

/// <summary>
/// Nothing is silently wrong: a non-finite pixel, option or loss, an image that is too large or truncated, each is
/// an error that names where it is, raised before it can turn into a decision.
/// </summary>
[TestClass]
public sealed class BadInputTests
{
    static BayesianImageClassificationTrainer.Options Vector() => new()
    {
        ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
        DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 3,
        SharedPosterior = { MinMembers = 10, ComponentBudget = 16 },
    };

    static IDataView Keyed(MLContext ml, ImageSet set)
    {
        var view = set.ToDataView(ml);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(TestData.Train.StratifiedHead(1).ToDataView(ml)).Transform(view);
    }

    /// <summary>The training log's epoch lines from here on: a refusal "before training" is one that leaves this empty.</summary>
    static List<string> EpochLines(MLContext ml)
    {
        var lines = new List<string>();
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) lock (lines) lines.Add(e.Message); };
        return lines;
    }

    static ImageSet WithPixel(ImageSet set, int image, int pixel, float value)
    {
        var pixels = (float[])set.Pixels.Clone();
        pixels[image * set.ImageSize + pixel] = value;
        return new ImageSet(pixels, set.Labels, set.Channels, set.Height, set.Width, set.ClassNames);
    }

    [TestMethod]
    public void ANaNPixelInTrainingNamesTheRowAndColumnBeforeTrainingStarts()
    {
        var ml = new MLContext(seed: 1);
        var set = WithPixel(TestData.Train.StratifiedHead(20), image: 137, pixel: 400, float.NaN);
        var epochs = EpochLines(ml);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(Vector()).Fit(Keyed(ml, set)));
        StringAssert.Contains(e.Message, "Row 137");
        StringAssert.Contains(e.Message, "'Pixels'");
        StringAssert.Contains(e.Message, "NaN");
        Assert.AreEqual(0, epochs.Count, $"fails while reading, before any epoch: {string.Join(" | ", epochs)}");
    }

    [TestMethod]
    public void ANonFinitePixelWhenScoringIsAnErrorNamingTheRowNotADecision()
    {
        var ml = new MLContext(seed: 1);
        using var model = ml.MulticlassClassification.Trainers.BayesianImageClassification(Vector()).Fit(Keyed(ml, TestData.Train.StratifiedHead(10)));
        var probe = WithPixel(TestData.Test.StratifiedHead(1), image: 4, pixel: 10, float.PositiveInfinity);
        var e = Assert.ThrowsExactly<InvalidDataException>(() =>
            ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(Keyed(ml, probe)), reuseRowObject: false).ToList());
        StringAssert.Contains(e.Message, "Row 4");
        StringAssert.Contains(e.Message, "'Pixels'");
        StringAssert.Contains(e.Message, "Infinity");
    }

    [TestMethod]
    public void ReviewRulesSendNonFiniteScoresToAPerson()
    {
        var entropy = new ReviewRule(UncertaintyScore.MutualInformation, 0.05, 0.9, 0.95);
        var confidence = new ReviewRule(UncertaintyScore.Confidence, 0.8, 0.9, 0.95);
        foreach (var rule in new[] { entropy, confidence })
        {
            Assert.IsTrue(rule.NeedsReview(_ => float.NaN), $"{rule.Scores[0]}: NaN");
            Assert.IsTrue(rule.NeedsReview(_ => float.PositiveInfinity), $"{rule.Scores[0]}: +inf");
            Assert.IsTrue(rule.NeedsReview(_ => float.NegativeInfinity), $"{rule.Scores[0]}: -inf");
        }
        Assert.IsFalse(entropy.NeedsReview(_ => 0.01f));
        Assert.IsTrue(entropy.NeedsReview(_ => 0.2f));
        Assert.IsFalse(confidence.NeedsReview(_ => 0.95f), "high confidence is decided automatically");
        Assert.IsTrue(confidence.NeedsReview(_ => 0.5f), "low confidence goes to review");
    }

    [TestMethod]
    [DataRow(nameof(TrainerOptions.DeterministicEpochs), 0, "at least 1")]
    [DataRow(nameof(TrainerOptions.DeterministicEpochs), -1, "at least 1")]
    [DataRow(nameof(TrainerOptions.MeanFieldEpochs), -2, "at least 0")]
    [DataRow(nameof(TrainerOptions.SharedEpochs), -1, "at least 0")]
    [DataRow(nameof(TrainerOptions.BatchSize), 0, "at least 1")]
    [DataRow(nameof(TrainerOptions.PredictionSamples), 0, "at least 1")]
    [DataRow(nameof(TrainerOptions.LearningRate), double.NaN, "finite number above 0")]
    [DataRow(nameof(TrainerOptions.BayesianLearningRate), -1e-3, "finite number above 0")]
    [DataRow(nameof(TrainerOptions.SharedLearningRate), double.PositiveInfinity, "finite number above 0")]
    [DataRow(nameof(TrainerOptions.KLWeight), -1.0, "0 or above")]
    [DataRow(nameof(TrainerOptions.InitialSigma), 0.0, "finite number above 0")]
    [DataRow(nameof(TrainerOptions.PriorSigma), double.NaN, "finite number above 0")]
    [DataRow("SharedPosterior.OutlierQuantile", 0.7, "[0, 0.5)")]
    [DataRow("SharedPosterior.GradientFraction", double.NaN, "[0, 1)")]
    [DataRow("SharedPosterior.ComponentBudget", 0, "at least 1")]
    [DataRow(nameof(BayesianImageClassificationTrainer.Options.ValidationFraction), 1.0, "[0, 1)")]
    [DataRow(nameof(BayesianImageClassificationTrainer.Options.MaxImagePixels), 0L, "at least 1")]
    public void BadOptionsAreRefusedUpFrontNamingTheOption(string option, object value, string allowed)
    {
        var options = Vector();
        object target = options;
        string field = option;
        if (option.StartsWith("SharedPosterior.", StringComparison.Ordinal)) { target = options.SharedPosterior; field = option["SharedPosterior.".Length..]; }
        var info = target.GetType().GetField(field)!;
        info.SetValue(target, Convert.ChangeType(value, info.FieldType, System.Globalization.CultureInfo.InvariantCulture));
        var ml = new MLContext(seed: 1);
        var e = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options));
        StringAssert.Contains(e.Message, option);
        StringAssert.Contains(e.Message, allowed);
        var plain = Assert.Throws<ArgumentException>(() => new BayesianTrainer(options));
        StringAssert.Contains(plain.Message, option, "the plain TorchSharp trainer checks the same options");
    }

    [TestMethod]
    public void ALossThatTurnsNonFiniteStopsTrainingNamingStageEpochAndBatch()
    {
        var trainer = new BayesianTrainer(new TrainerOptions { DeterministicEpochs = 2, MeanFieldEpochs = 0, BatchSize = 32, LearningRate = 1e12, Optimizer = OptimizerKind.Sgd });
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), TestData.Train.StratifiedHead(20)));
        StringAssert.Contains(e.Message, "stage 0 (Deterministic)");
        StringAssert.Contains(e.Message, "epoch 1");
        StringAssert.Contains(e.Message, "batch ");
        StringAssert.Contains(e.Message, "LearningRate");
    }

    [TestMethod]
    public void AHugeNetworkInputIsRefusedAtOnceNamingTheOptions()
    {
        var ml = new MLContext(seed: 1);
        var options = Vector();
        options.ImageColumnName = "Image"; options.ImageChannels = 0; options.ImageHeight = 100_000; options.ImageWidth = 100_000;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsExactly<ArgumentException>(() => ml.MulticlassClassification.Trainers.BayesianImageClassification(options));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        StringAssert.Contains(e.Message, "MaxInputPixels");
        StringAssert.Contains(e.Message, "ImageHeight");
        Assert.IsTrue(allocated < 10_000_000, $"refused by the options check, before any buffer of the input's size ({allocated:N0} managed bytes allocated)");
    }

    static string WriteFolder(params (string Class, string Name, byte[] Bytes)[] files)
    {
        string root = TestData.TempFolder();
        foreach (var (c, name, bytes) in files)
        {
            Directory.CreateDirectory(Path.Combine(root, c));
            File.WriteAllBytes(Path.Combine(root, c, name), bytes);
        }
        return root;
    }

    static byte[] Png(int width, int height, byte value = 128)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        bitmap.Erase(new SKColor(value, value, value));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    static IEstimator<ITransformer> ImagePipeline(MLContext ml, BayesianImageClassificationTrainer.Options options)
        => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadImages("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(options));

    static BayesianImageClassificationTrainer.Options Images() => new()
    {
        DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 8, PredictionSamples = 2, SharedPosterior = { MinMembers = 5, ComponentBudget = 8 },
    };

    [TestMethod]
    public void AHugeFirstImageIsRefusedBeforeAnythingIsHeldAtItsSize()
    {
        string root = WriteFolder(("a", "0-big.png", Png(4000, 4000)), ("a", "1.png", Png(28, 28)), ("b", "2.png", Png(28, 28, 10)));
        var ml = new MLContext(seed: 1);
        var epochs = EpochLines(ml);
        var e = Assert.Throws<Exception>(() => ImagePipeline(ml, Images()).Fit(ImagePipelineTests.Load(ml, root)));
        string all = e.ToString();
        StringAssert.Contains(all, "4000x4000");
        StringAssert.Contains(all, "0-big.png");
        StringAssert.Contains(all, "MaxInputPixels");
        Assert.AreEqual(0, epochs.Count, $"refused while reading, before any epoch: {string.Join(" | ", epochs)}");
    }

    [TestMethod]
    public void AnImageAboveMaxImagePixelsIsAnErrorNamingItsFile()
    {
        string root = WriteFolder(("a", "0.png", Png(28, 28)), ("a", "1-large.png", Png(300, 300)), ("b", "2.png", Png(28, 28, 10)));
        var ml = new MLContext(seed: 1);
        var options = Images();
        options.MaxImagePixels = 50_000;
        var e = Assert.Throws<Exception>(() => ImagePipeline(ml, options).Fit(ImagePipelineTests.Load(ml, root)));
        string all = e.ToString();
        StringAssert.Contains(all, "1-large.png");
        StringAssert.Contains(all, "300x300");
        StringAssert.Contains(all, "MaxImagePixels");
    }

    [TestMethod]
    public void ATruncatedPngInTrainingIsAnErrorNamingRowColumnAndFile()
    {
        byte[] whole = TestImages.Encode(TestImages.Noise(28, 28, SKColorType.Gray8, seed: 3), SKEncodedImageFormat.Png);
        string root = WriteFolder(("a", "0.png", Png(28, 28)), ("a", "1-cut.png", whole[..(whole.Length * 6 / 10)]), ("b", "2.png", Png(28, 28, 10)));
        var ml = new MLContext(seed: 1);
        var e = Assert.Throws<Exception>(() => ImagePipeline(ml, Images()).Fit(ImagePipelineTests.Load(ml, root)));
        string all = e.ToString();
        StringAssert.Contains(all, "Row 1");
        StringAssert.Contains(all, "'Image'");
        StringAssert.Contains(all, "1-cut.png");
        StringAssert.Contains(all, "truncated PNG");
    }

    [TestMethod]
    public void ATruncatedPngInRawBytesIsAnErrorNamingRowAndColumn()
    {
        byte[] whole = TestImages.Encode(TestImages.Noise(28, 28, SKColorType.Gray8, seed: 4), SKEncodedImageFormat.Png);
        string root = WriteFolder(("a", "0.png", Png(28, 28)), ("a", "1-cut.png", whole[..(whole.Length / 2)]), ("b", "2.png", Png(28, 28, 10)));
        var ml = new MLContext(seed: 1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadRawImageBytes("Image", null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(Images()));
        var e = Assert.Throws<Exception>(() => pipeline.Fit(ImagePipelineTests.Load(ml, root)));
        string all = e.ToString();
        StringAssert.Contains(all, "Row 1: the image in column 'Image' is a truncated PNG");
    }

    [TestMethod]
    public void FittingAReviewRuleOnAScoreThatNeverChangesIsRefused()
    {
        var rows = new ScoredRows(2, new float[] { 0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f }, new[] { 0, 1, 1 },
            new Dictionary<UncertaintyScore, float[]> { [UncertaintyScore.MutualInformation] = new float[3] });
        var e = Assert.ThrowsExactly<ArgumentException>(() => UncertaintyEvaluator.FitReviewRule(rows, UncertaintyScore.MutualInformation, coverage: 0.9));
        StringAssert.Contains(e.Message, "deterministic model");
        StringAssert.Contains(e.Message, "PredictiveEntropy");
    }
}
