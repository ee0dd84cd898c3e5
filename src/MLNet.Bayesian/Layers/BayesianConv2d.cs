using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Bayesian replacement of <see cref="Conv2d"/> with the same geometry.</summary>
internal sealed class BayesianConv2d : StochasticLayer
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
    {
        var (weight, stacked) = CurrentWeight();
        var stride = _stride;
        if (StridedPointwiseConvolution.AppliesTo(WeightShape.AsSpan(2), _stride, _padding))
        {
            // A 1x1 strided convolution's backward pass can crash LibTorch's oneDNN (see StridedPointwiseConvolution).
            input = StridedPointwiseConvolution.Subsample(input, _stride);
            stride = new long[] { 1, 1 };
        }
        if (stacked == 0) return nn.functional.conv2d(input, weight, Bias, stride, _padding, _dilation, _groups);
        // S draws at once as one grouped convolution: the S copies of the batch side by side as channels.
        long s = stacked, n = input.shape[0] / s, c = input.shape[1], h = input.shape[2], w = input.shape[3];
        var x = input.view(s, n, c, h, w).transpose(0, 1).reshape(n, s * c, h, w);
        var bias = Bias is null ? null : Bias.repeat(s);
        var y = nn.functional.conv2d(x, weight.reshape(s * WeightShape[0], WeightShape[1], WeightShape[2], WeightShape[3]), bias,
            stride, _padding, _dilation, _groups * s);
        long o = WeightShape[0], oh = y.shape[2], ow = y.shape[3];
        return y.view(n, s, o, oh, ow).transpose(0, 1).reshape(s * n, o, oh, ow);
    }
}
