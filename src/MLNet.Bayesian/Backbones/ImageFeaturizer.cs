using System.Security.Cryptography;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Backbones;

/// <summary>
/// A frozen pretrained network that turns RGB images (N x 3 x S x S, values in [0, 1]) into features (N x D x 1 x 1),
/// in TorchSharp for training and in-memory scoring, and into ONNX for the saved model, with the same numbers.
/// For <see cref="Backbone.ResNet18ImageNet"/> it is ML.NET's DnnFeaturizeImage(ResNet18) built from the package's
/// own two graphs: ResNetPreprocess.onnx (0-255 RGB to BGR minus a 224 x 224 mean image) and ResNet18.onnx (a CNTK
/// export: 22 convolutions, asymmetric padding, the 512 pooled features), walked into an <see cref="OnnxConvNet"/>.
/// The final 7 x 7 average pooling is taken as a global average, which it is at 224 x 224; other input sizes use the
/// mean image resized bilinearly.
/// </summary>
internal sealed class ImageFeaturizer : IDisposable
{
    /// <summary>The NuGet package that carries the ResNet-18 graphs.</summary>
    public const string ResNet18Package = "Microsoft.ML.DnnImageFeaturizer.ResNet18";
    /// <summary>Where that package puts the network, relative to the application's folder.</summary>
    public static readonly string ResNet18RelativePath = Path.Combine("DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
    static readonly string PreprocessRelativeToModel = Path.Combine("..", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    readonly OnnxConvNet _network;
    readonly Tensor _mean;       // [1, 3, S, S]: BGR, 0-255 scale
    readonly float[] _meanValues;

    ImageFeaturizer(Backbone backbone, OnnxConvNet network, Tensor mean, int inputSize, string identity, Device device)
    {
        Backbone = backbone;
        _network = network;
        _mean = mean;
        _meanValues = mean.cpu().data<float>().ToArray();
        InputSize = inputSize;
        Identity = identity;
        Device = device;
        using var noGrad = no_grad();
        using var probe = zeros(1, 3, inputSize, inputSize, device: device);
        using var features = Forward(probe);
        FeatureCount = (int)features.shape[1];
    }

    /// <summary>Which backbone.</summary>
    public Backbone Backbone { get; }
    /// <summary>Height and width of the images it takes.</summary>
    public int InputSize { get; }
    /// <summary>Features per image (512 for ResNet-18).</summary>
    public int FeatureCount { get; }
    /// <summary>Where it runs.</summary>
    public Device Device { get; }
    /// <summary>The backbone, the digest of its files and the input size: features cached under one identity are the same numbers.</summary>
    public string Identity { get; }

    /// <summary>
    /// The ResNet-18 graphs' file: <paramref name="modelPath"/> when given, else where the package
    /// <see cref="ResNet18Package"/> copies it beside the application. Throws, naming the package, when it is not there.
    /// </summary>
    public static string LocateResNet18(string? modelPath)
    {
        string path = modelPath ?? Path.Combine(AppContext.BaseDirectory, ResNet18RelativePath);
        if (File.Exists(path)) return path;
        throw new FileNotFoundException(modelPath is not null
            ? $"The backbone model '{modelPath}' does not exist."
            : $"The ResNet-18 backbone needs '{ResNet18RelativePath}' beside the application ({AppContext.BaseDirectory}): add the NuGet package " +
              $"{ResNet18Package} to the application (it copies the file there when it builds), or set the path of ResNet18.onnx in the options.", path);
    }

    /// <summary>Loads <paramref name="backbone"/> for images of <paramref name="inputSize"/> x <paramref name="inputSize"/> onto <paramref name="device"/>.</summary>
    public static ImageFeaturizer Load(Backbone backbone, int inputSize, string? modelPath, Device? device = null)
    {
        if (backbone != Backbone.ResNet18ImageNet) throw new ArgumentOutOfRangeException(nameof(backbone), backbone, "No backbone to load.");
        // Its stride-2 convolutions pad only before (the CNTK layout): the two paths of a block agree only on even sizes.
        if (inputSize < 32 || inputSize % 32 != 0)
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize,
                $"ResNet-18 halves its input five times and needs an even size at each step: give it a multiple of 32 pixels (224, what it was trained at; 128 or 160 run faster), not {inputSize}.");
        LibTorchRuntime.EnsureLoaded();
        device ??= CPU;
        string path = LocateResNet18(modelPath);
        string preprocess = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, PreprocessRelativeToModel));
        if (!File.Exists(preprocess))
            throw new FileNotFoundException($"The ResNet-18 backbone '{path}' comes with '{preprocess}' (its mean image) in the package {ResNet18Package}; it is missing.", preprocess);
        byte[] modelBytes = File.ReadAllBytes(path), preprocessBytes = File.ReadAllBytes(preprocess);
        var model = OnnxDigest.Parse(modelBytes, $"Backbone model '{path}'");
        var last = model.Graph.Node.LastOrDefault() ?? throw new InvalidDataException($"Backbone model '{path}' has no nodes.");
        // The features are the last pooling's average: take the network up to its input and average here, at any size.
        string output = last.OpType is "AveragePool" or "GlobalAveragePool" ? last.Input[0] : last.Output[0];
        var network = OnnxConvNet.FromOnnx(model, $"Backbone model '{path}'", output);
        network.eval();
        foreach (var p in network.parameters()) p.requires_grad = false;
        network.to(device);
        var mean = MeanImage(OnnxDigest.Parse(preprocessBytes, $"Backbone preprocessing '{preprocess}'"), preprocess, inputSize).to(device);
        using var digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        digest.AppendData(modelBytes);
        digest.AppendData(preprocessBytes);
        string identity = $"{BackboneNames.NameOf(backbone)}/{inputSize}/{Convert.ToHexString(digest.GetHashAndReset())[..16]}";
        return new ImageFeaturizer(backbone, network, mean, inputSize, identity, device);
    }

    /// <summary>ResNetPreprocess.onnx's mean image (BGR, 0-255), at the input size.</summary>
    static Tensor MeanImage(ModelProto preprocess, string path, int size)
    {
        var stored = preprocess.Graph.Initializer.SingleOrDefault(t => t.Dims.Count == 4 && t.Dims[1] == 3)
            ?? throw new InvalidDataException($"Backbone preprocessing '{path}' holds no 1 x 3 x H x W mean image.");
        var mean = OnnxTensors.ToTensor(stored, $"Backbone preprocessing '{path}'");
        if (mean.shape[2] == size && mean.shape[3] == size) return mean;
        using (mean)
            return nn.functional.interpolate(mean, new long[] { size, size }, mode: InterpolationMode.Bilinear, align_corners: false);
    }

    /// <summary>The features of RGB images in [0, 1] ([N, 3, S, S] on <see cref="Device"/>): [N, D, 1, 1]. Call under no_grad.</summary>
    public Tensor Forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var bgr = pixels.index_select(1, tensor(new long[] { 2, 1, 0 }, device: pixels.device));
        var x = bgr.mul(ScalarSafeOps.Constant(255, bgr)).Minus(_mean);
        return _network.call(x).mean(new long[] { 2, 3 }, keepdim: true).MoveToOuterDisposeScope();
    }

    /// <summary>The features of <paramref name="count"/> images (planar RGB, S x S, values in [0, 1]), D per image, in batches.</summary>
    public float[] Featurize(ReadOnlySpan<float> pixels, int count, int batchSize = 32)
    {
        int size = 3 * InputSize * InputSize;
        if (pixels.Length != (long)count * size)
            throw new ArgumentException($"{pixels.Length} values are not {count} RGB images of {InputSize}x{InputSize}.");
        var features = new float[(long)count * FeatureCount];
        using var noGrad = no_grad();
        for (int start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, count - start);
            var x = tensor(pixels.Slice(start * size, n * size).ToArray(), new long[] { n, 3, InputSize, InputSize }).to(Device);
            Forward(x).cpu().data<float>().CopyTo(features, start * FeatureCount);
        }
        return features;
    }

    /// <summary>Writes the featurizer into <paramref name="exporter"/>'s graph applied to <paramref name="input"/> ([N, 3, S, S] in [0, 1]); returns the [N, D, 1, 1] features.</summary>
    public string ExportOnnx(OnnxNetworkExporter exporter, string input)
    {
        var g = exporter.Graph;
        string bgr = g.Node("Gather", new[] { input, g.Int64s("bgr", 2, 1, 0) }, ("axis", 1L));
        string x = g.Node("Sub", new[] { g.Node("Mul", new[] { bgr, g.Scalar("scale_255", 255f) }), g.Initializer("mean_image", _meanValues, 1, 3, InputSize, InputSize) });
        return g.Node("GlobalAveragePool", new[] { exporter.Export(_network, x) });
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.Dispose();
        _mean.Dispose();
    }
}
