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

    /// <summary>The scalar statistics the graph packs into <see cref="StatisticsColumn"/>, in the order <see cref="Map"/> reads them.</summary>
    public static IReadOnlyList<PredictionStatistic> Statistics { get; } = new[]
    {
        PredictionStatistic.Confidence, PredictionStatistic.PredictiveEntropy, PredictionStatistic.ExpectedEntropy, PredictionStatistic.MutualInformation,
        PredictionStatistic.FeatureDistance, PredictionStatistic.Energy,
    };

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Map;

    /// <summary>Copies each statistic into its column.</summary>
    public static void Map(Input input, Output output)
    {
        foreach (float value in input.Statistics)
            if (!float.IsFinite(value))
                throw new InvalidDataException("The model produced scores that are not finite numbers: the input holds a NaN or infinite pixel, or the model file is damaged.");
        output.Confidence = input.Statistics[0];
        output.PredictiveEntropy = input.Statistics[1];
        output.ExpectedEntropy = input.Statistics[2];
        output.MutualInformation = input.Statistics[3];
        output.FeatureDistance = input.Statistics[4];
        output.Energy = input.Statistics[5];
        output.PredictedClass = input.PredictedClass[0];
    }

    /// <summary>The ONNX outputs as ML.NET reads them.</summary>
    public sealed class Input
    {
        /// <summary>Confidence, predictive entropy, expected entropy, mutual information, feature distance, energy.</summary>
        [ColumnName(StatisticsColumn), VectorType(6)] public float[] Statistics { get; set; } = new float[6];
        /// <summary>Predicted class index.</summary>
        [ColumnName(SavedModelLayout.PredictedClassColumn), VectorType(1)] public long[] PredictedClass { get; set; } = new long[1];
    }

    /// <summary>The scalar columns.</summary>
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
