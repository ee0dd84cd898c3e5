using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// A deep ensemble: the posterior is the uniform mixture of M trained networks. Draw s runs member s mod M, a prediction
/// averages the M members, and there are no weights to stack.
/// </summary>
internal sealed class EnsemblePosterior(IReadOnlyList<nn.Module<Tensor, Tensor>> members) : NetworkPosterior
{
    public override BayesianStage Stage => BayesianStage.DeepEnsemble;

    public override int SampleCount(int requested) => members.Count;

    public override WeightDraw Draw(int seed, int sample, double scale) => new(Array.Empty<Tensor>()) { Member = sample % members.Count };

    public override Tensor Forward(nn.Module<Tensor, Tensor> network, Tensor input, WeightDraw draw) => members[draw.Member].call(input);

    public override Tensor ForwardStacked(nn.Module<Tensor, Tensor> network, Tensor copies, IReadOnlyList<Tensor> stackedWeights, int samples)
        => throw new InvalidOperationException("A deep ensemble's draws are its members, not stacked weights: run them one by one with Forward.");

    public override Tensor ForwardFresh(nn.Module<Tensor, Tensor> network, Tensor input, NoiseSource noise)
    {
        // A draw of the ensemble's posterior, the uniform mixture of its members.
        using var member = randint(members.Count, new long[] { 1 }, dtype: ScalarType.Int64);
        return members[(int)member.item<long>()].call(input);
    }
}
