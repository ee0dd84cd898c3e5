using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>Mean over the draws of H[p_s]: the aleatoric part of the uncertainty (the image itself is ambiguous), in nats.</summary>
internal sealed class ExpectedEntropyScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.ExpectedEntropy;
    public override bool HighMeansUncertain => true;
    public override string Unit => "nats";
    public override string Meaning => "mean over samples of H[p_s]: aleatoric uncertainty (the image is ambiguous)";

    internal override Tensor Compute(ScoreInputs inputs) => PredictiveEntropyScore.Entropy(inputs.SampleProbabilities, 2).mean(new long[] { 0 });

    internal override string Export(ScoreGraphInputs inputs) => inputs.MeanOverDraws(inputs.Entropy(inputs.SampleProbabilities, 2));
}
