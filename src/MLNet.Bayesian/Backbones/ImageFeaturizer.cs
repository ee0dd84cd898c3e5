using System.Security.Cryptography;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Backbones;

/// <summary>
/// The frozen part of a pretrained network: it turns RGB images (N x 3 x S x S, values in [0, 1]) into features, in
/// TorchSharp for training and in-memory scoring, and into ONNX for the saved model, with the same numbers. Frozen
/// (<see cref="BackboneTraining.Frozen"/>) it is the whole network and gives the pooled features (N x D x 1 x 1); for
/// <see cref="BackboneTraining.LastStage"/> it stops where the last stage starts and gives those activations
/// (N x C x h x w), and <see cref="CreateTail"/> builds the rest as a trainable network.
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
    readonly bool _pool;         // frozen: the last feature map's global average; last stage: the activations as they are
    readonly Tensor _mean;       // [1, 3, S, S]: BGR, 0-255 scale
    readonly float[] _meanValues;
    readonly string _modelPath;
    readonly (string Input, string Output) _tail;

    ImageFeaturizer(Backbone backbone, BackboneTraining training, OnnxConvNet network, bool pool, Tensor mean, int inputSize, string identity, Device device,
        string modelPath, (string Input, string Output) tail)
    {
        Backbone = backbone;
        Training = training;
        _network = network;
        _pool = pool;
        _mean = mean;
        _meanValues = mean.cpu().data<float>().ToArray();
        _modelPath = modelPath;
        _tail = tail;
        InputSize = inputSize;
        Identity = identity;
        Device = device;
        using var noGrad = no_grad();
        using var probe = zeros(1, 3, inputSize, inputSize, device: device);
        using var features = Forward(probe);
        OutputShape = (features.shape[1], features.shape[2], features.shape[3]);
    }

    /// <summary>What of the backbone is trained: nothing (this is all of it), or its last stage (<see cref="CreateTail"/>).</summary>
    public BackboneTraining Training { get; }
    /// <summary>The shape of what it gives per image: D x 1 x 1 features when frozen, the last stage's input activations otherwise.</summary>
    public (long Channels, long Height, long Width) OutputShape { get; }
    /// <summary>Values per image it gives.</summary>
    public int OutputSize => (int)(OutputShape.Channels * OutputShape.Height * OutputShape.Width);

    /// <summary>Which backbone.</summary>
    public Backbone Backbone { get; }
    /// <summary>Height and width of the images it takes.</summary>
    public int InputSize { get; }
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

    /// <summary>
    /// Loads <paramref name="backbone"/> for images of <paramref name="inputSize"/> x <paramref name="inputSize"/> onto
    /// <paramref name="device"/>: all of it, or with <see cref="BackboneTraining.LastStage"/> the part before its last stage.
    /// </summary>
    public static ImageFeaturizer Load(Backbone backbone, int inputSize, string? modelPath, Device? device = null, BackboneTraining training = BackboneTraining.Frozen)
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
        string? cut = training == BackboneTraining.LastStage
            ? OnnxConvNet.LastStageInput(model) ?? throw new InvalidDataException($"Backbone model '{path}' has no strided convolution: no last stage to train.")
            : null;
        var network = OnnxConvNet.FromOnnx(model, $"Backbone model '{path}'", cut ?? output);
        network.eval();
        foreach (var p in network.parameters()) p.requires_grad = false;
        network.to(device);
        var mean = MeanImage(OnnxDigest.Parse(preprocessBytes, $"Backbone preprocessing '{preprocess}'"), preprocess, inputSize).to(device);
        using var digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        digest.AppendData(modelBytes);
        digest.AppendData(preprocessBytes);
        string identity = $"{BackboneNames.NameOf(backbone)}/{inputSize}/{(cut is null ? "pooled" : cut)}/{Convert.ToHexString(digest.GetHashAndReset())[..16]}";
        return new ImageFeaturizer(backbone, training, network, pool: cut is null, mean, inputSize, identity, device, path, (cut ?? output, output));
    }

    /// <summary>
    /// The rest of the backbone (<see cref="BackboneTraining.LastStage"/>): a new trainable network from where this one stops
    /// to its last feature map, initialised from the pretrained weights, on <see cref="Device"/>. Its output channels are
    /// <see cref="TailFeatures"/>.
    /// </summary>
    public OnnxConvNet CreateTail()
    {
        if (Training != BackboneTraining.LastStage) throw new InvalidOperationException("A frozen backbone has no tail to train.");
        var model = OnnxDigest.Parse(File.ReadAllBytes(_modelPath), $"Backbone model '{_modelPath}'");
        var tail = OnnxConvNet.FromOnnx(model, $"Backbone model '{_modelPath}'", _tail.Output, _tail.Input);
        tail.to(Device);
        return tail;
    }

    /// <summary>Channels of the last feature map: the pooled features a head on the tail classifies.</summary>
    public long TailFeatures => _tailFeatures ??= ProbeTail();
    long? _tailFeatures;

    long ProbeTail()
    {
        using var tail = CreateTail();
        using var noGrad = no_grad();
        using var probe = zeros(1, OutputShape.Channels, OutputShape.Height, OutputShape.Width, device: Device);
        using var output = tail.call(probe);
        return output.shape[1];
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

    /// <summary>The features of RGB images in [0, 1] ([N, 3, S, S] on <see cref="Device"/>): [N, <see cref="OutputShape"/>]. Call under no_grad.</summary>
    public Tensor Forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var bgr = pixels.index_select(1, tensor(new long[] { 2, 1, 0 }, device: pixels.device));
        var x = bgr.mul(ScalarSafeOps.Constant(255, bgr)).Minus(_mean);
        var y = _network.call(x);
        return (_pool ? y.mean(new long[] { 2, 3 }, keepdim: true) : y).MoveToOuterDisposeScope();
    }

    /// <summary>The features of <paramref name="count"/> images (planar RGB, S x S, values in [0, 1]), <see cref="OutputSize"/> per image, in batches.</summary>
    public float[] Featurize(ReadOnlySpan<float> pixels, int count, int batchSize = 32)
    {
        int size = 3 * InputSize * InputSize;
        if (pixels.Length != (long)count * size)
            throw new ArgumentException($"{pixels.Length} values are not {count} RGB images of {InputSize}x{InputSize}.");
        var features = new float[(long)count * OutputSize];
        using var noGrad = no_grad();
        for (int start = 0; start < count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, count - start);
            var x = tensor(pixels.Slice(start * size, n * size).ToArray(), new long[] { n, 3, InputSize, InputSize }).to(Device);
            Forward(x).cpu().data<float>().CopyTo(features, start * OutputSize);
        }
        return features;
    }

    /// <summary>Writes the featurizer into <paramref name="exporter"/>'s graph applied to <paramref name="input"/> ([N, 3, S, S] in [0, 1]); returns its [N, <see cref="OutputShape"/>] output.</summary>
    public string ExportOnnx(OnnxNetworkExporter exporter, string input)
    {
        var g = exporter.Graph;
        string bgr = g.Node("Gather", new[] { input, g.Int64s("bgr", 2, 1, 0) }, ("axis", 1L));
        string x = g.Node("Sub", new[] { g.Node("Mul", new[] { bgr, g.Scalar("scale_255", 255f) }), g.Initializer("mean_image", _meanValues, 1, 3, InputSize, InputSize) });
        string y = exporter.Export(_network, x);
        return _pool ? g.Node("GlobalAveragePool", new[] { y }) : y;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.Dispose();
        _mean.Dispose();
    }
}
