using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// A posterior over the weights of a network's Bayesian layers that hands out draws: one weight tensor per
/// layer, in the network's layer order. Training draws with the global noise (the gradient flows through the
/// draw to the variational parameters); prediction and export draw with seeded noise, so that draw s for seed k
/// is a function of (k, s) alone (see <see cref="DrawSeeds"/>).
/// </summary>
internal interface IWeightPosterior
{
    /// <summary>One draw of every layer's weight tensor.</summary>
    Tensor[] Draw(NoiseSource noise);

    /// <summary>KL(q || prior), the loss's complexity term (a scalar tensor; zero for a posterior that is not variational).</summary>
    Tensor KL(double priorSigma);
}

/// <summary>The seed of posterior draw s of a scorer seeded with k: the one rule every scoring path shares.</summary>
internal static class DrawSeeds
{
    /// <summary>The generator seed of draw <paramref name="sample"/> for the scorer seed <paramref name="seed"/>.</summary>
    public static long Of(int seed, int sample) => (long)seed * 1_000_003L + sample;
}
