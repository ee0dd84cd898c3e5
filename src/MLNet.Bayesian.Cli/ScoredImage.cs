using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli;

/// <summary>
/// One scored image as the CLI writes it: the predicted class (1-based key), the probabilities, every uncertainty score of
/// the score table (<see cref="UncertaintyScores.Descriptors"/>) and, for a model with conformal sets, the set. Read from the
/// scored view by column name in one pass, so that every score the library computes reaches the CSV without a property
/// on a typed row class.
/// </summary>
internal sealed record ScoredImage(uint PredictedLabel, float[] Probabilities, IReadOnlyDictionary<UncertaintyScore, float> Scores,
    bool[]? PredictionSet, float PredictionSetSize)
{
    /// <summary>Reads every row of <paramref name="scored"/> (one cursor: the model scores each image once).</summary>
    public static List<ScoredImage> ReadAll(IDataView scored, bool sets)
    {
        var schema = scored.Schema;
        var columns = new List<DataViewSchema.Column> { schema[BayesianColumnNames.PredictedLabel], schema[BayesianColumnNames.Score] };
        columns.AddRange(UncertaintyScores.Descriptors.Select(d => schema[d.ColumnName]));
        if (sets) columns.AddRange(new[] { schema[BayesianColumnNames.PredictionSet], schema[BayesianColumnNames.PredictionSetSize] });
        using var cursor = scored.GetRowCursor(columns);
        var label = cursor.GetGetter<uint>(schema[BayesianColumnNames.PredictedLabel]);
        var score = cursor.GetGetter<VBuffer<float>>(schema[BayesianColumnNames.Score]);
        var values = UncertaintyScores.Descriptors.Select(d => (d.Score, Get: cursor.GetGetter<float>(schema[d.ColumnName]))).ToArray();
        var set = sets ? cursor.GetGetter<VBuffer<bool>>(schema[BayesianColumnNames.PredictionSet]) : null;
        var setSize = sets ? cursor.GetGetter<float>(schema[BayesianColumnNames.PredictionSetSize]) : null;

        var rows = new List<ScoredImage>();
        uint predicted = 0;
        VBuffer<float> probabilities = default;
        VBuffer<bool> members = default;
        float value = 0, size = 0;
        while (cursor.MoveNext())
        {
            label(ref predicted);
            score(ref probabilities);
            var scores = new Dictionary<UncertaintyScore, float>();
            foreach (var (s, get) in values) { get(ref value); scores[s] = value; }
            bool[]? inSet = null;
            if (set is not null)
            {
                set(ref members);
                setSize!(ref size);
                inSet = members.DenseValues().ToArray();
            }
            rows.Add(new ScoredImage(predicted, probabilities.DenseValues().ToArray(), scores, inSet, size));
        }
        return rows;
    }
}
