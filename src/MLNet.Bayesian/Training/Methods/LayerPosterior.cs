using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// A posterior over the weights of the Bayesian layers (mean-field, 2DGBNN's shared posterior in either variant, MC
/// dropout's masks): a draw is one weight tensor per layer from the <see cref="IWeightPosterior"/>, and a forward pass
/// runs the network with those weights in force (<see cref="WeightContext"/>).
/// </summary>
internal sealed class LayerPosterior(BayesianStage stage, IReadOnlyList<StochasticLayer> layers, IWeightPosterior weights) : NetworkPosterior
{
    public override BayesianStage Stage => stage;

    /// <summary>The posterior the draws come from.</summary>
    public IWeightPosterior Weights => weights;

    public override Tensor KL(double priorSigma) => weights.KL(priorSigma);

    public override WeightDraw Draw(int seed, int sample, double scale)
    {
        using var noise = NoiseSource.Seeded(DrawSeeds.Of(seed, sample), scale);
        return new WeightDraw(weights.Draw(noise));
    }

    public override Tensor Forward(nn.Module<Tensor, Tensor> network, Tensor input, WeightDraw draw)
    {
        using var scope = WeightContext.Use(layers, draw.Weights);
        return network.call(input);
    }

    public override Tensor ForwardStacked(nn.Module<Tensor, Tensor> network, Tensor copies, IReadOnlyList<Tensor> stackedWeights, int samples)
    {
        using var scope = WeightContext.Use(layers, stackedWeights, samples);
        return network.call(copies);
    }

    public override string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale) => weights.ExportDraws(g, seed, samples, scale);

    public override Tensor ForwardFresh(nn.Module<Tensor, Tensor> network, Tensor input, NoiseSource noise)
    {
        using var scope = WeightContext.Use(layers, weights.Draw(noise));
        return network.call(input);
    }
}
