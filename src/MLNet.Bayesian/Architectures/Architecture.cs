using MLNet.Bayesian.Onnx;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>Builds a network for images of a given shape and class count.</summary>
public delegate Module<Tensor, Tensor> NetworkFactory(int channels, int height, int width, int classes);

/// <summary>The architectures the library builds by name.</summary>
public enum Architecture
{
    /// <summary><see cref="Architectures.SmallCnn"/>.</summary>
    SmallCnn,
    /// <summary>CIFAR-style ResNet-20 (<see cref="CifarResNet"/>).</summary>
    ResNet20,
    /// <summary>ImageNet ResNet-18 in torchvision's layout (<see cref="ImageNetResNet"/>).</summary>
    ResNet18,
    /// <summary>ImageNet ResNet-50 in torchvision's layout (<see cref="ImageNetResNet"/>).</summary>
    ResNet50,
    /// <summary>ImageNet ResNet-101 in torchvision's layout (<see cref="ImageNetResNet"/>).</summary>
    ResNet101,
    /// <summary><see cref="Architectures.SmallVit"/>.</summary>
    SmallVit,
    /// <summary>
    /// <see cref="FeatureHead"/>: a one-hidden-layer classifier on feature vectors (a backbone's features or a float-vector
    /// column). The network of feature inputs, which take no convolutional architecture.
    /// </summary>
    Mlp,
}

/// <summary>The one place that turns an <see cref="Architecture"/> into a network factory.</summary>
public static class ArchitectureFactory
{
    /// <summary>A factory for the named architecture (the machine's LibTorch is loaded first when the application takes it from there).</summary>
    public static NetworkFactory Create(Architecture architecture)
    {
        MLNet.Bayesian.Torch.LibTorchRuntime.EnsureLoaded();
        return Factory(architecture);
    }

    static NetworkFactory Factory(Architecture architecture) => architecture switch
    {
        Architecture.SmallCnn => (c, h, w, k) => new SmallCnn(c, h, w, k),
        Architecture.ResNet20 => (c, _, _, k) => CifarResNet.ResNet20(c, k),
        Architecture.ResNet18 => (c, _, _, k) => WithChannels(c, ImageNetResNet.ResNet18(3, k)),
        Architecture.ResNet50 => (c, _, _, k) => WithChannels(c, ImageNetResNet.ResNet50(3, k)),
        Architecture.ResNet101 => (c, _, _, k) => WithChannels(c, ImageNetResNet.ResNet101(3, k)),
        Architecture.SmallVit => (c, h, w, k) => new SmallVit(c, h, w, k),
        Architecture.Mlp => (c, h, w, k) => new FeatureHead((long)c * h * w, k),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "unknown architecture"),
    };

    /// <summary>The ImageNet ResNets take 3 channels (their pretrained weights do); gray images are repeated into three.</summary>
    static Module<Tensor, Tensor> WithChannels(int channels, Module<Tensor, Tensor> network)
        => channels switch
        {
            3 => network,
            1 => Sequential(("gray_to_rgb", new GrayToRgb()), ("network", network)),
            _ => throw new ArgumentException($"The ImageNet ResNets take 1 or 3 channels, not {channels}."),
        };

    sealed class GrayToRgb : Module<Tensor, Tensor>, IOnnxExportable
    {
        public GrayToRgb() : base(nameof(GrayToRgb)) { }
        public override Tensor forward(Tensor input) => input.expand(-1, 3, -1, -1);
        string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input) => exporter.Graph.Node("Concat", new[] { input, input, input }, ("axis", 1L));
    }
}
