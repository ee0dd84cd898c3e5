namespace MLNet.Bayesian.Uncertainty;

/// <summary>One equal-width confidence bin of a reliability diagram.</summary>
public sealed record ReliabilityBin(double Lower, double Upper, int Count, double MeanConfidence, double Accuracy);

/// <summary>Top-label reliability diagram data; its weighted gap is the ECE.</summary>
public static class ReliabilityDiagram
{
    /// <summary>Bins the predicted class's confidence into <paramref name="bins"/> equal-width bins.</summary>
    public static IReadOnlyList<ReliabilityBin> Compute(ReadOnlySpan<float> probabilities, IReadOnlyList<int> labels, int classes,
        int bins = ClassificationMetrics.DefaultEceBins)
    {
        var count = new int[bins]; var confidence = new double[bins]; var correct = new double[bins];
        for (int i = 0; i < labels.Count; i++)
        {
            var row = probabilities.Slice(i * classes, classes);
            int arg = 0;
            for (int c = 1; c < classes; c++) if (row[c] > row[arg]) arg = c;
            int b = Math.Min((int)(row[arg] * bins), bins - 1);
            count[b]++; confidence[b] += row[arg]; if (arg == labels[i]) correct[b]++;
        }
        return Enumerable.Range(0, bins).Select(b => new ReliabilityBin((double)b / bins, (b + 1.0) / bins, count[b],
            count[b] == 0 ? 0 : confidence[b] / count[b], count[b] == 0 ? 0 : correct[b] / count[b])).ToList();
    }

    /// <summary>Expected calibration error from the bins: sum over bins of (count / n) |accuracy - confidence|.</summary>
    public static double Ece(IReadOnlyList<ReliabilityBin> bins)
    {
        double n = bins.Sum(b => b.Count);
        return bins.Sum(b => b.Count / n * Math.Abs(b.Accuracy - b.MeanConfidence));
    }
}
