using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Standard normal noise from the global generator, or from a given one for reproducible draws.</summary>
public static class Noise
{
    /// <summary>N(0, 1) noise shaped like <paramref name="like"/>.</summary>
    public static Tensor Like(Tensor like, Generator? generator)
        => generator is null ? randn_like(like) : randn(like.shape, dtype: like.dtype, device: like.device, generator: generator);
}
