using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Persistence;

/// <summary>
/// Part of a saved model (<see cref="SavedModelLayout"/>): turns the ONNX graph's vector of scalar statistics and its
/// one-element class index into the scalar columns the in-memory transformer has. OnnxTransformer cannot produce
/// scalar columns itself, and no other public ML.NET transform squeezes a vector, so this is a CustomMapping: a
/// process that loads the model registers this assembly first (<see cref="BayesianModel.Load"/> does it). A row
/// whose scores are not finite numbers is an error here, as in memory, never a decision.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class OnnxOutputSqueeze : CustomMappingFactory<OnnxOutputSqueeze.Input, OnnxOutputSqueeze.Output>
{
    /// <summary>Name under which the mapping is saved in the model zip.</summary>
    public const string ContractName = "MLNet.Bayesian.OnnxOutputSqueeze.v3";
    /// <summary>Intermediate columns: the graph's packed statistics and the squeezed class index.</summary>
    public const string StatisticsColumn = "__mlnb_statistics", PredictedClassScalarColumn = "__mlnb_predicted_class_scalar";

    /// <summary>The scores the graph packs into <see cref="StatisticsColumn"/>: every score, in the order of the score table.</summary>
    public static IReadOnlyList<UncertaintyScore> Scores { get; } = UncertaintyScores.Descriptors.Select(d => d.Score).ToArray();

    /// <summary>The packed vector's length: a constant, because ML.NET reads the input type from the attribute (a test holds it to the table).</summary>
    internal const int ScoreCount = 6;

    // Each score's setter on Output, found once by the score's column name (the property's name): a new score needs only
    // its property there, [ColumnName] the same name.
    static readonly Action<Output, float>[] Setters = Scores.Select(score =>
        typeof(Output).GetProperty(score.Describe().ColumnName) is { PropertyType: var t } property && t == typeof(float)
            ? property.SetMethod!.CreateDelegate<Action<Output, float>>()
            : throw new InvalidOperationException($"{nameof(OnnxOutputSqueeze)}.{nameof(Output)} has no property for the column {score.Describe().ColumnName}.")).ToArray();

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Map;

    /// <summary>Copies each score into its column.</summary>
    public static void Map(Input input, Output output)
    {
        foreach (float value in input.Statistics)
            if (!float.IsFinite(value))
                throw new InvalidDataException("The model produced scores that are not finite numbers: the input holds a NaN or infinite pixel, or the model file is damaged.");
        for (int i = 0; i < Setters.Length; i++) Setters[i](output, input.Statistics[i]);
        output.PredictedClass = input.PredictedClass[0];
    }

    /// <summary>The ONNX outputs as ML.NET reads them.</summary>
    public sealed class Input
    {
        /// <summary>The scores, in the order of <see cref="Scores"/>.</summary>
        [ColumnName(StatisticsColumn), VectorType(ScoreCount)] public float[] Statistics { get; set; } = new float[ScoreCount];
        /// <summary>Predicted class index.</summary>
        [ColumnName(SavedModelLayout.PredictedClassColumn), VectorType(1)] public long[] PredictedClass { get; set; } = new long[1];
    }

    /// <summary>The scalar columns: one float property per score, named by the score's column.</summary>
    public sealed class Output
    {
        /// <summary>Confidence.</summary>
        [ColumnName(BayesianColumnNames.Confidence)] public float Confidence { get; set; }
        /// <summary>Predictive entropy.</summary>
        [ColumnName(BayesianColumnNames.PredictiveEntropy)] public float PredictiveEntropy { get; set; }
        /// <summary>Expected entropy.</summary>
        [ColumnName(BayesianColumnNames.ExpectedEntropy)] public float ExpectedEntropy { get; set; }
        /// <summary>Mutual information.</summary>
        [ColumnName(BayesianColumnNames.MutualInformation)] public float MutualInformation { get; set; }
        /// <summary>Feature distance.</summary>
        [ColumnName(BayesianColumnNames.FeatureDistance)] public float FeatureDistance { get; set; }
        /// <summary>Energy.</summary>
        [ColumnName(BayesianColumnNames.Energy)] public float Energy { get; set; }
        /// <summary>Predicted class index (0-based).</summary>
        [ColumnName(PredictedClassScalarColumn)] public long PredictedClass { get; set; }
    }
}
