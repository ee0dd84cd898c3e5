using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Getters of the output columns for row <c>i</c> of a scored batch.</summary>
internal static class ScoredValues
{
    /// <summary>A getter for <paramref name="column"/>: a key for the predicted class, a vector for the probabilities, else a float.</summary>
    public static Delegate Getter(OutputColumn column, Func<(PredictiveDistribution Batch, int Row)> current) => column.Kind switch
    {
        OutputColumnKind.PredictedLabel => (ValueGetter<uint>)((ref uint v) => { var (b, i) = current(); v = (uint)b.PredictedClass[i] + 1; }),
        OutputColumnKind.Score => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
        {
            var (b, i) = current();
            var editor = VBufferEditor.Create(ref v, b.Classes);
            b.Row(i).CopyTo(editor.Values);
            v = editor.Commit();
        }),
        _ => (ValueGetter<float>)((ref float v) => { var (b, i) = current(); v = b.Value(column.Uncertainty!.Value, i); }),
    };
}
