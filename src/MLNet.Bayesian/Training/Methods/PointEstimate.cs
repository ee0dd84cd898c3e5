using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>Stage 0: the deterministic network, one set of weights; every draw is the same and a prediction takes one.</summary>
internal sealed class PointEstimate : NetworkPosterior
{
    public override BayesianStage Stage => BayesianStage.Deterministic;

    public override int SampleCount(int requested) => 1;

    public override WeightDraw Draw(int seed, int sample, double scale) => new(Array.Empty<Tensor>());

    public override Tensor Forward(nn.Module<Tensor, Tensor> network, Tensor input, WeightDraw draw) => network.call(input);

    public override Tensor ForwardStacked(nn.Module<Tensor, Tensor> network, Tensor copies, IReadOnlyList<Tensor> stackedWeights, int samples)
        => network.call(copies);

    public override Tensor ForwardFresh(nn.Module<Tensor, Tensor> network, Tensor input, NoiseSource noise) => network.call(input);
}
