using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Getters of the six output columns for row <c>i</c> of a scored batch.</summary>
internal static class ScoredValues
{
    /// <summary>A getter for output column <paramref name="which"/> (0: PredictedLabel ... 5: MutualInformation).</summary>
    public static Delegate Getter(int which, Func<(PredictiveDistribution Batch, int Row)> current) => which switch
    {
        0 => (ValueGetter<uint>)((ref uint v) => { var (b, i) = current(); v = (uint)b.PredictedClass[i] + 1; }),
        1 => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
        {
            var (b, i) = current();
            var editor = VBufferEditor.Create(ref v, b.Classes);
            b.Row(i).CopyTo(editor.Values);
            v = editor.Commit();
        }),
        2 => (ValueGetter<float>)((ref float v) => { var (b, i) = current(); v = b.Confidence[i]; }),
        3 => (ValueGetter<float>)((ref float v) => { var (b, i) = current(); v = b.PredictiveEntropy[i]; }),
        4 => (ValueGetter<float>)((ref float v) => { var (b, i) = current(); v = b.ExpectedEntropy[i]; }),
        5 => (ValueGetter<float>)((ref float v) => { var (b, i) = current(); v = b.MutualInformation[i]; }),
        _ => throw new ArgumentOutOfRangeException(nameof(which)),
    };
}
