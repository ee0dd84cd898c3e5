using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>Max of the mean probabilities: the probability of the predicted class. The one score where high means certain.</summary>
internal sealed class ConfidenceScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.Confidence;
    public override bool HighMeansUncertain => false;
    public override string Unit => "probability of the predicted class";
    public override string Meaning => "max of Score: the probability of the predicted class";

    internal override Tensor Compute(ScoreInputs inputs) => inputs.MeanProbabilities.max(1).values;

    internal override string Export(ScoreGraphInputs inputs)
        => inputs.Graph.Node("ReduceMax", new[] { inputs.MeanProbabilities }, ("axes", new long[] { 1 }), ("keepdims", 0L));
}
