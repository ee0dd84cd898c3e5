using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// What a <see cref="BayesianNetwork"/> does in one stage, as one object: how many draws a prediction averages, the KL
/// term of the loss, a seeded draw, and a forward pass on a given draw, on S stacked draws, or on a fresh one. One
/// subclass per kind of posterior (a point estimate, Gaussian or masked weights through the Bayesian layers, a deep
/// ensemble's members); the network holds the current one and delegates to it instead of branching on its stage.
/// </summary>
internal abstract class NetworkPosterior
{
    /// <summary>The stage this posterior belongs to.</summary>
    public abstract BayesianStage Stage { get; }

    /// <summary>The draws a prediction averages when <paramref name="requested"/> are asked for.</summary>
    public virtual int SampleCount(int requested) => requested;

    /// <summary>KL(q || prior) of the whole network, a scalar tensor (zero where there is no variational posterior).</summary>
    public virtual Tensor KL(double priorSigma) => zeros(1).squeeze();

    /// <summary>Draw <paramref name="sample"/> for scorer seed <paramref name="seed"/>, its normal noise times <paramref name="scale"/>.</summary>
    public abstract WeightDraw Draw(int seed, int sample, double scale);

    /// <summary>One forward pass of <paramref name="network"/> on <paramref name="draw"/>.</summary>
    public abstract Tensor Forward(nn.Module<Tensor, Tensor> network, Tensor input, WeightDraw draw);

    /// <summary>One forward pass on S draws at once: <paramref name="copies"/> holds the batch S times, sample-major.</summary>
    public abstract Tensor ForwardStacked(nn.Module<Tensor, Tensor> network, Tensor copies, IReadOnlyList<Tensor> stackedWeights, int samples);

    /// <summary>One forward pass on a fresh draw with <paramref name="noise"/> (training, or unseeded scoring).</summary>
    public abstract Tensor ForwardFresh(nn.Module<Tensor, Tensor> network, Tensor input, NoiseSource noise);

    /// <summary>
    /// The seeded draws written into an ONNX graph: per draw, the graph value of each Bayesian layer's weight (see
    /// <see cref="Posterior.IWeightPosterior.ExportDraws"/>). None here: a network without Bayesian layers (a point
    /// estimate, a deep ensemble's members) writes its own weights as it exports itself.
    /// </summary>
    public virtual string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale)
        => Enumerable.Range(0, samples).Select(_ => Array.Empty<string>()).ToArray();
}
