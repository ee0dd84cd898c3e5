using MLNet.Bayesian.Onnx;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Everything the library knows about one uncertainty score, in one place: its ML.NET column, its name in CSV files,
/// ONNX outputs and file names, which way is unsure, its unit, its meaning, and how it is computed from the S draws, both
/// in memory (<see cref="Compute"/>) and in the exported ONNX graph (<see cref="Export"/>). The ML.NET columns, the command
/// line's CSV, the ONNX graphs, the saved model, the evaluation report and <c>BayesianPrediction.Value</c> all read
/// <see cref="UncertaintyScores.Descriptors"/>, which holds one instance of every subclass in this assembly (see
/// <c>Uncertainty/Scores</c>): a new score is a new member of <see cref="UncertaintyScore"/> and a new subclass.
/// </summary>
public abstract class ScoreDescriptor
{
    /// <summary>The score.</summary>
    public abstract UncertaintyScore Score { get; }
    /// <summary>Whether a higher value means a less certain prediction.</summary>
    public abstract bool HighMeansUncertain { get; }
    /// <summary>What its values are measured in (plot axes).</summary>
    public abstract string Unit { get; }
    /// <summary>One line on what it says, for schemas and documentation.</summary>
    public abstract string Meaning { get; }

    /// <summary>Its output column in ML.NET, and the property of a prediction class that receives it: the score's name.</summary>
    public string ColumnName => Score.ToString();

    /// <summary>Its name in CSV headers, ONNX outputs, JSON keys and file names: the column name in snake case.</summary>
    public string SnakeName => string.Concat(ColumnName.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>The score of each of the N rows of a batch, [N] (any floating type; the caller converts).</summary>
    internal abstract Tensor Compute(ScoreInputs inputs);

    /// <summary>The same in the ONNX graph: the name of a float [N] node.</summary>
    internal abstract string Export(ScoreGraphInputs inputs);

    /// <inheritdoc />
    public override string ToString() => ColumnName;
}

/// <summary>
/// What a score may read of one scoring batch. <paramref name="SampleProbabilities"/>: the S softmax outputs, float64
/// [S, N, K]; <paramref name="MeanProbabilities"/>: their mean, [N, K]; <paramref name="Logits"/>: the S draws' logits
/// [S, N, K], null when only probabilities are known; <paramref name="FeatureDistance"/>: [N], null without a feature fit.
/// </summary>
internal sealed record ScoreInputs(Tensor SampleProbabilities, Tensor MeanProbabilities, Tensor? Logits, Tensor? FeatureDistance)
{
    readonly Dictionary<UncertaintyScore, Tensor> _computed = new();

    /// <summary>The batch's values of <paramref name="score"/>, computed once: a score built from others (mutual information
    /// from the two entropies) reads them here instead of computing them again.</summary>
    public Tensor Of(UncertaintyScore score)
    {
        if (!_computed.TryGetValue(score, out var values)) _computed[score] = values = score.Describe().Compute(this);
        return values;
    }

    /// <summary>N zeros: the value of a score whose input is not known.</summary>
    public Tensor Zeros() => zeros(MeanProbabilities.shape[0], dtype: MeanProbabilities.dtype, device: MeanProbabilities.device);
}

/// <summary>
/// The graph's nodes a score may read: <paramref name="SampleProbabilities"/> float [S, N, K], <paramref name="MeanProbabilities"/>
/// [N, K], <paramref name="Logits"/> [S, N, K] and <paramref name="FeatureDistance"/> [N] (zeros without a feature fit).
/// </summary>
internal sealed record ScoreGraphInputs(OnnxGraphBuilder Graph, string SampleProbabilities, string MeanProbabilities, string Logits, string FeatureDistance)
{
    readonly Dictionary<UncertaintyScore, string> _exported = new();

    /// <summary>The graph's node of <paramref name="score"/>, written once (see <see cref="ScoreInputs.Of"/>).</summary>
    public string Of(UncertaintyScore score)
    {
        if (!_exported.TryGetValue(score, out var node)) _exported[score] = node = score.Describe().Export(this);
        return node;
    }

    /// <summary>Entropy in nats over <paramref name="axis"/> of probabilities, with p log p = 0 at p = 0.</summary>
    public string Entropy(string probabilities, long axis)
        => Graph.Node("Neg", new[] { Graph.Node("ReduceSum", new[] { Graph.Node("Mul", new[] { probabilities,
            Graph.Node("Log", new[] { Graph.Node("Max", new[] { probabilities, Graph.Scalar("tiny", 1e-30f) }) }) }), Graph.Int64s("axes", axis) }, ("keepdims", 0L)) });

    /// <summary>The mean over the S draws (axis 0) of an [S, N] node.</summary>
    public string MeanOverDraws(string value) => Graph.Node("ReduceMean", new[] { value }, ("axes", new long[] { 0 }), ("keepdims", 0L));
}
