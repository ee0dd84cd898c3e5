using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>
/// -log sum_k exp(logit_k), averaged over the draws: the network's free energy (Liu et al. 2020, "Energy-based
/// out-of-distribution detection"), high when no class gets a large logit, as for unfamiliar images. 0 when only
/// probabilities are known.
/// </summary>
internal sealed class EnergyScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.Energy;
    public override bool HighMeansUncertain => true;
    public override string Unit => "-log sum exp of the logits";
    public override string Meaning => "-log sum_k exp(logit_k), mean over samples: the network's free energy; high when no class has a large logit (unfamiliar input)";

    internal override Tensor Compute(ScoreInputs inputs) => inputs.Logits is { } logits ? logits.logsumexp(2).neg().mean(new long[] { 0 }) : inputs.Zeros();

    internal override string Export(ScoreGraphInputs inputs)
        => inputs.MeanOverDraws(inputs.Graph.Node("Neg", new[] { inputs.Graph.Node("ReduceLogSumExp", new[] { inputs.Logits }, ("axes", new long[] { 2 }), ("keepdims", 0L)) }));
}
