using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Element-wise operations whose scalar arguments stay alive for the whole native call. TorchSharp 0.107
/// turns double arguments into temporary Scalar objects that nothing references while LibTorch runs, so a
/// garbage collection on another thread can finalize them mid-call: CI saw softplus fail with "toFloat:
/// Expected false to be true". The hot paths of training and scoring use these helpers instead.
/// </summary>
internal static class ScalarSafeOps
{
    // Static, so never finalized: tensor + tensor passes an alpha Scalar that TorchSharp would create per call.
    static readonly Scalar One = 1.0.ToScalar();

    /// <summary>The Scalar 1, alive for the whole process (for in-place adds).</summary>
    public static Scalar OneScalar => One;
    static readonly Scalar MinusOne = (-1.0).ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a - b.</summary>
    public static Tensor Minus(this Tensor a, Tensor b) => a.add(b, MinusOne);

    /// <summary>x * x. TorchSharp's <c>square()</c> is <c>pow(2)</c>, whose exponent is a temporary Scalar (CI saw
    /// "Unknown scalar type" from it in the feature distance while scoring).</summary>
    public static Tensor Square(this Tensor x) => x.mul(x);

    /// <summary>softplus(x) = max(x, 0) + log(1 + exp(-|x|)), built from scalar-free operations.</summary>
    public static Tensor Softplus(Tensor x) => x.relu().Plus(x.abs().neg().exp().log1p());

    /// <summary>A 0-dimensional tensor holding <paramref name="value"/> with <paramref name="like"/>'s type and device:
    /// arithmetic with it passes no Scalar object to LibTorch.</summary>
    public static Tensor Constant(double value, Tensor like) => tensor(value, dtype: like.dtype, device: like.device);

    /// <summary>x + value.</summary>
    public static Tensor Add(Tensor x, double value)
    {
        using var scalar = value.ToScalar();
        // Tensor.add(Scalar) forwards to add(scalar, 1), whose alpha is a temporary Scalar: pass a live one.
        var result = x.add(scalar, One);
        GC.KeepAlive(scalar);
        return result;
    }

    /// <summary>max(x, value).</summary>
    public static Tensor ClampMin(Tensor x, double value)
    {
        using var scalar = value.ToScalar();
        var result = x.clamp_min(scalar);
        GC.KeepAlive(scalar);
        return result;
    }
}
