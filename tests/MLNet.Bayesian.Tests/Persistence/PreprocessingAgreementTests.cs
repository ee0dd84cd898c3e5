using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Tests.MLNetIntegration;
using SkiaSharp;

namespace MLNet.Bayesian.Tests.Persistence;

/// <summary>
/// Training, in-memory scoring and the saved model take one road from an image to the network's pixels, so the
/// trained model and its saved zip agree on every input: other sizes, colour, JPEG, palette and 16-bit PNGs.
/// </summary>
[TestClass]
public sealed class PreprocessingAgreementTests
{
    static string _images = "";

    [ClassInitialize]
    public static void WriteImages(TestContext _) => _images = WriteVariety(TestData.Test.StratifiedHead(1));

    /// <summary>Every kind of image the issue names, made from the given 28x28 gray images.</summary>
    internal static string WriteVariety(ImageSet source)
    {
        string folder = Path.Combine(TestData.TempFolder(), "variety");
        Directory.CreateDirectory(folder);
        for (int i = 0; i < source.Count; i++)
        {
            using var gray = Bitmap(source, i, colour: false);
            using var colour = Bitmap(source, i, colour: true);
            foreach (var (w, h) in new[] { (28, 28), (20, 20), (40, 28), (56, 56), (200, 200) })
                Write(Path.Combine(folder, $"{i}-gray-{w}x{h}.png"), gray, w, h, SKEncodedImageFormat.Png);
            Write(Path.Combine(folder, $"{i}-colour-28x28.png"), colour, 28, 28, SKEncodedImageFormat.Png);
            Write(Path.Combine(folder, $"{i}-colour-40x28.png"), colour, 40, 28, SKEncodedImageFormat.Png);
            Write(Path.Combine(folder, $"{i}-gray-28x28.jpg"), gray, 28, 28, SKEncodedImageFormat.Jpeg);
            Write(Path.Combine(folder, $"{i}-colour-33x33.jpg"), colour, 33, 33, SKEncodedImageFormat.Jpeg);
        }
        File.WriteAllBytes(Path.Combine(folder, "palette-28x28.png"), TestImages.PalettePng(28, 28));
        File.WriteAllBytes(Path.Combine(folder, "gray16-28x28.png"), TestImages.Gray16Png(28, 28));
        return folder;
    }

    static SKBitmap Bitmap(ImageSet set, int index, bool colour)
    {
        var image = set.Image(index);
        var bitmap = new SKBitmap(set.Width, set.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (int y = 0; y < set.Height; y++)
            for (int x = 0; x < set.Width; x++)
            {
                byte v = (byte)Math.Round(image[y * set.Width + x] * 255);
                bitmap.SetPixel(x, y, colour ? new SKColor(v, (byte)(v * 0.6), (byte)(255 - v)) : new SKColor(v, v, v));
            }
        return bitmap;
    }

    static void Write(string path, SKBitmap bitmap, int width, int height, SKEncodedImageFormat format)
    {
        using var resized = bitmap.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var data = resized.Encode(format, 90);
        File.WriteAllBytes(path, data.ToArray());
    }

    static IDataView Paths(MLContext ml, string folder)
        => ml.Data.LoadFromEnumerable(Directory.GetFiles(folder).OrderBy(f => f, StringComparer.Ordinal)
            .Select(f => new ImageFolderEntry { ImagePath = f, Label = "" }));

    /// <summary>Scores the folder with the fitted model and with its saved zip loaded in a new context; returns the largest difference.</summary>
    internal static double MaxDifference(MLContext ml, ITransformer fitted, string zip, string folder)
    {
        var expected = ml.Data.CreateEnumerable<BayesianPrediction>(fitted.Transform(Paths(ml, folder)), reuseRowObject: false).ToList();
        var ml2 = new MLContext(seed: 7);
        var loaded = BayesianModel.Load(ml2, zip, out _);
        var actual = ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(Paths(ml2, folder)), reuseRowObject: false).ToList();
        Assert.AreEqual(expected.Count, actual.Count);
        var files = Directory.GetFiles(folder).OrderBy(f => f, StringComparer.Ordinal).ToArray();
        double worst = 0;
        for (int i = 0; i < expected.Count; i++)
        {
            double d = expected[i].Score.Zip(actual[i].Score, (a, b) => (double)Math.Abs(a - b)).Max();
            d = Math.Max(d, Math.Abs(expected[i].MutualInformation - actual[i].MutualInformation));
            d = Math.Max(d, Math.Abs(expected[i].PredictiveEntropy - actual[i].PredictiveEntropy));
            Assert.IsTrue(d <= 1e-4, $"{Path.GetFileName(files[i])}: the saved model differs from the trained one by {d:E2}");
            Assert.AreEqual(expected[i].PredictedLabel, actual[i].PredictedLabel, Path.GetFileName(files[i]));
            worst = Math.Max(worst, d);
        }
        return worst;
    }

    [TestMethod]
    public void GrayModelAndItsSavedZipAgreeOnEveryKindOfImage()
    {
        double worst = MaxDifference(SaveLoadTests.Context, SaveLoadTests.Model, SaveLoadTests.Zip, _images);
        Console.WriteLine($"{Directory.GetFiles(_images).Length} images of every kind: largest difference in-memory vs saved {worst:E2}");
    }

    [TestMethod]
    public void ColourModelAndItsSavedZipAgreeOnGrayAndColourImages()
    {
        // A colour model: the training images are colour PNGs, so ColorMode.Auto picks RGB.
        string train = Path.Combine(TestData.TempFolder(), "colour-train");
        var set = TestData.Train.StratifiedHead(12);
        for (int i = 0; i < set.Count; i++)
        {
            string dir = Path.Combine(train, set.ClassNames[set.Labels[i]]);
            Directory.CreateDirectory(dir);
            using var bitmap = Bitmap(set, i, colour: true);
            Write(Path.Combine(dir, $"{i}.png"), bitmap, 28, 28, SKEncodedImageFormat.Png);
        }
        var ml = new MLContext(seed: 3);
        var data = ImagePipelineTests.Load(ml, train);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 32, PredictionSamples = 4,
                SharedPosterior = { MinMembers = 10, ComponentBudget = 32 },
            }));
        using var model = pipeline.Fit(data);
        var classifier = model.LastTransformer;
        Assert.AreEqual(3, classifier.Input.Channels, "colour images train a colour model");
        string zip = Path.Combine(TestData.TempFolder(), "colour.zip");
        ml.Model.Save(model, data.Schema, zip);
        double worst = MaxDifference(ml, model, zip, _images);
        Console.WriteLine($"colour model: largest difference in-memory vs saved {worst:E2}");
    }
}
