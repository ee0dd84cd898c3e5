using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// Inverted-dropout masks: each entry is 0 with probability p and 1 / (1 - p) otherwise, so that a masked input
/// (or a weight with masked input columns) keeps its expectation. Training and the prediction draws both take their
/// masks from here.
/// </summary>
internal static class DropoutMask
{
    /// <summary>A mask of <paramref name="shape"/> with <paramref name="like"/>'s type and device, from <paramref name="noise"/>.</summary>
    public static Tensor Draw(long[] shape, double rate, NoiseSource noise, Tensor like)
    {
        var u = noise.Uniform(shape, like.device);
        return u.ge(ScalarSafeOps.Constant(rate, u)).to_type(like.dtype).mul(ScalarSafeOps.Constant(1 / (1 - rate), like));
    }
}
