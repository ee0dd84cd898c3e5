using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Onnx;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Backbones;

[TestClass]
public sealed class ImageFeaturizerTests
{
    static ImageFeaturizer? _resNet18;
    static ImageFeaturizer ResNet18 => _resNet18 ??= ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 224, modelPath: null);

    [ClassCleanup]
    public static void Cleanup() => _resNet18?.Dispose();

    static string PackageFile(string relative) => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", relative);

    /// <summary>
    /// Two RGB images of 224 x 224 in [0, 1]: a Fashion-MNIST image enlarged and tinted (a real picture), and a smooth colour
    /// pattern with fine stripes (every channel and frequency).
    /// </summary>
    internal static float[] TwoImages()
    {
        const int size = 224;
        var pixels = new float[2 * 3 * size * size];
        var fashion = TestData.Test;
        var tint = new[] { 1.0f, 0.7f, 0.4f };
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    float gray = fashion.Pixels[(y * 28 / size) * 28 + x * 28 / size];
                    pixels[(c * size + y) * size + x] = 0.15f + 0.85f * gray * tint[c];
                    double v = 0.5 + 0.3 * Math.Sin(x * (c + 1) * 0.07) * Math.Cos(y * 0.05) + 0.2 * Math.Sin((x + y) * 0.9);
                    pixels[3 * size * size + (c * size + y) * size + x] = (float)Math.Clamp(v, 0, 1);
                }
        return pixels;
    }

    /// <summary>ONNX Runtime on the package's own graphs: ResNetPreprocess.onnx (RGB 0-255 in) then ResNet18.onnx, one image at a time.</summary>
    static float[] PackageFeatures(float[] pixels, int count)
    {
        using var preprocess = new InferenceSession(PackageFile(Path.Combine("ResNetPrepOnnx", "ResNetPreprocess.onnx")));
        using var network = new InferenceSession(PackageFile(Path.Combine("ResNet18Onnx", "ResNet18.onnx")));
        int size = 3 * 224 * 224;
        var features = new List<float>();
        for (int i = 0; i < count; i++)
        {
            var rgb = pixels.AsSpan(i * size, size).ToArray().Select(v => v * 255f).ToArray();
            using var prepared = preprocess.Run(new[] { NamedOnnxValue.CreateFromTensor("OriginalInput", new DenseTensor<float>(rgb, new[] { 1, 3, 224, 224 })) });
            var bgr = prepared.First().AsTensor<float>().ToArray();
            using var output = network.Run(new[] { NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(bgr, new[] { 1, 3, 224, 224 })) });
            features.AddRange(output.First().AsTensor<float>().ToArray());
        }
        return features.ToArray();
    }

    [TestMethod]
    public void TheTorchSharpNetworkWalkedFromTheGraphGivesOnnxRuntimesFeatures()
    {
        var pixels = TwoImages();
        var expected = PackageFeatures(pixels, 2);
        var actual = ResNet18.Featurize(pixels, 2);
        Assert.AreEqual((512L, 1L, 1L), ResNet18.OutputShape);
        Assert.AreEqual(expected.Length, actual.Length);
        double worst = expected.Zip(actual).Max(t => Math.Abs(t.First - t.Second));
        Console.WriteLine($"largest difference from ONNX Runtime on ResNet18.onnx: {worst:E2} (features up to {expected.Max():F2}, mean {expected.Average():F3})");
        Assert.IsTrue(expected.Count(v => v > 0.1f) > 100, "the images excite many features");
        Assert.IsTrue(worst <= 1e-4, $"{worst:E2}");
        // The two images are told apart: the features are not a constant.
        Assert.IsTrue(expected.Take(512).Zip(expected.Skip(512)).Max(t => Math.Abs(t.First - t.Second)) > 0.5f);
    }

    [TestMethod]
    public void TheExportedGraphGivesTheSameFeatures()
    {
        var pixels = TwoImages();
        var g = new OnnxGraphBuilder();
        g.Input("pixels", global::Onnx.TensorProto.Types.DataType.Float, -1, 3, 224, 224);
        var exporter = new OnnxNetworkExporter(g, new Dictionary<nn.Module, string>());
        g.Output(ResNet18.ExportOnnx(exporter, "pixels"), "features", global::Onnx.TensorProto.Types.DataType.Float, -1, 512, 1, 1);
        byte[] onnx = Google.Protobuf.MessageExtensions.ToByteArray(g.Build(new Dictionary<string, string>(), "test"));
        using var session = new InferenceSession(onnx);
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor<float>(pixels, new[] { 2, 3, 224, 224 })) });
        var exported = results.First().AsTensor<float>().ToArray();
        var inMemory = ResNet18.Featurize(pixels, 2);
        double worst = exported.Zip(inMemory).Max(t => Math.Abs(t.First - t.Second));
        Console.WriteLine($"largest difference of the exported graph from TorchSharp: {worst:E2}");
        Assert.IsTrue(worst <= 1e-4, $"{worst:E2}");
        MLNet.Bayesian.Tests.Onnx.OnnxChecker.AssertValid(onnx, "the exported featurizer");
    }

    [TestMethod]
    public void AnotherInputSizeGivesFeaturesOfTheSameLength()
    {
        using var small = ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 128, modelPath: null);
        Assert.AreEqual((512L, 1L, 1L), small.OutputShape);
        Assert.AreNotEqual(ResNet18.Identity, small.Identity, "features at another size are other numbers");
        var features = small.Featurize(new float[3 * 128 * 128], 1);
        Assert.IsTrue(features.All(float.IsFinite));
        foreach (int bad in new[] { 16, 112, 225 })
        {
            var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageFeaturizer.Load(Backbone.ResNet18ImageNet, bad, modelPath: null));
            StringAssert.Contains(e.Message, "multiple of 32");
        }
    }

    [TestMethod]
    public void AMissingModelFileNamesThePackageOrThePath()
    {
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 224, "/nonexistent/ResNet18.onnx"));
        StringAssert.Contains(e.Message, "/nonexistent/ResNet18.onnx");
        StringAssert.Contains(ImageFeaturizer.ResNet18Package, "DnnImageFeaturizer");
    }
}
