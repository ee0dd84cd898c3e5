using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty.Scores;

/// <summary>
/// Predictive minus expected entropy (the mutual information between the prediction and the weights): the epistemic part,
/// high where the draws disagree, as on images unlike the training data. Never below 0.
/// </summary>
internal sealed class MutualInformationScore : ScoreDescriptor
{
    public override UncertaintyScore Score => UncertaintyScore.MutualInformation;
    public override bool HighMeansUncertain => true;
    public override string Unit => "nats";
    public override string Meaning => "PredictiveEntropy - ExpectedEntropy: epistemic uncertainty (the model has not seen such images)";

    // The difference of the two entropies as the user receives them (float32), so that the three columns add up exactly.
    internal override Tensor Compute(ScoreInputs inputs)
        => ScalarSafeOps.ClampMin(inputs.Of(UncertaintyScore.PredictiveEntropy).to(ScalarType.Float32).Minus(inputs.Of(UncertaintyScore.ExpectedEntropy).to(ScalarType.Float32)), 0);

    internal override string Export(ScoreGraphInputs inputs)
        => inputs.Graph.Node("Max", new[] { inputs.Graph.Node("Sub", new[] { inputs.Of(UncertaintyScore.PredictiveEntropy), inputs.Of(UncertaintyScore.ExpectedEntropy) }),
            inputs.Graph.Scalar("zero", 0f) });
}
