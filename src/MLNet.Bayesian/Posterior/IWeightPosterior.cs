using MLNet.Bayesian.Onnx;
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

    /// <summary>
    /// Writes the seeded draws (seed, s) for s &lt; <paramref name="samples"/> into an ONNX graph, each in the form that
    /// suits this posterior (whole weights, shared value tables and an index, or masks beside one copy of the weights);
    /// returns, per draw, the graph value of every layer's weight in layer order. The graph's draws equal <see cref="Draw"/>
    /// with the same seeded noise, so a saved model scores as the model in memory.
    /// </summary>
    string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale);
}

/// <summary>The seed of posterior draw s of a scorer seeded with k: the one rule every scoring path shares.</summary>
internal static class DrawSeeds
{
    /// <summary>The generator seed of draw <paramref name="sample"/> for the scorer seed <paramref name="seed"/>.</summary>
    public static long Of(int seed, int sample) => (long)seed * 1_000_003L + sample;
}
