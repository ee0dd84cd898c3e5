using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>H[mean p], the entropy of the mean probabilities: total uncertainty, in nats.</summary>
internal sealed class PredictiveEntropyScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.PredictiveEntropy;
    public override bool HighMeansUncertain => true;
    public override string Unit => "nats";
    public override string Meaning => "H[mean p]: total uncertainty, nats";

    internal override Tensor Compute(ScoreInputs inputs) => Entropy(inputs.MeanProbabilities, 1);

    internal override string Export(ScoreGraphInputs inputs) => inputs.Entropy(inputs.MeanProbabilities, 1);

    /// <summary>-sum p log p over <paramref name="dim"/>, with p log p = 0 at p = 0 (float64 probabilities).</summary>
    internal static Tensor Entropy(Tensor p, long dim) => p.mul(ScalarSafeOps.ClampMin(p, 1e-300).log()).sum(dim).neg();
}
