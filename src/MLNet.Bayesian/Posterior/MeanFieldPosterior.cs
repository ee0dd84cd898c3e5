using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// Stage 1's posterior: every weight its own Gaussian N(mu, sigma^2), with mu and rho registered in the layers
/// themselves (state-dict names weight_mu and weight_rho). A draw is mu + sigma * eps, layer by layer.
/// </summary>
internal sealed class MeanFieldPosterior : IWeightPosterior
{
    readonly IReadOnlyList<StochasticLayer> _layers;

    public MeanFieldPosterior(IReadOnlyList<StochasticLayer> layers) => _layers = layers;

    public Tensor[] Draw(NoiseSource noise)
        => _layers.Select(l => l.WeightMu!.Plus(l.WeightSigma() * noise.Normal(l.WeightMu!))).ToArray();

    /// <summary>The sum over layers of KL(N(mu, sigma^2) || N(0, <paramref name="priorSigma"/>^2)).</summary>
    public Tensor KL(double priorSigma) => _layers.Select(l => l.KLToZeroMeanPrior(priorSigma)).Aggregate((a, b) => a.Plus(b));

    public string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale) => OnnxDraws.PerLayerSamples(g, this, seed, samples, scale);

    /// <summary>The posterior means (no noise).</summary>
    public Tensor[] Mean() => _layers.Select(l => l.WeightMu!.detach()).ToArray();
}
