using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Platform workaround: a 1x1 convolution with a stride above 1 and no padding runs as a subsample of its input
/// (every s-th row and column) followed by a unit-stride 1x1 convolution. The arithmetic is the same, and so are the
/// gradients.
/// <para>
/// Why: the oneDNN in LibTorch 2.10 (CPU) kills the whole process with a floating point exception (SIGFPE) while it plans
/// the backward pass of such a convolution. The crash is in <c>brgemm_convolution_bwd_utils::brg_blocking_t::est_eff_1x1</c>,
/// the strided backward-data path.
/// </para>
/// <para>
/// Where it was measured: on this project's AMD EPYC machines with AVX-512, at any batch above 1, and with
/// <c>ONEDNN_MAX_CPU_ISA=AVX2</c> too.
/// </para>
/// <list type="bullet">
/// <item>Crashed: 512 -> 1024 and 1024 -> 2048 channels, at input sizes 2 to 28. These are ResNet-50's and ResNet-101's
/// projection shortcuts, so neither network could train there.</item>
/// <item>Ran: 64 -> 128, 256 -> 512, 1024 -> 1536 and 2048 -> 1024.</item>
/// </list>
/// <para>
/// A unit-stride convolution's backward pass is computed with oneDNN's forward kernels (its "bwd-to-fwd conversion"),
/// which do not have that planning step. The saved ONNX graph keeps the strided convolution: only training and scoring in
/// LibTorch take this road.
/// </para>
/// </summary>
internal static class StridedPointwiseConvolution
{
    /// <summary>True for a 1x1 kernel with a stride above 1 and no padding: the geometry that takes the workaround.</summary>
    public static bool AppliesTo(ReadOnlySpan<long> kernel, ReadOnlySpan<long> stride, ReadOnlySpan<long> padding)
    {
        foreach (long k in kernel) if (k != 1) return false;
        foreach (long p in padding) if (p != 0) return false;
        foreach (long s in stride) if (s > 1) return true;
        return false;
    }

    /// <summary>
    /// The pixels a 1x1 convolution of this stride reads: <c>input[:, :, ::s0, ::s1]</c>. The result has as many rows and
    /// columns as the strided convolution's output (ceil(h / s) = floor((h - 1) / s) + 1).
    /// </summary>
    public static Tensor Subsample(Tensor input, ReadOnlySpan<long> stride)
        => input[TensorIndex.Ellipsis, TensorIndex.Slice(null, null, stride[0]), TensorIndex.Slice(null, null, stride[1])];

    /// <summary>
    /// Runs <paramref name="module"/> on <paramref name="input"/>.
    /// <list type="bullet">
    /// <item>A TorchSharp <see cref="Conv2d"/> of the geometry above is computed as a subsample plus a unit-stride
    /// convolution, with the same weight and bias.</item>
    /// <item>A <see cref="Sequential"/> runs its children this way, one after another.</item>
    /// <item>Anything else is called as it is.</item>
    /// </list>
    /// A Bayesian convolution needs none of this: it applies the workaround itself.
    /// </summary>
    public static Tensor Call(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        if (module is Conv2d conv && conv.padding is { } padding && AppliesTo(conv.weight!.shape.AsSpan(2), conv.stride, padding))
            return nn.functional.conv2d(Subsample(input, conv.stride), conv.weight!, conv.bias, new long[] { 1, 1 }, padding, conv.dilation, conv.groups);
        if (module is Sequential sequential)
        {
            var x = input;
            // Intermediate tensors are left to the caller's dispose scope, as Sequential itself does.
            foreach (var child in sequential.children()) x = Call((nn.Module<Tensor, Tensor>)child, x);
            return x;
        }
        return module.call(input);
    }
}
