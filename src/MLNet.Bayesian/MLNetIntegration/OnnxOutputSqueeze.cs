using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// Part of a saved model: turns the ONNX graph's one-element outputs into the scalar columns the in-memory
/// transformer has (Confidence, PredictiveEntropy, ExpectedEntropy, MutualInformation, the class index).
/// OnnxTransformer cannot produce scalar columns itself, and no other public ML.NET transform squeezes a
/// vector, so this is a CustomMapping: a process that loads the model registers this assembly first
/// (<see cref="BayesianModel.Load"/> does it).
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class OnnxOutputSqueeze : CustomMappingFactory<OnnxOutputSqueeze.Input, OnnxOutputSqueeze.Output>
{
    /// <summary>Name under which the mapping is saved in the model zip.</summary>
    public const string ContractName = "MLNet.Bayesian.OnnxOutputSqueeze.v1";

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Map;

    /// <summary>Copies the single element of each output.</summary>
    public static void Map(Input input, Output output)
    {
        output.Confidence = input.Confidence[0];
        output.PredictiveEntropy = input.PredictiveEntropy[0];
        output.ExpectedEntropy = input.ExpectedEntropy[0];
        output.MutualInformation = input.MutualInformation[0];
        output.PredictedClass = input.PredictedClass[0];
    }

    /// <summary>The ONNX outputs as ML.NET reads them: one-element vectors.</summary>
    public sealed class Input
    {
        /// <summary>Confidence.</summary>
        [ColumnName(Names.Confidence), VectorType(1)] public float[] Confidence { get; set; } = new float[1];
        /// <summary>Predictive entropy.</summary>
        [ColumnName(Names.PredictiveEntropy), VectorType(1)] public float[] PredictiveEntropy { get; set; } = new float[1];
        /// <summary>Expected entropy.</summary>
        [ColumnName(Names.ExpectedEntropy), VectorType(1)] public float[] ExpectedEntropy { get; set; } = new float[1];
        /// <summary>Mutual information.</summary>
        [ColumnName(Names.MutualInformation), VectorType(1)] public float[] MutualInformation { get; set; } = new float[1];
        /// <summary>Predicted class index.</summary>
        [ColumnName(Names.PredictedClass), VectorType(1)] public long[] PredictedClass { get; set; } = new long[1];
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
        /// <summary>Predicted class index (0-based).</summary>
        [ColumnName(Names.PredictedClassScalar)] public long PredictedClass { get; set; }
    }

    /// <summary>Column names of the ONNX outputs and of the intermediate class index.</summary>
    public static class Names
    {
        /// <summary>ONNX output.</summary>
        public const string Confidence = "__mlnb_confidence", PredictiveEntropy = "__mlnb_predictive_entropy",
            ExpectedEntropy = "__mlnb_expected_entropy", MutualInformation = "__mlnb_mutual_information",
            PredictedClass = "__mlnb_predicted_class", PredictedClassScalar = "__mlnb_predicted_class_scalar";
    }
}
