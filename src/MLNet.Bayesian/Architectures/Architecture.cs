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
    /// <summary>TorchVision's ImageNet ResNet-18.</summary>
    ResNet18,
    /// <summary>TorchVision's ImageNet ResNet-50.</summary>
    ResNet50,
    /// <summary>TorchVision's ImageNet ResNet-101.</summary>
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
        Architecture.ResNet18 => (c, _, _, k) => WithChannels(c, TorchSharp.torchvision.models.resnet18(num_classes: k)),
        Architecture.ResNet50 => (c, _, _, k) => WithChannels(c, TorchSharp.torchvision.models.resnet50(num_classes: k)),
        Architecture.ResNet101 => (c, _, _, k) => WithChannels(c, TorchSharp.torchvision.models.resnet101(num_classes: k)),
        Architecture.SmallVit => (c, h, w, k) => new SmallVit(c, h, w, k),
        Architecture.Mlp => (c, h, w, k) => new FeatureHead((long)c * h * w, k),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, "unknown architecture"),
    };

    /// <summary>TorchVision's ResNets take 3 channels; gray images are repeated into three.</summary>
    static Module<Tensor, Tensor> WithChannels(int channels, Module<Tensor, Tensor> network)
        => channels switch
        {
            3 => network,
            1 => Sequential(("gray_to_rgb", new GrayToRgb()), ("network", network)),
            _ => throw new ArgumentException($"TorchVision's ResNets take 1 or 3 channels, not {channels}."),
        };

    sealed class GrayToRgb : Module<Tensor, Tensor>
    {
        public GrayToRgb() : base(nameof(GrayToRgb)) { }
        public override Tensor forward(Tensor input) => input.expand(-1, 3, -1, -1);
    }
}
