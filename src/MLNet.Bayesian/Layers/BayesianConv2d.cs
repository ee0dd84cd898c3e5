using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Bayesian replacement of <see cref="Conv2d"/> with the same geometry.</summary>
public sealed class BayesianConv2d : StochasticLayer
{
    readonly long[] _stride, _padding, _dilation;
    readonly long _groups;

    /// <summary>Copies the geometry, weight and bias of <paramref name="conv"/>.</summary>
    public BayesianConv2d(Conv2d conv, double initialSigma) : base(nameof(BayesianConv2d), conv.weight, conv.bias, initialSigma)
    {
        if (conv.padding_mode != TorchSharp.PaddingModes.Zeros)
            throw new NotSupportedException($"Conv2d with padding mode {conv.padding_mode} cannot be converted; only zero padding is supported.");
        if (conv.padding is null)
            throw new NotSupportedException("Conv2d built with Padding.Same/Valid cannot be converted; give explicit padding sizes.");
        _stride = conv.stride;
        _padding = conv.padding;
        _dilation = conv.dilation;
        _groups = conv.groups;
    }

    internal long[] Stride => _stride;
    internal long[] Padding => _padding;
    internal long[] Dilation => _dilation;
    internal long Groups => _groups;

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
        => nn.functional.conv2d(input, CurrentWeight(), Bias, _stride, _padding, _dilation, _groups);
}
