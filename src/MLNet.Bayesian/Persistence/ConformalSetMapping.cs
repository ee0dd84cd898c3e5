using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Persistence;

/// <summary>
/// Part of a saved model with a conformal calibration (<see cref="SavedModelLayout"/>): computes PredictionSet and
/// PredictionSetSize from the probabilities with the same code as the in-memory transformer
/// (<see cref="ConformalCalibration.PredictionSet(ReadOnlySpan{float}, Span{bool})"/>). A CustomMapping is saved by
/// its contract name alone and cannot hold numbers, so the calibration reaches it as a column: a MapValue stage maps
/// every class index to the same vector of <see cref="ConformalCalibration"/>'s parameters, which ML.NET saves exactly.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class ConformalSetMapping : CustomMappingFactory<ConformalSetMapping.Input, ConformalSetMapping.Output>
{
    /// <summary>Name under which the mapping is saved in the model zip.</summary>
    public const string ContractName = "MLNet.Bayesian.ConformalSet.v1";
    /// <summary>Intermediate columns: a copy of the probabilities and the calibration's parameters.</summary>
    public const string ScoresColumn = "__mlnb_conformal_scores", ParametersColumn = "__mlnb_conformal_parameters";

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Map;

    /// <summary>Computes the set of one row.</summary>
    public static void Map(Input input, Output output)
    {
        var calibration = ConformalCalibration.FromParameters(input.Parameters);
        var set = new bool[calibration.Classes];
        output.PredictionSetSize = calibration.PredictionSet(input.Scores, set);
        output.PredictionSet = set;
    }

    /// <summary>The probabilities and the calibration.</summary>
    public sealed class Input
    {
        /// <summary>Posterior-mean probabilities.</summary>
        [ColumnName(ScoresColumn)] public float[] Scores { get; set; } = Array.Empty<float>();
        /// <summary>The numbers of ConformalCalibration.ToParameters.</summary>
        [ColumnName(ParametersColumn)] public double[] Parameters { get; set; } = Array.Empty<double>();
    }

    /// <summary>The set columns.</summary>
    public sealed class Output
    {
        /// <summary>Whether each class (key order) is in the set.</summary>
        [ColumnName(BayesianColumnNames.PredictionSet)] public bool[] PredictionSet { get; set; } = Array.Empty<bool>();
        /// <summary>Number of classes in the set.</summary>
        [ColumnName(BayesianColumnNames.PredictionSetSize)] public float PredictionSetSize { get; set; }
    }
}
